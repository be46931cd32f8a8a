"""The movie-memory and feedback routes on the real gateway app, PostgreSQL and Redis: each person
reaches only their own memory and recommendations, and bad input gets a clear 4xx."""

import pytest
from fastapi.testclient import TestClient

from popchoice_common.testing.factories import (
    insert_api_key,
    insert_movie,
    insert_pick,
    insert_recommendation,
    insert_user,
    link_genres,
)
from popchoice_gateway.app import create_app
from popchoice_gateway.config import GatewaySettings

MEMORY = "/api/account/movie-memory"
FILMS = [
    ("Heat", 1995, 949, 9000, (80, "Crime")),
    ("Thief", 1981, 11524, 900, (18, "Drama")),
    ("Collateral", 2004, 1538, 7000, (80, "Crime")),
]


async def signed_in_key(pool, email):
    """A person and an API key bound to them (their session will give the same caller)."""
    user = await insert_user(pool, email)
    key = f"key-of-{email}"
    await insert_api_key(pool, key, user_id=user)
    return user, key


@pytest.fixture
async def people(db_pool):
    """Ann owns a recommendation that picked Heat and Thief; Bob is someone else. Three catalog films."""
    for name, year, tmdb_id, votes, genre in FILMS:
        movie = await insert_movie(db_pool, name, year, tmdb_id=tmdb_id, vote_count=votes)
        await link_genres(db_pool, movie, genre)
    ann, ann_key = await signed_in_key(db_pool, "ann@example.test")
    bob, bob_key = await signed_in_key(db_pool, "bob@example.test")
    recommendation = await insert_recommendation(db_pool, user_id=ann, status="completed", stage="complete")
    await insert_pick(db_pool, recommendation, "tmdb:949", name="Heat", year=1995, tmdb_id=949)
    await insert_pick(db_pool, recommendation, "tmdb:11524", name="Thief", year=1981, tmdb_id=11524, position=1)
    return {"ann": ann_key, "bob": bob_key, "recommendation": str(recommendation)}


@pytest.fixture
def app(gateway_env, people):
    with TestClient(create_app(GatewaySettings())) as client:
        yield client


def as_(person, people):
    return {"X-API-Key": people[person]}


def test_a_person_stores_lists_and_forgets_films(app, people):
    """POST is an idempotent upsert (the latest kind wins), the list shows it, DELETE forgets it."""
    ann = as_("ann", people)
    for kind in ("liked", "liked", "watched"):
        stored = app.post(MEMORY, json={"movieKey": "tmdb:949", "kind": kind}, headers=ann)
        assert stored.status_code == 200, stored.text
        assert (stored.json()["kind"], stored.json()["name"]) == (kind, "Heat")
    listed = app.get(MEMORY, params={"mode": "list"}, headers=ann).json()
    assert [(item["movieKey"], item["kind"]) for item in listed["items"]] == [("tmdb:949", "watched")]
    assert app.get(MEMORY, params={"mode": "list", "kind": "liked"}, headers=ann).json()["items"] == []
    assert app.delete(MEMORY, params={"movieKey": "tmdb:949"}, headers=ann).status_code == 204
    assert app.delete(MEMORY, params={"movieKey": "tmdb:949"}, headers=ann).status_code == 404
    assert app.get(MEMORY, headers=ann).json()["items"] == []


def test_the_search_is_typo_tolerant_and_shows_what_is_stored(app, people):
    ann = as_("ann", people)
    app.post(MEMORY, json={"movieKey": "tmdb:11524", "kind": "not_interested"}, headers=ann)
    found = app.get(MEMORY, params={"q": "theif"}, headers=ann).json()
    assert found["mode"] == "search"
    assert [(item["name"], item["kind"], item["genres"]) for item in found["items"]][0] == (
        "Thief",
        "not_interested",
        ["Drama"],
    )


@pytest.mark.parametrize("q", ["'; DROP TABLE movies; --", "%", "_", "\\", "' OR 1=1 --", "heat%' --", '"$1"'])
def test_sql_significant_characters_in_the_search_are_data(app, people, q):
    """Quotes, wildcards and placeholders are searched for as text: no error, nothing dropped."""
    answer = app.get(MEMORY, params={"q": q}, headers=as_("ann", people))
    assert answer.status_code == 200, answer.text
    assert app.get(MEMORY, params={"q": "heat"}, headers=as_("ann", people)).json()["items"][0]["name"] == "Heat"


def test_control_characters_and_blank_searches_are_422(app, people):
    for q in ("a\x00b", "   "):
        answer = app.get(MEMORY, params={"q": q}, headers=as_("ann", people))
        assert answer.status_code == 422 and "q must not" in answer.json()["detail"]
    assert app.get(MEMORY, params={"mode": "search"}, headers=as_("ann", people)).status_code == 422


def test_the_deck_offers_well_known_films_not_yet_rated(app, people):
    ann = as_("ann", people)
    deck = app.get(MEMORY, params={"mode": "candidates", "pageSize": 2}, headers=ann).json()
    # Collateral is better known than Thief, but a second crime film: the deck varies genre first.
    assert [item["name"] for item in deck["items"]] == ["Heat", "Thief"]
    assert deck["hasMore"]
    app.post(MEMORY, json={"movieKey": "tmdb:949", "kind": "not_seen"}, headers=ann)
    deck = app.get(MEMORY, params={"mode": "candidates"}, headers=ann).json()
    assert "Heat" not in [item["name"] for item in deck["items"]]


def test_unknown_films_and_bad_keys_get_clear_answers(app, people):
    ann = as_("ann", people)
    unknown = app.post(MEMORY, json={"movieKey": "tmdb:424242", "kind": "liked"}, headers=ann)
    assert unknown.status_code == 404 and "movieKey" in unknown.json()["detail"]
    for body in ({"movieKey": "imdb:tt1", "kind": "liked"}, {"movieKey": "tmdb:949", "kind": "wrong_mood"}):
        invalid = app.post(MEMORY, json=body, headers=ann)
        assert invalid.status_code == 422
        assert invalid.json()["detail"][0]["loc"][:2] == ["body", "movieKey" if "imdb" in body["movieKey"] else "kind"]


def test_one_person_never_reaches_anothers_memory(app, people):
    """Bob's list, search and deck do not show Ann's entries, and his DELETE of her film finds nothing of hers."""
    app.post(MEMORY, json={"movieKey": "tmdb:949", "kind": "liked"}, headers=as_("ann", people))
    bob = as_("bob", people)
    assert app.get(MEMORY, headers=bob).json()["items"] == []
    assert app.get(MEMORY, params={"q": "heat"}, headers=bob).json()["items"][0]["kind"] is None
    assert "Heat" in [
        item["name"] for item in app.get(MEMORY, params={"mode": "candidates"}, headers=bob).json()["items"]
    ]
    assert app.delete(MEMORY, params={"movieKey": "tmdb:949"}, headers=bob).status_code == 404
    listed = app.get(MEMORY, headers=as_("ann", people)).json()["items"]
    assert [(item["movieKey"], item["kind"]) for item in listed] == [("tmdb:949", "liked")]


def test_memory_routes_need_a_person(app, people, api_key):
    """No credentials: 401; an API key that acts for nobody: 401 too."""
    assert app.get(MEMORY).status_code == 401
    assert (
        app.post(MEMORY, json={"movieKey": "tmdb:949", "kind": "liked"}, headers={"X-API-Key": api_key}).status_code
        == 401
    )


def feedback_path(people):
    return f"/api/recommendations/{people['recommendation']}/feedback"


def test_the_owners_feedback_is_folded_into_their_memory_and_undone(app, people):
    ann = as_("ann", people)
    given = app.post(feedback_path(people), json={"movieKey": "tmdb:949", "kind": "not_for_me"}, headers=ann)
    assert given.status_code == 200, given.text
    assert given.json()["memory"] == "not_interested"
    listed = app.get(MEMORY, headers=ann).json()["items"]
    assert [(item["kind"], item["fromRecommendation"]) for item in listed] == [
        ("not_interested", people["recommendation"])
    ]
    obvious = app.post(feedback_path(people), json={"movieKey": "tmdb:949", "kind": "too_obvious"}, headers=ann)
    assert obvious.json()["memory"] is None
    assert app.get(MEMORY, headers=ann).json()["items"] == []
    assert app.delete(feedback_path(people), params={"movieKey": "tmdb:949"}, headers=ann).status_code == 204
    assert app.delete(feedback_path(people), params={"movieKey": "tmdb:949"}, headers=ann).status_code == 404


def test_nobody_else_gives_feedback_on_a_recommendation(app, people):
    """Bob gets 403 on Ann's recommendation (POST and DELETE); nothing is stored."""
    bob = as_("bob", people)
    answer = app.post(feedback_path(people), json={"movieKey": "tmdb:949", "kind": "useful"}, headers=bob)
    assert answer.status_code == 403 and "Only the person" in answer.json()["detail"]
    assert app.delete(feedback_path(people), params={"movieKey": "tmdb:949"}, headers=bob).status_code == 403
    assert app.get(MEMORY, headers=bob).json()["items"] == []
    assert app.get(MEMORY, headers=as_("ann", people)).json()["items"] == []


def test_feedback_on_a_film_not_picked_or_an_unknown_recommendation_is_404(app, people):
    ann = as_("ann", people)
    not_picked = app.post(feedback_path(people), json={"movieKey": "tmdb:1538", "kind": "useful"}, headers=ann)
    assert not_picked.status_code == 404 and "not one of" in not_picked.json()["detail"]
    unknown = app.post(
        "/api/recommendations/00000000-0000-0000-0000-000000000000/feedback",
        json={"movieKey": "tmdb:949", "kind": "useful"},
        headers=ann,
    )
    assert unknown.status_code == 404 and unknown.json()["detail"] == "No such recommendation."
    bad_kind = app.post(feedback_path(people), json={"movieKey": "tmdb:949", "kind": "meh"}, headers=ann)
    assert bad_kind.status_code == 422 and bad_kind.json()["detail"][0]["loc"] == ["body", "kind"]


def test_every_memory_and_feedback_route_is_in_the_openapi_document(app):
    paths = app.get("/openapi.json").json()["paths"]
    assert set(paths[MEMORY]) == {"get", "post", "delete"}
    feedback = paths["/api/recommendations/{id_or_slug}/feedback"]
    assert set(feedback) == {"post", "delete"}
    assert {"401", "403", "404", "422"} <= set(feedback["post"]["responses"])
    assert "not_for_me | not_interested" in feedback["post"]["description"]
