from decimal import Decimal

from popchoice_common.catalog.movie_text import movie_content, movie_embedding_text


def test_embedding_text_has_every_known_field():
    """Name, year, rating, runtime, score, genres and description all reach the embedder."""
    text = movie_embedding_text(
        name="Casablanca",
        year=1942,
        age_rating="PG",
        duration=102,
        score_rating=Decimal("8.5"),
        description="A café owner in wartime Morocco.",
        genres=["Drama", "Romance"],
    )
    assert text == (
        "Casablanca (1942)\nRated PG. Runtime: 102 min. Rating: 8.5/10.\nGenres: Drama, Romance.\n"
        "A café owner in wartime Morocco."
    )


def test_embedding_text_leaves_unknown_fields_out():
    """Missing year, rating, runtime and genres are omitted rather than written as zero."""
    text = movie_embedding_text(
        name="Untitled", year=None, age_rating=None, duration=0, score_rating=None, description="Plot."
    )
    assert text == "Untitled\nPlot."


def test_content_matches_match_movies_format():
    """The Python content line has the same shape as the one match_movies builds."""
    assert (
        movie_content(name="Jaws", year=1975, age_rating="PG", duration=124, score_rating=8.1, description="A shark.")
        == "Jaws (1975) | PG | Duration: 124 min | Rating: 8.1/10\nA shark."
    )
