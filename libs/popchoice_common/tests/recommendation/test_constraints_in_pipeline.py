"""The pipeline honours what the quiz states: exclusions inside the search, the era and moods while
enough films meet them, the favourite never recommended back, and a why per pick."""

import pytest

from popchoice_common.catalog.identity import movie_key
from popchoice_common.catalog.movie_text import movie_embedding_text
from popchoice_common.quiz import QuizPerson
from popchoice_common.recommendation import repository
from popchoice_common.recommendation.pipeline import RecommendationInput, RecommendationPipeline
from popchoice_common.settings import PopChoiceSettings
from popchoice_common.testing.factories import (
    insert_interaction,
    insert_movie,
    insert_pick,
    insert_recommendation,
    insert_user,
    link_genres,
)

HORROR, COMEDY, FAMILY, DRAMA = (27, "Horror"), (35, "Comedy"), (10751, "Family"), (18, "Drama")
# Zombie films share the quiz's words (cozy, rainy, sunday), so by text alone they would come first.
CATALOG = [
    ("Rainy Sunday of the Dead", 2010, "PG-13", "Cozy rainy sunday turns into zombies.", [HORROR, COMEDY]),
    ("Zombie Sunday", 2012, "R", "A rainy sunday, a cozy cabin and zombies.", [HORROR]),
    ("Night of the Cozy Dead", 2015, "R", "Rainy, cozy and full of zombies on a sunday.", [HORROR, DRAMA]),
    ("Paddington 2", 2017, "PG", "A bear in London on a rainy day, funny and kind.", [COMEDY, FAMILY]),
    ("Sunday Pancakes", 2009, "PG", "A funny family cooks pancakes on a sunday.", [COMEDY, FAMILY]),
    ("The Umbrella Shop", 2014, "PG", "A funny shop of umbrellas on a rainy street.", [COMEDY]),
    ("Cozy Cats", 2019, "G", "Cats, blankets and a funny rainy afternoon.", [COMEDY, FAMILY]),
    ("Rain Dance", 2005, "PG-13", "A funny dance school on rainy days.", [COMEDY]),
    ("Kettle On", 2021, "PG", "Tea, biscuits and a funny Sunday visit.", [COMEDY]),
    ("Puddle Jumpers", 2011, "PG", "Two funny kids jump puddles all Sunday.", [COMEDY, FAMILY]),
    ("Old Laughs", 1955, "Not Rated", "A funny old comedy for a rainy Sunday.", [COMEDY]),
]


@pytest.fixture
async def catalog(db_pool, hash_embedder):
    vectors = await hash_embedder.embed(
        [
            movie_embedding_text(
                name=name, year=year, age_rating=rating, duration=95, score_rating=None, description=text
            )
            for name, year, rating, text, _ in CATALOG
        ]
    )
    for (name, year, rating, text, genres), vector in zip(CATALOG, vectors, strict=True):
        movie_id = await insert_movie(
            db_pool, name, year, embedding=vector, age_rating=rating, description=text, duration=95
        )
        await link_genres(db_pool, movie_id, *genres)


async def picks_of(pool, people):
    pipeline = RecommendationPipeline(
        pool=pool, embedder=_embedder(), settings=PopChoiceSettings(stage_write_delay_ms=0, local_match_threshold=-1.0)
    )
    recommendation_id = await insert_recommendation(pool)
    await pipeline.run(recommendation_id, RecommendationInput.of(people, None, "en-US"))
    return await pool.fetch(
        "SELECT p.name, p.year, p.why, m.genre_ids FROM recommendation_movies p JOIN movies m ON m.id = p.movie_id"
        " WHERE p.recommendation_id = $1 ORDER BY p.position",
        recommendation_id,
    )


def _embedder():
    from popchoice_common.embedders.hashing import HashEmbedder

    return HashEmbedder(384)


async def test_no_horror_please_keeps_every_horror_film_out(db_pool, catalog):
    """The zombie films nearest the quiz text never come back for "no horror please"; the picks fit
    the era ("new") and the mood (Comedy), and each says why."""
    quiz = [
        QuizPerson("Paddington 2", "new", ["Comedy"], "funny", "something cozy for a rainy Sunday, no horror please")
    ]
    picks = await picks_of(db_pool, quiz)
    assert len(picks) == 6
    assert all(HORROR[0] not in pick["genre_ids"] for pick in picks)
    assert all(pick["year"] >= 2000 and COMEDY[0] in pick["genre_ids"] for pick in picks)
    assert "Paddington 2" not in [pick["name"] for pick in picks]  # the favourite is not recommended back
    assert all(pick["why"] and "respects no horror" in pick["why"] for pick in picks)


async def test_what_gives_way_is_named_and_exclusions_never_give_way(db_pool, catalog):
    """With too few films for "classic" comedies for children, the era gives way (said in the why) but
    neither the age cap nor the horror ban does: fewer picks rather than a broken exclusion."""
    quiz = [QuizPerson("Old Laughs", "classic", ["Comedy"], "funny", "for my kids")]
    picks = await picks_of(db_pool, quiz)
    assert picks and all(HORROR[0] not in pick["genre_ids"] for pick in picks)
    names = [pick["name"] for pick in picks]
    assert "Rain Dance" not in names and "Old Laughs" not in names  # PG-13, and the favourite itself
    assert any("broadened" in pick["why"] for pick in picks)


async def test_user_memory_keeps_recent_picks_and_liked_films_apart(db_conn):
    """Recently recommended films are their own set (they may give way); liked catalog films come back
    as anchor ids, found by TMDB id or by title and year."""

    user = await insert_user(db_conn)
    by_title = await insert_movie(db_conn, "Paddington 2", 2017)
    by_tmdb = await insert_movie(db_conn, "Up", 2009, tmdb_id=14160)
    await insert_interaction(
        db_conn, user, movie_key(title="Paddington 2", year=2017), "liked", movie_name="Paddington 2", movie_year=2017
    )
    await insert_interaction(db_conn, user, "tmdb:14160", "liked", movie_name="Up", tmdb_id=14160)
    await insert_interaction(db_conn, user, "tmdb:1", "watched", movie_name="Seen")
    recommendation = await insert_recommendation(db_conn, user_id=user)
    await insert_pick(db_conn, recommendation, "tmdb:2", name="Shown lately")
    memory = await repository.user_memory(db_conn, user, recent_days=30)
    assert memory.excluded_keys == {"tmdb:1"}
    assert memory.recent_keys == {"tmdb:2"}
    assert set(memory.liked_movie_ids) == {by_title, by_tmdb}


async def test_recently_recommended_films_give_way_before_any_constraint(db_pool, catalog):
    """When leaving out the films recommended lately leaves too few that meet the quiz, those films come
    back before the era or the moods give way."""

    user = await insert_user(db_pool)
    earlier = await insert_recommendation(db_pool, user_id=user)
    qualifying = ["Sunday Pancakes", "The Umbrella Shop", "Cozy Cats", "Rain Dance", "Kettle On", "Puddle Jumpers"]
    years = {name: year for name, year, *_ in CATALOG}
    for position, name in enumerate(qualifying[:2]):
        await insert_pick(db_pool, earlier, movie_key(title=name, year=years[name]), position=position, name=name)
    quiz = [QuizPerson("Paddington 2", "new", ["Comedy"], "funny", "no horror please")]
    pipeline = RecommendationPipeline(
        pool=db_pool,
        embedder=_embedder(),
        settings=PopChoiceSettings(stage_write_delay_ms=0, local_match_threshold=-1.0),
    )
    recommendation_id = await insert_recommendation(db_pool, user_id=user)
    await pipeline.run(recommendation_id, RecommendationInput.of(quiz, user, "en-US"))
    picks = await db_pool.fetch(
        "SELECT name, why FROM recommendation_movies WHERE recommendation_id = $1", recommendation_id
    )
    # Six qualify only with the two recent ones: they come back, and nothing was broadened.
    assert sorted(pick["name"] for pick in picks) == sorted(qualifying)
    assert not any("broadened" in pick["why"] for pick in picks)
