import uuid
from decimal import Decimal

from popchoice_common.recommendation.records import RecommendationRow, StoredPick
from popchoice_gateway.pages import content_security_policy, result_view

IMAGES = "https://image.tmdb.org/t/p"


def row(**changes):
    values = {
        "id": uuid.uuid4(),
        "slug": "abc",
        "status": "completed",
        "stage": "complete",
        "locale": "en-US",
        "error": None,
        "used_broader_search": False,
    }
    values.update(changes)
    fields = RecommendationRow.__struct_fields__
    defaults: dict[str, object] = {field: None for field in fields if field not in values}
    defaults.update({"quiz_data": "[]", "db_movie_count": 0, "user_id": None, "more_picks_status": None})
    return RecommendationRow(**{**defaults, **values})


def pick(position, batch=0, **changes):
    values = {
        "batch": batch,
        "position": position,
        "is_main_recommendation": batch == 0 and position == 0,
        "movie_key": f"film:{batch}:{position}",
        "movie_id": position + 1,
        "tmdb_id": None,
        "name": f"Film {batch}-{position}",
        "year": 1995,
        "similarity": 0.5,
        "from_tmdb": False,
        "ai_description": "A pitch.",
        "poster_url": None,
        "localized_name": None,
        "score_rating": Decimal("7.8"),
        "duration": 120,
        "age_rating": "R",
        "why": "Crime; from 1995.",
    }
    values.update(changes)
    return StoredPick(**values)


def test_the_main_pick_leads_and_later_batches_are_grouped():
    """The main pick is apart, the first batch's five others follow, and more picks come grouped by batch."""
    picks = [pick(index) for index in range(6)] + [pick(index, batch=1) for index in range(6)]
    view = result_view(row(), picks, ceiling=0.5, image_base_url=IMAGES)
    assert view.main is not None and view.main.title == "Film 0-0"
    assert [other.title for other in view.others] == [f"Film 0-{index}" for index in range(1, 6)]
    assert [(batch, len(group)) for batch, group in view.batches] == [(1, 6)]
    assert (view.main.match, view.main.rating, view.main.runtime) == (100, "7.8", 120)


def test_what_gave_way_is_read_from_the_picks_why_and_cut_from_it():
    """A why ending "(broadened: era and moods)" marks the result broadened, names what gave way once,
    and the pick shows its why without the marker."""
    picks = [
        pick(0),
        pick(1, why="Drama (broadened: moods)."),
        pick(2, why="Close to what you described (broadened: era and moods)."),
    ]
    view = result_view(row(), picks, ceiling=0.5, image_base_url=IMAGES)
    assert view.broadened and view.gave_way == ["era and moods"]
    assert view.others[0].why == "Drama."
    unbroadened = result_view(row(), [pick(0)], ceiling=0.5, image_base_url=IMAGES)
    assert not unbroadened.broadened and unbroadened.gave_way == []
    assert result_view(row(used_broader_search=True), [pick(0)], ceiling=0.5, image_base_url=IMAGES).broadened


def test_the_why_is_not_repeated_at_the_end_of_a_catalog_pitch():
    """A catalog pitch ends with the why (ranking.catalog_pitch); the page shows the why once, on its own."""
    why = "Crime; from 1995 (broadened: moods)."
    view = result_view(
        row(), [pick(0, why=why, ai_description=f"A heist film. {why}")], ceiling=0.5, image_base_url=IMAGES
    )
    assert view.main is not None and view.main.pitch == "A heist film." and view.main.why == "Crime; from 1995."


def test_a_poster_from_elsewhere_gets_the_drawn_placeholder():
    """Only posters on the configured image host are shown (the CSP allows no other); others get a placeholder hue."""
    picks = [pick(0, poster_url=f"{IMAGES}/w500/a.jpg"), pick(1, poster_url="https://elsewhere.example/b.jpg")]
    view = result_view(row(), picks, ceiling=0.5, image_base_url=IMAGES)
    assert view.main is not None and view.main.poster_url == f"{IMAGES}/w500/a.jpg"
    assert view.others[0].poster_url is None and 0 <= view.others[0].hue < 8


def test_the_csp_allows_the_image_host_and_no_inline_script():
    """script-src is 'self' only; img-src adds the image host's origin, not its path."""
    csp = content_security_policy(IMAGES)
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["img-src"] == "'self' data: https://image.tmdb.org"
    assert directives["frame-ancestors"] == "'none'"
