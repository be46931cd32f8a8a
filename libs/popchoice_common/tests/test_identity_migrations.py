"""Migrations 013 and 014 on a database that already holds data: the title normalisation is recomputed
and the duplicates it reveals merged, with every reference and stored movie key following the film;
existing rows are labelled with where they came from."""

import shutil
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from popchoice_common.db import migrations as migrations_module
from popchoice_common.db.migrations import definitions_dir_for, migrate

USER = uuid.UUID(int=1)
OTHER_USER = uuid.UUID(int=2)
RECOMMENDATION = uuid.UUID(int=10)
LONG_AGO = datetime(2025, 1, 1, tzinfo=UTC)


class RecordingLog:
    """Stands in for the runner's logger and keeps what it was told."""

    def __init__(self):
        self.events = []

    def info(self, event, **fields):
        self.events.append((event, fields))

    def reports(self, filename):
        return [
            fields["message"]
            for event, fields in self.events
            if event == "migration_report" and fields["filename"] == filename
        ]


@pytest.fixture
def database_before(database_factory, migrations_dir, tmp_path):
    """Makes a database migrated up to (and including) a given file, as a deployment of that time was."""

    async def make(last: str) -> str:
        init = tmp_path / "init"
        init.mkdir()
        for path in sorted(migrations_dir.glob("*.sql")):
            if path.name <= last:
                shutil.copy(path, init / path.name)
        shutil.copytree(definitions_dir_for(migrations_dir), definitions_dir_for(init))
        url = database_factory.create(migrated=False)
        await migrate(url, init, model_id=None, dimensions=None)
        return url

    return make


async def insert_movie(connection, movie_id, name, old_normalized_name, year, **columns):
    """A row as the code before 013 wrote it (normalized_name computed by the old Python function)."""
    values = {"id": movie_id, "name": name, "normalized_name": old_normalized_name, "year": year, **columns}
    placeholders = ", ".join(f"${index}" for index in range(1, len(values) + 1))
    await connection.execute(f"INSERT INTO movies ({', '.join(values)}) VALUES ({placeholders})", *values.values())


async def remember(connection, user_id, key, kind, updated_at, **columns):
    values = {"user_id": user_id, "movie_key": key, "movie_name": key, "kind": kind, "updated_at": updated_at}
    values |= columns
    placeholders = ", ".join(f"${index}" for index in range(1, len(values) + 1))
    return await connection.fetchval(
        f"INSERT INTO user_movie_interactions ({', '.join(values)}) VALUES ({placeholders}) RETURNING id",
        *values.values(),
    )


async def plant_catalog_before_013(connection):
    now = datetime.now(UTC)
    await insert_movie(connection, 1, "WALL-E", "wall-e", 2008, description="Our own words.")
    await insert_movie(connection, 2, "WALL·E", "wall·e", 2008, tmdb_id=10681, tmdb_match_source="tmdb_discovery")
    await insert_movie(connection, 3, "Schindler's List", "schindler's list", 1993)
    await insert_movie(connection, 4, "Schindler’s List", "schindler’s list", 1993)
    await insert_movie(connection, 5, "Dune", "dune", 1984)
    await insert_movie(connection, 6, "Dune", "dune", 2021, tmdb_id=438631, tmdb_match_source="tmdb_discovery")
    await insert_movie(connection, 7, "Toy Story", "toy story", 1995, tmdb_id=862, tmdb_match_source="tmdb_discovery")
    await insert_movie(connection, 8, "Toy Story 2", "toy story 2", 1999)
    await insert_movie(connection, 9, "Heat", "heat", 1995, tmdb_id=949, tmdb_match_source="backfill_auto")
    await insert_movie(connection, 10, "Crash", "crash", 2004, tmdb_id=1640, tmdb_match_source="tmdb_discovery")
    await insert_movie(connection, 11, "Crash", "crash", 2004, tmdb_id=1641, tmdb_match_source="tmdb_discovery")
    await insert_movie(connection, 12, "Crash.", "crash.", 2004)
    await connection.execute("SELECT setval('movies_id_seq', 100)")
    await connection.execute("INSERT INTO catalog_genres (tmdb_id, name) VALUES (18, 'Drama'), (16, 'Animation')")
    await connection.execute("INSERT INTO movie_genres (movie_id, genre_id) VALUES (4, 18), (2, 16), (1, 18)")
    review = await connection.fetchval(
        "INSERT INTO tmdb_match_reviews (movie_id, movie_name, movie_year, reason) VALUES (1, 'WALL-E', 2008,"
        " 'ambiguous_match') RETURNING id"
    )
    await connection.execute(
        "INSERT INTO tmdb_match_review_audit (review_id, action, to_status) VALUES ($1, 'recorded', 'open')", review
    )
    await connection.execute(
        "INSERT INTO users (id, email) VALUES ($1, 'one@example.test'), ($2, 'two@example.test')", USER, OTHER_USER
    )
    await connection.execute(
        "INSERT INTO recommendations (id, slug, quiz_data, user_id) VALUES ($1, 'abcdefghijkl', '[]', $2)",
        RECOMMENDATION,
        USER,
    )
    await connection.executemany(
        "INSERT INTO recommendation_movies (recommendation_id, position, movie_key, movie_id, tmdb_id, name, year,"
        " created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        [
            (RECOMMENDATION, 0, "title:wall-e:2008", 1, None, "WALL-E", 2008, now - timedelta(minutes=1)),
            (RECOMMENDATION, 1, "tmdb:10681", 2, 10681, "WALL·E", 2008, now),
            (RECOMMENDATION, 2, "title:schindler’s list:1993", 4, None, "Schindler’s List", 1993, now),
        ],
    )
    await connection.execute(
        "INSERT INTO recommendation_feedback (recommendation_id, user_id, movie_key, kind)"
        " VALUES ($1, $2, 'title:schindler’s list:1993', 'close')",
        RECOMMENDATION,
        USER,
    )
    yesterday, two_days_ago = now - timedelta(days=1), now - timedelta(days=2)
    return {
        "watched_curated": await remember(connection, USER, "title:wall-e:2008", "watched", two_days_ago),
        "not_interested_tmdb": await remember(connection, USER, "tmdb:10681", "not_interested", yesterday),
        "liked_by_other": await remember(connection, OTHER_USER, "title:wall-e:2008", "liked", LONG_AGO),
        "heat": await remember(connection, USER, "title:heat:1995", "watched", LONG_AGO),
        "typed": await remember(connection, USER, "title:mr. smith goes to washington:1939", "watched", LONG_AGO),
        "schindler": await remember(connection, USER, "title:schindler's list:1993", "not_interested", LONG_AGO),
        "dune": await remember(connection, USER, "title:dune:1984", "watched", LONG_AGO),
    }


async def test_013_merges_punctuation_duplicates_and_moves_everything_to_the_kept_film(
    database_before, migrations_dir, monkeypatch
):
    """ "WALL·E" from TMDB absorbs the curated "WALL-E"; references, joins, reviews and memory follow, and
    each stored key becomes the film's key now (a collision keeps the most recent row)."""
    url = await database_before("012_match_movie_picks.sql")
    connection = await asyncpg.connect(url)
    try:
        memory = await plant_catalog_before_013(connection)
        recorded = RecordingLog()
        monkeypatch.setattr(migrations_module, "log", recorded)
        applied = await migrate(url, migrations_dir, model_id=None, dimensions=None)
        assert applied[0] == "013_title_normalisation.sql"

        movies = {row["id"]: row for row in await connection.fetch("SELECT * FROM movies")}
        assert sorted(movies) == [2, 3, 5, 6, 7, 8, 9, 10, 11, 12]  # Dune twice, Toy Story and its sequel kept
        assert [movies[i]["normalized_name"] for i in (2, 3, 12)] == ["wall e", "schindlers list", "crash"]
        merges = await connection.fetch("SELECT merged_movie_id, kept_movie_id FROM movie_merges ORDER BY id")
        assert [(row["merged_movie_id"], row["kept_movie_id"]) for row in merges] == [(4, 3), (1, 2)]
        notices = recorded.reports("013_title_normalisation.sql")
        assert any(notice.startswith("merged movie 1 (WALL-E 2008) into movie 2") for notice in notices), notices
        assert any(notice.startswith("merged movie 4 (") for notice in notices), notices

        picks = await connection.fetch(
            "SELECT position, movie_key, movie_id FROM recommendation_movies ORDER BY position"
        )
        assert [tuple(row) for row in picks] == [(1, "tmdb:10681", 2), (2, "title:schindlers list:1993", 3)]
        assert await connection.fetchval("SELECT movie_key FROM recommendation_feedback") == (
            "title:schindlers list:1993"
        )
        genres = await connection.fetch("SELECT movie_id, genre_id FROM movie_genres ORDER BY movie_id")
        assert [tuple(row) for row in genres] == [(2, 16), (3, 18)]
        review = await connection.fetchrow("SELECT id, movie_id FROM tmdb_match_reviews")
        assert review["movie_id"] == 2
        actions = await connection.fetch(
            "SELECT action FROM tmdb_match_review_audit WHERE review_id = $1 ORDER BY id", review["id"]
        )
        assert [row["action"] for row in actions] == ["recorded", "movie_merged"]

        rows = {
            row["id"]: row
            for row in await connection.fetch(
                "SELECT id, user_id, movie_key, kind, tmdb_id, updated_at FROM user_movie_interactions"
            )
        }
        assert memory["watched_curated"] not in rows  # the older of the person's two rows for WALL·E
        assert (rows[memory["not_interested_tmdb"]]["movie_key"], rows[memory["not_interested_tmdb"]]["kind"]) == (
            "tmdb:10681",
            "not_interested",
        )
        other = rows[memory["liked_by_other"]]
        assert (other["movie_key"], other["tmdb_id"], other["updated_at"]) == ("tmdb:10681", 10681, LONG_AGO)
        assert rows[memory["heat"]]["movie_key"] == "tmdb:949"  # linked before 013: the key follows now
        assert rows[memory["typed"]]["movie_key"] == "title:mr smith goes to washington:1939"
        assert rows[memory["schindler"]]["movie_key"] == "title:schindlers list:1993"
        assert rows[memory["dune"]]["movie_key"] == "title:dune:1984"

        # Running the file again finds nothing left to merge or rewrite.
        before = await connection.fetch("SELECT * FROM user_movie_interactions ORDER BY id")
        await connection.execute((migrations_dir / "013_title_normalisation.sql").read_text())
        assert await connection.fetch("SELECT * FROM user_movie_interactions ORDER BY id") == before
        assert await connection.fetchval("SELECT count(*) FROM movie_merges") == 2
    finally:
        await connection.close()


async def test_014_labels_existing_rows_by_where_they_came_from(database_before, migrations_dir):
    """Curated, linked, discovered, JIT-seeded and hand-made rows get their source; JIT rows their match source."""
    url = await database_before("013_title_normalisation.sql")
    connection = await asyncpg.connect(url)
    try:
        created = datetime(2025, 6, 1, tzinfo=UTC)
        later = created + timedelta(days=3)
        rows = [
            (1, "Casablanca", 1942, None, None, None),
            (2, "Heat", 1995, 949, "backfill_auto", later),
            (3, "Alien", 1979, 348, "tmdb_discovery", later),  # curated, then linked by a seed of TMDB 348
            (4, "Arrival", 2016, 329865, "tmdb_discovery", created),  # inserted by discovery
            (5, "Past Lives", 2023, 666277, "tmdb_discovery", created),  # inserted after a recommendation showed it
            (6, "Repair", 2000, 1234, None, None),  # tmdb_id set by hand
            (7, "Operator's Pick", 2001, 4321, "manual", created),
        ]
        await connection.executemany(
            "INSERT INTO movies (id, name, year, tmdb_id, tmdb_match_source, tmdb_matched_at, created_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7)",
            [(*row, created) for row in rows],
        )
        await connection.execute("SELECT setval('movies_id_seq', 100)")
        await connection.execute(
            "INSERT INTO recommendations (id, slug, quiz_data) VALUES ($1, 'abcdefghijkl', '[]')", RECOMMENDATION
        )
        await connection.execute(
            "INSERT INTO recommendation_movies (recommendation_id, position, movie_key, tmdb_id, name, from_tmdb,"
            " created_at) VALUES ($1, 0, 'tmdb:666277', 666277, 'Past Lives', true, $2)",
            RECOMMENDATION,
            created - timedelta(minutes=1),
        )
        await migrate(url, migrations_dir, model_id=None, dimensions=None)
        labelled = await connection.fetch("SELECT id, source, tmdb_match_source FROM movies ORDER BY id")
        assert [(row["source"], row["tmdb_match_source"]) for row in labelled] == [
            ("curated_seed", None),
            ("curated_seed", "backfill_auto"),
            ("curated_seed", "tmdb_discovery"),
            ("discovery", "tmdb_discovery"),
            ("recommendation", "recommendation"),
            ("manual", None),
            ("manual", "manual"),
        ]
        # From now on a row written by hand is labelled manual, and only known sources are accepted.
        assert await connection.fetchval("INSERT INTO movies (name) VALUES ('Fixed By Hand') RETURNING source") == (
            "manual"
        )
        with pytest.raises(asyncpg.CheckViolationError):
            await connection.execute("INSERT INTO movies (name, source) VALUES ('X', 'guess')")
    finally:
        await connection.close()
