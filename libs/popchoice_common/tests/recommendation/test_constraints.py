"""The quiz read as constraints: table tests, including phrasings that must not become constraints."""

import pytest

from popchoice_common.recommendation.constraints import (
    CLASSIC_BEFORE_YEAR,
    NEW_FROM_YEAR,
    Exclusions,
    YearRange,
    age_rating_allowed,
    era_range,
    favorite_film,
    film_allowed,
    film_lightness,
    mood_genres,
    person_constraints,
    quiz_constraints,
    stated_exclusions,
    tone_fit,
    tone_lightness,
)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("new", YearRange(NEW_FROM_YEAR, None, prefer_recent=True)),
        ("New", YearRange(NEW_FROM_YEAR, None, prefer_recent=True)),
        ("something recent", YearRange(NEW_FROM_YEAR, None, prefer_recent=True)),
        ("modern stuff", YearRange(NEW_FROM_YEAR, None, prefer_recent=True)),
        ("classic", YearRange(None, CLASSIC_BEFORE_YEAR - 1)),
        ("old classics", YearRange(None, CLASSIC_BEFORE_YEAR - 1)),
        ("90s", YearRange(1990, 1999)),
        ("1990s", YearRange(1990, 1999)),
        ("'90s", YearRange(1990, 1999)),
        ("nineties", YearRange(1990, 1999)),
        ("the eighties", YearRange(1980, 1989)),
        ("2010s", YearRange(2010, 2019)),
        ("70s and 80s", YearRange(1970, 1989)),
        ("before 1970", YearRange(None, 1969)),
        ("after 2015", YearRange(2016, None, prefer_recent=True)),
        ("anything", None),
        ("no preference", None),
        ("doesn't matter", None),
        ("new or classic", None),
        ("mix of both", None),
        ("purple", None),
        ("", None),
    ],
)
def test_era_answers_become_year_ranges(answer, expected):
    """Era words map to the product's year ranges; unknown words and "anything" are no constraint."""
    assert era_range(answer) == expected


def test_year_ranges_contain_their_ends_and_reject_unknown_years():
    """A range includes both ends; a film without a year fits no range."""
    nineties = YearRange(1990, 1999)
    assert nineties.contains(1990) and nineties.contains(1999)
    assert not nineties.contains(1989) and not nineties.contains(2000)
    assert not nineties.contains(None)


@pytest.mark.parametrize(
    ("moods", "expected"),
    [
        (["Comedy"], {"Comedy"}),
        (["sci-fi"], {"Science Fiction"}),
        (["scifi"], {"Science Fiction"}),
        (["Science Fiction"], {"Science Fiction"}),
        (["rom-com"], {"Romance", "Comedy"}),
        (["animated"], {"Animation"}),
        (["Horror", "thriller"], {"Horror", "Thriller"}),
        (["funny"], {"Comedy"}),
        (["western"], {"Western"}),
        (["documentary"], {"Documentary"}),
        (["whatever"], set()),
        (["dark comedy"], {"Comedy"}),
        (["dark"], {"Crime", "Thriller", "Drama"}),
        (["funny and romantic"], {"Comedy", "Romance"}),
    ],
)
def test_moods_map_to_tmdb_genres_with_synonyms(moods, expected):
    """Mood labels and their synonyms name TMDB genres."""
    assert mood_genres(moods) == expected


@pytest.mark.parametrize(
    ("text", "forbidden", "age_cap", "runtime_cap"),
    [
        ("something cozy for a rainy Sunday, no horror please", {"Horror"}, None, None),
        ("nothing scary", {"Horror"}, None, None),
        ("zero jump scares", {"Horror"}, None, None),
        ("anything but horror", {"Horror"}, None, None),
        ("not a big fan of musicals or westerns", {"Music", "Western"}, None, None),
        ("no horror, gore or slashers", {"Horror"}, "PG-13", None),
        ("I don't like sci-fi", {"Science Fiction"}, None, None),
        ("not into anime", {"Animation"}, None, None),
        ("no rom-coms, I want action", {"Romance"}, None, None),
        ("not too violent", {"Horror"}, "PG-13", None),
        ("for my kids", {"Horror"}, "PG", None),
        ("family movie night", {"Horror"}, "PG", None),
        ("watching with my 8 year old son", {"Horror"}, "PG", None),
        ("with my 15 year old", set(), "PG-13", None),
        ("no R-rated stuff", set(), "PG-13", None),
        ("PG or below", set(), "PG", None),
        ("under 2 hours", set(), None, 120),
        ("less than 90 minutes", set(), None, 90),
        ("an hour and a half max", set(), None, 90),
        ("not too long please", set(), None, 120),
        ("I can't sit through anything over 2 hours", set(), None, 120),
        ("nothing over 100 minutes", set(), None, 100),
        ("keep it clean: PG-13 at most", set(), "PG-13", None),
    ],
)
def test_stated_exclusions_become_hard_constraints(text, forbidden, age_cap, runtime_cap):
    """Stated exclusions forbid genres, cap the age rating or cap the runtime."""
    exclusions = stated_exclusions(text)
    assert exclusions.forbidden_genres == forbidden
    assert exclusions.max_age_rating == age_cap
    assert exclusions.max_runtime == runtime_cap


@pytest.mark.parametrize(
    "text",
    [
        "Horror of Dracula",
        "I love horror",
        "scary movies are my thing",
        "nothing too dark",
        "no sad endings",
        "no subtitles",
        "not sure, surprise me",
        "no preference",
        "two hours of pure fun",
        "the kid in me loves cartoons",
        "we love sci-fi, no doubt",
        "I would happily watch anything over 2 hours",
        "I'm not scared of anything",
    ],
)
def test_phrases_that_only_look_like_exclusions_are_no_constraint(text):
    """Text that names a genre without negating it, or negates something else, states no exclusion."""
    assert not stated_exclusions(text)


def test_a_favourite_title_never_states_an_exclusion():
    """ "Horror of Dracula" as a favourite is a film, not "no horror"; the why still counts."""
    person = person_constraints(
        favorite_movie="Nothing Scary Ever Happens",
        new_vs_classic="classic",
        mood_preference=["horror"],
        tone_preference="dark",
    )
    assert not person.exclusions
    assert person.genres == {"Horror"}
    with_why = person_constraints(
        favorite_movie="Horror of Dracula",
        favorite_movie_why="the atmosphere, but no gore please",
        new_vs_classic="classic",
        mood_preference=["mystery"],
        tone_preference="dark",
    )
    assert with_why.exclusions.forbidden_genres == {"Horror"}


def test_a_mood_the_person_also_forbids_is_not_wanted():
    """A genre both asked for and forbidden counts as forbidden."""
    person = person_constraints(
        favorite_movie="Heat",
        new_vs_classic="90s",
        mood_preference=["thriller", "no horror"],
        tone_preference="serious",
    )
    assert person.genres == {"Thriller"}
    assert person.exclusions.forbidden_genres == {"Horror"}


@pytest.mark.parametrize(
    ("answer", "title", "year"),
    [
        ("The Matrix (1999)", "The Matrix", 1999),
        ("Dune 2021", "Dune", 2021),
        ("Heat, 1995", "Heat", 1995),
        ("2001: A Space Odyssey", "2001: A Space Odyssey", None),
        ("Blade Runner 2049", "Blade Runner 2049", None),
        ("  Amélie  ", "Amélie", None),
    ],
)
def test_the_favourite_answer_gives_a_title_and_an_optional_year(answer, title, year):
    """A year in brackets or at the end is the release year; a number that is part of the title is not."""
    favorite = favorite_film(answer)
    assert (favorite.title, favorite.year) == (title, year)


@pytest.mark.parametrize(
    ("tone", "expected"),
    [("lighthearted", 1.0), ("funny", 1.0), ("dark and serious", -1.0), ("exciting", None), ("", None)],
)
def test_tone_answers_become_a_lightness(tone, expected):
    """Light words pull towards 1, dark ones towards -1; a neutral answer is no preference."""
    assert tone_lightness(tone) == expected


def test_tone_fit_prefers_films_of_the_same_lightness():
    """A light tone fits a comedy better than a war film, and the reverse for a dark tone."""
    comedy = film_lightness(frozenset({"Comedy", "Family"}), "A funny, heartwarming tale.")
    war = film_lightness(frozenset({"War", "Drama"}), "A bleak, harrowing and violent story.")
    assert tone_fit(1.0, comedy) > tone_fit(1.0, war)
    assert tone_fit(-1.0, war) > tone_fit(-1.0, comedy)
    assert tone_fit(None, war) == tone_fit(None, comedy) == 1.0


@pytest.mark.parametrize(
    ("rating", "cap", "allowed"),
    [
        ("G", "PG", True),
        ("PG", "PG", True),
        ("PG-13", "PG", False),
        ("R", "PG-13", False),
        ("TV-PG", "PG", True),
        ("Not Rated", "PG", False),
        (None, "PG", False),
        (None, None, True),
        ("R", None, True),
    ],
)
def test_age_caps_admit_only_known_ratings_within_them(rating, cap, allowed):
    """A certification within the cap passes; an unknown one never does."""
    assert age_rating_allowed(rating, cap) is allowed


def test_a_film_is_allowed_only_when_it_breaks_no_exclusion():
    """Forbidden genres, the age cap and the runtime cap are each enforced; a capped runtime must be known."""
    kids = Exclusions(frozenset({"Horror"}), "PG", 120)
    assert film_allowed(kids, ["Animation", "Family"], "G", 90)
    assert not film_allowed(kids, ["Horror", "Comedy"], "PG", 90)
    assert not film_allowed(kids, ["Comedy"], "PG-13", 90)
    assert not film_allowed(kids, ["Comedy"], "PG", 150)
    assert not film_allowed(kids, ["Comedy"], "PG", None)
    assert film_allowed(Exclusions(), ["Horror"], None, None)


def test_a_group_shares_every_exclusion_and_keeps_each_persons_era_and_moods():
    """The union of exclusions is hard for all; a film fits the people whose era and moods it meets."""
    parent = person_constraints(
        favorite_movie="Toy Story",
        new_vs_classic="new",
        mood_preference=["animated"],
        tone_preference="funny",
        favorite_movie_why="something for my kids",
    )
    film_buff = person_constraints(
        favorite_movie="Casablanca",
        new_vs_classic="classic",
        mood_preference=["romance"],
        tone_preference="serious",
        favorite_movie_why="under 2 hours please",
    )
    group = quiz_constraints([parent, film_buff])
    assert group.exclusions.forbidden_genres == {"Horror"}
    assert group.exclusions.max_age_rating == "PG"
    assert group.exclusions.max_runtime == 120
    assert group.fitting_people(2010, ["Animation", "Family"]) == [0]
    assert group.fitting_people(1942, ["Romance", "Drama"]) == [1]
    assert group.fitting_people(1995, ["Action"]) == []
