import datetime as dt
from dataclasses import replace
from decimal import Decimal

import pytest

from popchoice_common.quiz import QuizPerson
from popchoice_common.recommendation.quiz_text import quiz_embedding_text
from popchoice_common.recommendation.ranking import (
    Candidate,
    apply_memory,
    catalog_pitch,
    discover_params,
    match_percent,
    merge_picks,
    quiz_title_keys,
)


def person(favorite="The Matrix", era="new", tone="exciting", moods=("Action",), why=None):
    return QuizPerson(
        favorite_movie=favorite,
        new_vs_classic=era,
        tone_preference=tone,
        mood_preference=list(moods),
        favorite_movie_why=why,
    )


def candidate(name, similarity, *, year=2000, tmdb_id=None, from_tmdb=False, description="A film."):
    return Candidate(name, year, similarity, from_tmdb, description, tmdb_id=tmdb_id)


def test_quiz_text_keeps_every_favourite():
    """Several people's answers become one text with each favourite film kept."""
    text = quiz_embedding_text([person(), person("Amélie", "classic", "whimsical", ("Romance", "Comedy"), "Paris")])
    assert text == (
        "Favorite movie: The Matrix. Era: new. Tone: exciting. Mood: Action\n"
        "Favorite movie: Amélie. Why: Paris. Era: classic. Tone: whimsical. Mood: Romance, Comedy"
    )


def test_discover_params_carry_every_constraint():
    """Moods become OR-joined genres, "new" the years from 2000, exclusions TMDB's without_genres,
    certification and runtime filters, and a serious tone a vote-average order."""
    quiz = quiz_constraints(
        [constraints(era="new", moods=("Action", "Sci-Fi", "Comedy"), tone="dark and serious", why="for my kids")]
    )
    assert discover_params(quiz, dt.date(2026, 11, 25)) == {
        "include_adult": False,
        "vote_count.gte": 100,
        "sort_by": "vote_average.desc",
        "with_genres": "28|35|878",
        "without_genres": "27",
        "primary_release_date.gte": "2000-01-01",
        "certification_country": "US",
        "certification.lte": "PG",
    }
    classic = discover_params(
        quiz_constraints([constraints(era="classic", tone="fun", moods=("Documentary",), why="under 2 hours")]),
        dt.date(2026, 1, 1),
    )
    assert classic["primary_release_date.lte"] == "1979-12-31" and classic["sort_by"] == "popularity.desc"
    assert classic["with_genres"] == "99" and classic["with_runtime.lte"] == 120


def test_a_group_of_different_eras_sets_no_era_filter():
    """TMDB discover takes one date range, so a group whose eras differ searches every year."""
    quiz = quiz_constraints([constraints(era="new"), constraints(era="classic")])
    params = discover_params(quiz, dt.date(2026, 1, 1))
    assert "primary_release_date.gte" not in params and "primary_release_date.lte" not in params


def test_memory_excludes_and_lowers():
    """Watched or rejected films are dropped, quiz favourites too; wrong-mood films lose 0.08."""
    picks = [
        candidate("Heat", 0.7, tmdb_id=949),
        candidate("Alien", 0.6),
        candidate("The Matrix", 0.9),
        candidate("Up", 0.5),
    ]
    kept = apply_memory(
        picks,
        excluded_keys={"tmdb:949"},
        wrong_mood_keys={"title:up:2000"},
        excluded_titles=quiz_title_keys([person()]),
    )
    assert [(pick.name, round(pick.similarity, 2)) for pick in kept] == [("Alien", 0.6), ("Up", 0.42)]


def test_merge_dedupes_across_sources_and_caps():
    """The same film from the catalog and TMDB appears once; the best six come first."""
    local = [candidate("Heat", 0.7, year=1995), candidate("Alien", 0.5, year=1979)]
    tmdb = [candidate("Heat", 0.8, year=1995, tmdb_id=949, from_tmdb=True)] + [
        candidate(f"T{i}", 0.4 - i / 100, tmdb_id=i, from_tmdb=True) for i in range(10)
    ]
    merged = merge_picks([local, tmdb], 6)
    assert [pick.name for pick in merged] == ["Heat", "Alien", "T0", "T1", "T2", "T3"]
    assert not merged[0].from_tmdb


def test_match_percent_is_capped():
    """match = similarity / ceiling × 100, at most 100."""
    assert match_percent(0.31, 0.62) == 50 and match_percent(0.9, 0.62) == 100 and match_percent(None, 0.6) == 0


def test_catalog_pitch_is_short_and_whole_sentences():
    """Without a chat model the pitch is the description's first sentences, bounded."""
    long = candidate("X", 0.5, description="First sentence here. " + "Second one is long. " * 30)
    pitch = catalog_pitch(long)
    assert pitch.startswith("First sentence here.") and len(pitch) <= 220
    assert catalog_pitch(candidate("Y", 0.5, description="")) == "Y (2000) fits what you are in the mood for."


# Scoring, diversity and the group's share -----------------------------------------------------

from popchoice_common.recommendation.constraints import person_constraints, quiz_constraints  # noqa: E402
from popchoice_common.recommendation.ranking import (  # noqa: E402
    explain,
    film_score,
    franchise_key,
    quiz_score,
    quiz_scores,
    rating_term,
    select_picks,
)


def film(name, similarity=0.5, *, year=2005, genres=(), anchor=None, score=None, votes=None, description="A film."):
    return Candidate(
        name,
        year,
        similarity,
        False,
        description,
        genres=frozenset(genres),
        anchor_similarity=anchor,
        anchor_name="The Matrix" if anchor is not None else None,
        score_rating=score,
        vote_count=votes,
    )


def constraints(era="new", moods=("Action",), tone="exciting", why=None, favorite="The Matrix"):
    return person_constraints(
        favorite_movie=favorite,
        new_vs_classic=era,
        mood_preference=list(moods),
        tone_preference=tone,
        favorite_movie_why=why,
    )


@pytest.mark.parametrize(
    ("title", "key"),
    [
        ("Toy Story 3", "toy story"),
        ("Toy Story", "toy story"),
        ("The Godfather Part II", "godfather"),
        ("Star Wars: The Empire Strikes Back", "star wars"),
        ("Se7en", "se7en"),
        ("2001: A Space Odyssey", "2001"),
    ],
)
def test_franchise_key_drops_subtitles_and_sequel_numbers(title, key):
    """Sequels and subtitled entries of a series share one key."""
    assert franchise_key(title) == key


def test_a_film_with_the_wanted_genres_outscores_one_without():
    """At equal similarity, the genres the person asked for and the favourite's genres raise the score."""
    person = constraints(moods=("Comedy",), tone="funny")
    comedy = film("Comedy", genres=("Comedy", "Family"), description="A funny, sweet tale.")
    war = film("War", genres=("War", "Drama"), description="A bleak, violent story.")
    favorite = frozenset({"Comedy", "Family"})
    scores = [
        film_score(item, person, favorite_genres=favorite, ceiling=0.8, today_year=2026) for item in (comedy, war)
    ]
    assert scores[0] > scores[1]


def test_closeness_to_the_favourite_raises_the_score():
    """The anchor similarity (the favourite's own embedding) counts beside the quiz text's."""
    person = constraints()
    near = film("Near", anchor=0.7, genres=("Action",))
    far = film("Far", anchor=0.1, genres=("Action",))
    assert film_score(near, person, favorite_genres=frozenset(), ceiling=0.8, today_year=2026) > film_score(
        far, person, favorite_genres=frozenset(), ceiling=0.8, today_year=2026
    )


def test_new_prefers_recent_years():
    """Within "new", a recent film scores above an older one, all else equal."""
    person = constraints(era="new")
    recent, older = film("Recent", year=2024, genres=("Action",)), film("Older", year=2001, genres=("Action",))
    assert film_score(recent, person, favorite_genres=frozenset(), ceiling=0.8, today_year=2026) > film_score(
        older, person, favorite_genres=frozenset(), ceiling=0.8, today_year=2026
    )


def test_few_votes_pull_a_rating_towards_the_prior():
    """A 9.5 from three voters counts for less than a 9.0 from thousands."""
    assert rating_term(9.5, 3) < rating_term(9.0, 5000)
    assert rating_term(None, None) == pytest.approx(0.65)


def test_diversity_keeps_six_picks_from_being_one_franchise():
    """A series with the best scores still leaves room for other films."""
    quiz = quiz_constraints([constraints()])
    series = [
        (film(f"Toy Story {n}" if n > 1 else "Toy Story", genres=("Animation",)), 0.9 - n / 100) for n in range(1, 6)
    ]
    others = [
        (film(name, genres=genres), 0.6)
        for name, genres in [("Heat", ("Crime",)), ("Up", ("Animation",)), ("Jaws", ("Horror",)), ("Ran", ("War",))]
    ]
    picks = select_picks(series + others, quiz, 6)
    assert len(picks) == 6
    assert sum(franchise_key(pick.name) == "toy story" for pick in picks) <= 2
    assert picks[0].name == "Toy Story"  # the best film still leads


def test_each_person_in_a_group_gets_two_picks_that_fit_them():
    """In a group of three, each person's era and moods are met by at least two picks."""
    quiz = quiz_constraints(
        [
            constraints(era="new", moods=("Action",)),
            constraints(era="classic", moods=("Romance",)),
            constraints(era="90s", moods=("Comedy",)),
        ]
    )
    action = [(film(f"Action {n}", year=2010 + n, genres=("Action",)), 0.9 - n / 100) for n in range(8)]
    romance = [(film(f"Romance {n}", year=1950 + n, genres=("Romance",)), 0.5 - n / 100) for n in range(3)]
    comedy = [(film(f"Comedy {n}", year=1991 + n, genres=("Comedy",)), 0.4 - n / 100) for n in range(3)]
    picks = select_picks(action + romance + comedy, quiz, 6)
    for index in range(3):
        assert sum(index in quiz.fitting_people(pick.year, pick.genres) for pick in picks) >= 2, index


def test_a_group_film_is_scored_for_the_person_it_fits_best():
    """A film scores for a group as it does for the person it suits most."""
    action_fan, romance_fan = constraints(moods=("Action",)), constraints(moods=("Romance",))
    quiz = quiz_constraints([action_fan, romance_fan])
    romance = film("Love", genres=("Romance",))
    group = quiz_score(romance, quiz, favorite_genres=[frozenset(), frozenset()], ceiling=0.8, today_year=2026)
    alone = film_score(romance, romance_fan, favorite_genres=frozenset(), ceiling=0.8, today_year=2026)
    assert group == pytest.approx(alone)


def test_scoring_a_list_gives_each_film_its_own_score_and_the_group_its_best():
    """quiz_scores scores every film as if alone (nothing carries over between films), each the best of the group."""
    action_fan = constraints(moods=("Action",), tone="exciting")
    romance_fan = constraints("classic", ("Romance",), "sweet")
    quiz = quiz_constraints([action_fan, romance_fan])
    favorites = [frozenset({"Action"}), frozenset({"Romance", "Drama"})]
    films = [
        film("Near", 0.7, genres=("Action",), anchor=0.6, score=Decimal("8.1"), votes=900, description="A fast chase."),
        film("Far", 0.2, year=None, genres=(), description="A quiet, sad story."),
        film("Old love", 0.5, year=1950, genres=("Romance", "Drama"), anchor=0.3, votes=3),
        replace(film("Close", 0.4, genres=("Action", "Comedy"), anchor=0.9), anchor_weak=True),
    ]
    scores = quiz_scores(films, quiz, favorite_genres=favorites, ceiling=0.8, today_year=2026, popularity_lean=0.4)
    for item, score in zip(films, scores, strict=True):
        alone = quiz_score(item, quiz, favorite_genres=favorites, ceiling=0.8, today_year=2026, popularity_lean=0.4)
        each = [
            film_score(item, person, favorite_genres=liked, ceiling=0.8, today_year=2026, popularity_lean=0.4)
            for person, liked in zip((action_fan, romance_fan), favorites, strict=True)
        ]
        assert score == alone == max(each)
    assert len(set(scores)) == len(films)
    assert quiz_scores([], quiz, favorite_genres=favorites, ceiling=0.8, today_year=2026) == []


def test_the_why_names_what_a_pick_meets_and_what_gave_way():
    """A pick's reason names its matching genres, the favourite it is close to and a relaxed constraint."""
    quiz = quiz_constraints([constraints(why="no horror please")])
    pick = film("Speed", year=2010, genres=("Action", "Thriller"), anchor=0.7)
    why = explain(pick, quiz, relaxed=None, ceiling=0.8)
    assert "Action" in why and "from 2010" in why and "close to The Matrix" in why and "no horror" in why
    assert "broadened: era" in explain(pick, quiz, relaxed="era", ceiling=0.8)
