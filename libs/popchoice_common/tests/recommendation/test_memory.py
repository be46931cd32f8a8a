"""The memory's pure parts: the feedback mapping, the popularity preference and its term in the score,
the weak ("close") anchor, and the trainer's varied deck."""

from dataclasses import replace

from popchoice_common.recommendation.memory import (
    FEEDBACK_MEMORY,
    DeckFilm,
    popularity,
    popularity_lean,
    varied_deck,
)
from popchoice_common.recommendation.pipeline import RecommendationPipeline
from popchoice_common.recommendation.ranking import Candidate, candidate_of, film_score
from popchoice_common.recommendation.records import CandidateRow, Favorite, UserMemory


def film(name, *, votes=None, anchor=None, weak=False, similarity=0.3):
    return Candidate(
        name, 2000, similarity, False, "A film.", vote_count=votes, anchor_similarity=anchor, anchor_weak=weak
    )


def score(candidate, lean=0.0):
    return film_score(candidate, None, favorite_genres=frozenset(), ceiling=0.6, today_year=2026, popularity_lean=lean)


def test_the_feedback_mapping_is_the_issues():
    """Four kinds write the memory; too_obvious, too_obscure and close write nothing there."""
    assert FEEDBACK_MEMORY == {
        "useful": "liked",
        "already_watched": "watched",
        "not_for_me": "not_interested",
        "wrong_mood": "wrong_mood",
        "too_obvious": None,
        "too_obscure": None,
        "close": None,
    }


def test_the_popularity_lean_moves_with_diminishing_steps_and_cancels_out():
    """No answer: 0; too_obvious leans below 0, too_obscure above; more answers move it less each; a
    contradicting answer brings it back."""
    assert popularity_lean(0, 0) == 0
    assert popularity_lean(1, 0) == -1 / 3
    assert popularity_lean(0, 1) == 1 / 3
    steps = [popularity_lean(count, 0) - popularity_lean(count + 1, 0) for count in range(3)]
    assert steps[0] > steps[1] > steps[2] > 0
    assert popularity_lean(2, 2) == 0
    assert -1 < popularity_lean(50, 0) < 0


def test_popularity_is_the_log_of_the_votes_on_a_unit_scale():
    assert popularity(None) == 0.5
    assert popularity(0) == 0
    assert popularity(20_000) == 1 and popularity(2_000_000) == 1
    assert 0 < popularity(100) < popularity(5_000) < 1


def test_the_popularity_preference_reorders_famous_and_obscure_films():
    """Without a preference the vote count does not matter; leaning obscure puts the little-voted film
    first, leaning popular the well-voted one."""
    famous, obscure = film("Famous", votes=30_000), film("Obscure", votes=40)
    assert score(famous) == score(obscure)
    assert score(obscure, -1 / 3) > score(famous, -1 / 3)
    assert score(famous, 1 / 3) > score(obscure, 1 / 3)


def test_a_close_film_is_a_weaker_anchor_than_a_liked_one():
    """A film very near an anchor gains less when the anchor is only a film found close, but still more
    than without any anchor."""
    near_liked = film("Near", anchor=0.6)
    near_close = film("Near", anchor=0.6, weak=True)
    no_anchor = film("Near")
    assert score(near_liked) > score(near_close) > score(no_anchor)


def test_the_deck_varies_genre_and_era_before_fame():
    """Among well-known films, the deck takes the next best-known film of a genre and decade it has not
    shown yet, so three 1990s dramas do not fill it."""
    films = [
        DeckFilm("tmdb:1", "Drama 90s A", 1994, None, ("Drama",), 30_000),
        DeckFilm("tmdb:2", "Drama 90s B", 1995, None, ("Drama",), 29_000),
        DeckFilm("tmdb:3", "Drama 90s C", 1996, None, ("Drama",), 28_000),
        DeckFilm("tmdb:4", "Comedy 2010s", 2012, None, ("Comedy",), 10_000),
        DeckFilm("tmdb:5", "Horror 70s", 1978, None, ("Horror",), 5_000),
    ]
    deck = varied_deck(films, 3)
    assert [entry.name for entry in deck] == ["Drama 90s A", "Comedy 2010s", "Horror 70s"]
    assert len(varied_deck(films, 10)) == 5


def test_a_film_nearest_a_close_film_is_marked_as_near_a_weak_anchor():
    """The pipeline's anchors: a film found close is weak unless it is also liked or a favourite."""
    memory = UserMemory(frozenset(), frozenset(), liked_movie_ids=(1,), close_movie_ids=(1, 2))
    favorite = Favorite("Heat", frozenset(), movie_id=3)
    assert RecommendationPipeline._anchors([favorite], memory) == {
        3: "Heat",
        1: "a film you liked",
        2: "a film you found close",
    }
    weak = RecommendationPipeline._weak_anchors([favorite], memory)
    assert weak == {2}
    row = CandidateRow(9, "Thief", 1981, None, "", 120, None, 10, 0.3, 0.5, 2, None, None, None, ())
    assert candidate_of(row, {2: "a film you found close"}, weak).anchor_weak
    assert not candidate_of(replace(row, anchor_id=1), {1: "a film you liked"}, weak).anchor_weak
