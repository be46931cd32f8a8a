import datetime as dt

from popchoice_common.quiz import QuizAnswers, quiz_embedding_text
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
    return QuizAnswers(favorite, era, tone, tuple(moods), why)


def candidate(name, similarity, *, year=2000, tmdb_id=None, from_tmdb=False, description="A film."):
    return Candidate(name, year, similarity, from_tmdb, description, tmdb_id=tmdb_id)


def test_quiz_text_keeps_every_favourite():
    """Several people's answers become one text with each favourite film kept."""
    text = quiz_embedding_text([person(), person("Amélie", "classic", "whimsical", ("Romance", "Comedy"), "Paris")])
    assert text == (
        "Favorite movie: The Matrix. Era: new. Tone: exciting. Mood: Action\n"
        "Favorite movie: Amélie. Why: Paris. Era: classic. Tone: whimsical. Mood: Romance, Comedy"
    )


def test_discover_params_map_moods_era_and_tone():
    """Moods become OR-joined genres, 'new' a five-year window, serious tones a vote-average order."""
    params = discover_params(
        [person(moods=("Action", "Sci-Fi", "Comedy"), tone="dark and serious")], dt.date(2026, 11, 25)
    )
    assert params == {
        "include_adult": False,
        "vote_count.gte": 100,
        "sort_by": "vote_average.desc",
        "with_genres": "28|35|878",
        "primary_release_date.gte": "2021-11-25",
    }
    classic = discover_params([person(era="classic", tone="fun", moods=("Documentary",))], dt.date(2026, 1, 1))
    assert classic["primary_release_date.lte"] == "2000-12-31" and classic["sort_by"] == "popularity.desc"
    assert classic["with_genres"] == "99"


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
