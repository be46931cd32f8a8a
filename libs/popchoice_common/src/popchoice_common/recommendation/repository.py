"""Recommendation SQL: the recommendations, their picks, the person's memory and the catalog searches the
recommender runs. Shared by the gateway and the recommender; functions take a connection (or pool)
and never commit: callers own the transactions."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any, TypeAlias

import asyncpg
import msgspec
import numpy as np

from popchoice_common.recommendation.memory import (
    FEEDBACK_MEMORY,
    DeckFilm,
    FeedbackKind,
    InteractionKind,
    popularity_lean,
)
from popchoice_common.recommendation.records import (
    RECOMMENDATION_COLUMNS,
    CandidateFilters,
    CandidateRow,
    MemoryEntry,
    MemoryFilm,
    MovieMatch,
    RecommendationRow,
    StoredPick,
    UserMemory,
)

Executor: TypeAlias = asyncpg.Connection | asyncpg.Pool
_PICKS = msgspec.json.Decoder(list[StoredPick])


async def create_recommendation(
    connection: asyncpg.Connection,
    *,
    slug: str,
    quiz_data: Any,
    locale: str,
    user_id: uuid.UUID | None,
) -> uuid.UUID:
    recommendation_id: uuid.UUID = await connection.fetchval(
        "INSERT INTO recommendations (slug, quiz_data, locale, user_id) VALUES ($1, $2::jsonb, $3, $4) RETURNING id",
        slug,
        json.dumps(quiz_data),
        locale,
        user_id,
    )
    return recommendation_id


async def delete_recommendation(connection: asyncpg.Connection, recommendation_id: uuid.UUID) -> None:
    await connection.execute("DELETE FROM recommendations WHERE id = $1", recommendation_id)


def _lookup(id_or_slug: str) -> tuple[str, uuid.UUID | str]:
    """The column and value that find a recommendation by UUID or by slug."""
    try:
        return "id", uuid.UUID(id_or_slug)
    except ValueError:
        return "slug", id_or_slug


def _recommendation(row: asyncpg.Record | None) -> RecommendationRow | None:
    return RecommendationRow(*row.values()) if row is not None else None


async def get_recommendation(connection: asyncpg.Connection, id_or_slug: str) -> RecommendationRow | None:
    """By UUID or by slug."""
    column, value = _lookup(id_or_slug)
    return _recommendation(
        await connection.fetchrow(f"SELECT {RECOMMENDATION_COLUMNS} FROM recommendations WHERE {column} = $1", value)
    )


async def get_recommendation_with_movies(
    connection: asyncpg.Connection, id_or_slug: str
) -> tuple[RecommendationRow, list[StoredPick]] | None:
    """By UUID or by slug, with its picks (batch by batch, in order) in the same round trip."""
    column, value = _lookup(id_or_slug)
    row: asyncpg.Record | None = await connection.fetchrow(
        f"""
        SELECT {RECOMMENDATION_COLUMNS}, coalesce(
            (SELECT json_agg(json_build_object({_PICK_JSON_FIELDS}) ORDER BY m.batch, m.position)
             FROM recommendation_movies m WHERE m.recommendation_id = r.id),
            '[]') AS movies
        FROM recommendations r WHERE r.{column} = $1
        """,
        value,
    )
    if row is None:
        return None
    values = list(row.values())
    return RecommendationRow(*values[:-1]), _PICKS.decode(values[-1])


async def unfinished_recommendation(
    connection: asyncpg.Connection, recommendation_id: uuid.UUID
) -> RecommendationRow | None:
    """The recommendation if it is still pending or processing (None: unknown, completed or failed).

    A read, not a claim: the run's stages (preparing first) are written as they last, and a
    redelivered job of a finished recommendation finds nothing to do.
    """
    return _recommendation(
        await connection.fetchrow(
            f"SELECT {RECOMMENDATION_COLUMNS} FROM recommendations"
            " WHERE id = $1 AND status IN ('pending', 'processing')",
            recommendation_id,
        )
    )


async def set_stage(
    connection: asyncpg.Connection, recommendation_id: uuid.UUID, stage: str, *, status: str = "processing"
) -> None:
    """Moves a pending or processing recommendation to a stage (a finished one is never reopened)."""
    await connection.execute(
        "UPDATE recommendations SET stage = $2, status = $3 WHERE id = $1 AND status IN ('pending', 'processing')",
        recommendation_id,
        stage,
        status,
    )


_PICK_COLUMNS = ", ".join(StoredPick.__struct_fields__)
# Each pick read back as one JSON object with StoredPick's fields.
_PICK_JSON_FIELDS = ", ".join(f"'{name}', m.{name}" for name in StoredPick.__struct_fields__)
# The picks travel as one JSON array of StoredPick objects (one parameter to encode, not sixteen arrays).
_PICK_RECORDS = (
    "jsonb_to_recordset($2::jsonb) AS p(batch int, position int, is_main_recommendation bool, movie_key text,"
    " movie_id bigint, tmdb_id int, name text, year int, similarity float8, from_tmdb bool, ai_description text,"
    " poster_url text, localized_name text, score_rating numeric, duration int, age_rating text, why text)"
)
_PICK_ENCODER = msgspec.json.Encoder(decimal_format="number")


def _picks_json(picks: Sequence[StoredPick]) -> str:
    return _PICK_ENCODER.encode(list(picks)).decode()


async def store_batch(
    connection: asyncpg.Connection,
    recommendation_id: uuid.UUID,
    picks: Sequence[StoredPick],
    *,
    complete: tuple[bool, int] | None,
) -> bool:
    """One statement (one round trip, atomic): stores a batch's picks and marks the recommendation
    completed (complete = (used_broader_search, db_movie_count)) or, for complete None, the more-picks batch done.

    The first batch is stored only while the recommendation is pending or processing: a redelivered
    job of a recommendation that completed (or failed) meanwhile stores nothing. Picks already stored
    for a batch are kept (ON CONFLICT DO NOTHING), so a more-picks job repeated after it got this far
    stores nothing twice. Returns whether the recommendation was changed (False: unknown, or its
    first batch already finished).
    """
    if complete is not None:
        stored: bool = await connection.fetchval(
            f"""
            WITH finished AS (
                UPDATE recommendations SET status = 'completed', stage = 'complete', completed_at = now(),
                    error = NULL, used_broader_search = $3, db_movie_count = $4
                WHERE id = $1 AND status IN ('pending', 'processing')
                RETURNING id
            ), added AS (
                INSERT INTO recommendation_movies (recommendation_id, {_PICK_COLUMNS})
                SELECT finished.id, p.* FROM finished, {_PICK_RECORDS}
                ON CONFLICT DO NOTHING
            )
            SELECT EXISTS (SELECT 1 FROM finished)
            """,
            recommendation_id,
            _picks_json(picks),
            complete[0],
            complete[1],
        )
        return stored
    changed = await connection.fetchval(
        f"""
        WITH added AS (
            INSERT INTO recommendation_movies (recommendation_id, {_PICK_COLUMNS})
            SELECT $1, p.* FROM {_PICK_RECORDS}
            ON CONFLICT DO NOTHING
        )
        UPDATE recommendations SET more_picks_status = 'completed' WHERE id = $1 RETURNING true
        """,
        recommendation_id,
        _picks_json(picks),
    )
    return bool(changed)


async def unfinished_recommendations(
    executor: Executor, *, idle_seconds: float, limit: int = 200
) -> list[tuple[RecommendationRow, int | None]]:
    """Recommendations left pending or processing, and more-picks batches left pending or processing,
    untouched for idle_seconds (and less than a day old): each with None for the first picks or the
    batch number of the unfinished batch. The sweeper re-queues those whose job is gone."""
    rows = await executor.fetch(
        f"""
        SELECT {RECOMMENDATION_COLUMNS},
               CASE WHEN status = 'completed' THEN
                   (SELECT coalesce(max(m.batch), 0) + 1 FROM recommendation_movies m WHERE m.recommendation_id = r.id)
               END AS batch
        FROM recommendations r
        WHERE (status IN ('pending', 'processing')
               OR (status = 'completed' AND more_picks_status IN ('pending', 'processing')))
          AND updated_at < now() - make_interval(secs => $1)
          AND created_at > now() - interval '1 day'
        ORDER BY updated_at
        LIMIT $2
        """,
        idle_seconds,
        limit,
    )
    return [(RecommendationRow(*tuple(row.values())[:-1]), row["batch"]) for row in rows]


async def fail_recommendation(connection: asyncpg.Connection, recommendation_id: uuid.UUID, error: str) -> None:
    await connection.execute(
        "UPDATE recommendations SET status = 'failed', stage = 'failed', error = $2, completed_at = now()"
        " WHERE id = $1 AND status <> 'completed'",
        recommendation_id,
        error,
    )


async def claim_more_picks(connection: asyncpg.Connection, recommendation_id: uuid.UUID) -> int | None:
    """Atomically claims the next batch of a completed recommendation; None when one runs or it is not done."""
    batch: int | None = await connection.fetchval(
        """
        UPDATE recommendations r SET more_picks_status = 'pending'
        WHERE r.id = $1 AND r.status = 'completed'
          AND (r.more_picks_status IS NULL OR r.more_picks_status IN ('completed', 'failed'))
        RETURNING (SELECT coalesce(max(batch), 0) + 1 FROM recommendation_movies m WHERE m.recommendation_id = r.id)
        """,
        recommendation_id,
    )
    return batch


async def set_more_picks_status(connection: asyncpg.Connection, recommendation_id: uuid.UUID, status: str) -> None:
    await connection.execute(
        "UPDATE recommendations SET more_picks_status = $2 WHERE id = $1", recommendation_id, status
    )


async def batch_stored(connection: asyncpg.Connection, recommendation_id: uuid.UUID, batch: int) -> bool:
    """Whether batch n of the recommendation's picks is stored."""
    return bool(
        await connection.fetchval(
            "SELECT EXISTS (SELECT 1 FROM recommendation_movies WHERE recommendation_id = $1 AND batch = $2)",
            recommendation_id,
            batch,
        )
    )


async def shown_movie_keys(connection: asyncpg.Connection, recommendation_id: uuid.UUID) -> set[str]:
    rows = await connection.fetch(
        "SELECT movie_key FROM recommendation_movies WHERE recommendation_id = $1", recommendation_id
    )
    return {row["movie_key"] for row in rows}


async def user_memory(connection: asyncpg.Connection, user_id: uuid.UUID, *, recent_days: int) -> UserMemory:
    """What the pipeline applies of a person's memory (see memory.FEEDBACK_MEMORY): watched and not
    interested films left out, films recommended recently, wrong-mood films, liked films (in the
    catalog, as anchors), films found close (weak anchors) and the popularity preference.

    Feedback reaches the memory through the rows it folded into user_movie_interactions, so a memory
    entry the person removed stops applying whatever feedback once wrote it; close, too_obvious
    and too_obscure are read from the feedback itself."""
    rows = await connection.fetch(
        """
        SELECT movie_key, 'exclude' AS effect, NULL::bigint AS movie_id FROM user_movie_interactions
            WHERE user_id = $1 AND kind IN ('watched', 'not_interested')
        UNION ALL
        SELECT movie_key, 'wrong_mood', NULL FROM user_movie_interactions WHERE user_id = $1 AND kind = 'wrong_mood'
        UNION ALL
        SELECT i.movie_key, 'liked', film.id FROM user_movie_interactions i
            CROSS JOIN LATERAL (
                SELECT m.id FROM movies m
                WHERE m.tmdb_id = coalesce(
                    i.tmdb_id, CASE WHEN i.movie_key LIKE 'tmdb:%' THEN split_part(i.movie_key, ':', 2)::int END)
                UNION ALL
                SELECT m.id FROM movies m
                WHERE i.movie_key LIKE 'title:%' AND m.normalized_name = normalize_title(i.movie_name)
                  AND m.year IS NOT DISTINCT FROM i.movie_year
                LIMIT 1
            ) AS film
            WHERE i.user_id = $1 AND i.kind = 'liked'
        UNION ALL
        SELECT f.movie_key, 'close', coalesce(p.movie_id, (SELECT m.id FROM movies m WHERE m.tmdb_id = p.tmdb_id))
            FROM recommendation_feedback f
            JOIN recommendation_movies p ON p.recommendation_id = f.recommendation_id AND p.movie_key = f.movie_key
            WHERE f.user_id = $1 AND f.kind = 'close'
        UNION ALL
        SELECT movie_key, kind, NULL FROM recommendation_feedback
            WHERE user_id = $1 AND kind IN ('too_obvious', 'too_obscure')
        UNION ALL
        SELECT m.movie_key, 'recent', NULL FROM recommendation_movies m
            JOIN recommendations r ON r.id = m.recommendation_id
            WHERE r.user_id = $1 AND r.created_at > now() - make_interval(days => $2)
        """,
        user_id,
        recent_days,
    )
    excluded = frozenset(row[0] for row in rows if row[1] == "exclude")
    wrong_mood = frozenset(row[0] for row in rows if row[1] == "wrong_mood")
    recent = frozenset(row[0] for row in rows if row[1] == "recent")
    liked = tuple(dict.fromkeys(row[2] for row in rows if row[1] == "liked"))
    close = tuple(
        dict.fromkeys(row[2] for row in rows if row[1] == "close" and row[2] is not None and row[2] not in liked)
    )
    lean = popularity_lean(
        sum(1 for row in rows if row[1] == "too_obvious"), sum(1 for row in rows if row[1] == "too_obscure")
    )
    return UserMemory(excluded, wrong_mood - excluded, recent - excluded, liked, close, lean)


# ---------------------------------------------------------------------------------------------
# The write side of the memory: the trainer's entries and feedback on picks (memory.FEEDBACK_MEMORY)

_ENTRY_COLUMNS = "movie_key, movie_name, movie_year, poster_url, kind, updated_at, source_recommendation_id"


async def catalog_film_by_key(executor: Executor, movie_key: str) -> MemoryFilm | None:
    """The catalog film a movie key names (``tmdb:<id>``, or ``title:<normalised title>:<year or na>``),
    under its canonical key."""
    kind, _, rest = movie_key.partition(":")
    if kind == "tmdb":
        if not rest.isdigit() or len(rest) > 9:
            return None
        row = await executor.fetchrow(
            "SELECT name, year, tmdb_id, poster_url FROM movies WHERE tmdb_id = $1", int(rest)
        )
    elif kind == "title" and ":" in rest:
        title, _, year = rest.rpartition(":")
        if year != "na" and not (year.isdigit() and len(year) <= 4):
            return None
        row = await executor.fetchrow(
            "SELECT name, year, tmdb_id, poster_url FROM movies WHERE normalized_name = $1"
            " AND year IS NOT DISTINCT FROM $2 ORDER BY tmdb_id IS NULL, id LIMIT 1",
            title,
            None if year == "na" else int(year),
        )
    else:
        return None
    if row is None:
        return None
    key = f"tmdb:{row['tmdb_id']}" if row["tmdb_id"] is not None else movie_key
    return MemoryFilm(key, row["name"], row["year"], row["tmdb_id"], row["poster_url"])


async def catalog_films(executor: Executor, movie_ids: Sequence[int]) -> dict[int, MemoryFilm]:
    """Catalog films by id, as the memory stores them (under their canonical keys)."""
    rows = await executor.fetch(
        """
        SELECT id, CASE WHEN tmdb_id IS NOT NULL THEN 'tmdb:' || tmdb_id
                        ELSE 'title:' || normalized_name || ':' || coalesce(year::text, 'na') END,
               name, year, tmdb_id, poster_url
        FROM movies WHERE id = ANY($1::bigint[])
        """,
        list(movie_ids),
    )
    return {row[0]: MemoryFilm(*list(row.values())[1:]) for row in rows}


async def picked_film(executor: Executor, user_id: uuid.UUID, movie_key: str) -> MemoryFilm | None:
    """A film recommended to the person under this key (the most recent pick), for films not in the catalog."""
    row = await executor.fetchrow(
        """
        SELECT p.name, p.year, p.tmdb_id, p.poster_url FROM recommendation_movies p
        JOIN recommendations r ON r.id = p.recommendation_id
        WHERE r.user_id = $1 AND p.movie_key = $2
        ORDER BY p.created_at DESC LIMIT 1
        """,
        user_id,
        movie_key,
    )
    if row is None:
        return None
    return MemoryFilm(movie_key, row["name"], row["year"], row["tmdb_id"], row["poster_url"])


async def upsert_interaction(
    connection: asyncpg.Connection,
    user_id: uuid.UUID,
    film: MemoryFilm,
    kind: InteractionKind,
    *,
    source_recommendation_id: uuid.UUID | None = None,
) -> MemoryEntry:
    """Stores what the person said about a film: one row per person and film, the latest statement
    wins (an idempotent upsert). source_recommendation_id: the recommendation whose feedback said it."""
    row = await connection.fetchrow(
        f"""
        INSERT INTO user_movie_interactions
            (user_id, movie_key, tmdb_id, movie_name, movie_year, poster_url, kind, source_recommendation_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (user_id, movie_key) DO UPDATE SET
            tmdb_id = EXCLUDED.tmdb_id, movie_name = EXCLUDED.movie_name, movie_year = EXCLUDED.movie_year,
            poster_url = EXCLUDED.poster_url, kind = EXCLUDED.kind,
            source_recommendation_id = EXCLUDED.source_recommendation_id
        RETURNING {_ENTRY_COLUMNS}
        """,
        user_id,
        film.movie_key,
        film.tmdb_id,
        film.name,
        film.year,
        film.poster_url,
        kind,
        source_recommendation_id,
    )
    return MemoryEntry(*row.values())


async def delete_interaction(connection: asyncpg.Connection, user_id: uuid.UUID, movie_key: str) -> bool:
    """Forgets what the person said about a film; False when nothing was stored."""
    deleted = await connection.fetchval(
        "DELETE FROM user_movie_interactions WHERE user_id = $1 AND movie_key = $2 RETURNING true", user_id, movie_key
    )
    return bool(deleted)


async def memory_page(
    executor: Executor, user_id: uuid.UUID, *, kind: str | None, limit: int, offset: int
) -> list[MemoryEntry]:
    """The person's memory, most recently changed first, optionally of one kind."""
    rows = await executor.fetch(
        f"""
        SELECT {_ENTRY_COLUMNS} FROM user_movie_interactions
        WHERE user_id = $1 AND ($2::text IS NULL OR kind = $2)
        ORDER BY updated_at DESC, id DESC LIMIT $3 OFFSET $4
        """,
        user_id,
        kind,
        limit,
        offset,
    )
    return [MemoryEntry(*row.values()) for row in rows]


async def memory_kinds(executor: Executor, user_id: uuid.UUID, movie_keys: Sequence[str]) -> dict[str, str]:
    """What the person said about each of these films (films they said nothing about are absent)."""
    rows = await executor.fetch(
        "SELECT movie_key, kind FROM user_movie_interactions WHERE user_id = $1 AND movie_key = ANY($2::text[])",
        user_id,
        list(movie_keys),
    )
    return {row["movie_key"]: row["kind"] for row in rows}


async def memory_counts(executor: Executor, user_id: uuid.UUID) -> dict[str, int]:
    """How many films of each kind the person's memory holds (the account page's counts)."""
    rows = await executor.fetch(
        "SELECT kind, count(*) FROM user_movie_interactions WHERE user_id = $1 GROUP BY kind", user_id
    )
    return {row[0]: row[1] for row in rows}


async def unrated_well_known_films(executor: Executor, user_id: uuid.UUID, *, limit: int) -> list[DeckFilm]:
    """The most voted catalog films the person has said nothing about, best known first (the trainer's
    deck is chosen among them with memory.varied_deck). The curated seed's films are well known by
    choice: without TMDB's vote count (a catalog not matched to TMDB yet) they follow, best rated first."""
    rows = await executor.fetch(
        """
        SELECT CASE WHEN m.tmdb_id IS NOT NULL THEN 'tmdb:' || m.tmdb_id
                    ELSE 'title:' || m.normalized_name || ':' || coalesce(m.year::text, 'na') END AS movie_key,
               m.name, m.year, m.poster_url,
               ARRAY(SELECT g.name FROM movie_genres mg JOIN catalog_genres g ON g.tmdb_id = mg.genre_id
                     WHERE mg.movie_id = m.id ORDER BY mg.genre_id) AS genres,
               m.vote_count
        FROM movies m
        WHERE (m.vote_count IS NOT NULL OR m.source = 'curated_seed')
          AND NOT EXISTS (
              SELECT 1 FROM user_movie_interactions i
              WHERE i.user_id = $1
                AND i.movie_key IN (
                    'tmdb:' || m.tmdb_id, 'title:' || m.normalized_name || ':' || coalesce(m.year::text, 'na'))
          )
        ORDER BY m.vote_count DESC NULLS LAST, m.score_rating DESC NULLS LAST, m.id
        LIMIT $2
        """,
        user_id,
        limit,
    )
    return [DeckFilm(row[0], row[1], row[2], row[3], tuple(row[4]), row[5]) for row in rows]


async def pick_of(executor: Executor, recommendation_id: uuid.UUID, movie_key: str) -> MemoryFilm | None:
    """The film of a recommendation's picks with this key (None: the recommendation did not show it)."""
    row = await executor.fetchrow(
        "SELECT name, year, tmdb_id, poster_url FROM recommendation_movies WHERE recommendation_id = $1"
        " AND movie_key = $2 ORDER BY batch LIMIT 1",
        recommendation_id,
        movie_key,
    )
    if row is None:
        return None
    return MemoryFilm(movie_key, row["name"], row["year"], row["tmdb_id"], row["poster_url"])


async def record_feedback(
    connection: asyncpg.Connection,
    recommendation_id: uuid.UUID,
    user_id: uuid.UUID,
    film: MemoryFilm,
    kind: FeedbackKind,
) -> InteractionKind | None:
    """Stores feedback on a pick (one per recommendation and film: a new kind replaces the old) and
    folds it into the durable memory (memory.FEEDBACK_MEMORY). What the replaced feedback wrote to
    the memory, if nothing has changed it since, is taken back first. Returns the memory kind written.
    Run it in a transaction: the feedback and the memory change together."""
    previous: str | None = await connection.fetchval(
        "SELECT kind FROM recommendation_feedback WHERE recommendation_id = $1 AND movie_key = $2 FOR UPDATE",
        recommendation_id,
        film.movie_key,
    )
    await connection.execute(
        """
        INSERT INTO recommendation_feedback (recommendation_id, user_id, movie_key, kind) VALUES ($1, $2, $3, $4)
        ON CONFLICT (recommendation_id, movie_key) DO UPDATE SET kind = EXCLUDED.kind, user_id = EXCLUDED.user_id
        """,
        recommendation_id,
        user_id,
        film.movie_key,
        kind,
    )
    written = FEEDBACK_MEMORY[kind]
    if previous is not None and (before := FEEDBACK_MEMORY.get(previous)) is not None and before != written:
        await _take_back(connection, recommendation_id, user_id, film.movie_key, before)
    if written is not None:
        await upsert_interaction(connection, user_id, film, written, source_recommendation_id=recommendation_id)
    return written


async def feedback_kinds(executor: Executor, recommendation_id: uuid.UUID) -> dict[str, str]:
    """The feedback given on a recommendation's picks: movie key → kind (one per pick)."""
    rows = await executor.fetch(
        "SELECT movie_key, kind FROM recommendation_feedback WHERE recommendation_id = $1", recommendation_id
    )
    return {row["movie_key"]: row["kind"] for row in rows}


async def delete_feedback(
    connection: asyncpg.Connection, recommendation_id: uuid.UUID, user_id: uuid.UUID, movie_key: str
) -> bool:
    """Undoes feedback on a pick: the feedback row goes, and with it the memory entry it wrote if
    that entry is still as the feedback left it (same kind, from this recommendation). An entry the
    person has changed since (in the trainer, or by feedback on another recommendation) stays.
    False when there was no such feedback. Run it in a transaction."""
    kind: str | None = await connection.fetchval(
        "DELETE FROM recommendation_feedback WHERE recommendation_id = $1 AND movie_key = $2 RETURNING kind",
        recommendation_id,
        movie_key,
    )
    if kind is None:
        return False
    written = FEEDBACK_MEMORY.get(kind)
    if written is not None:
        await _take_back(connection, recommendation_id, user_id, movie_key, written)
    return True


async def _take_back(
    connection: asyncpg.Connection, recommendation_id: uuid.UUID, user_id: uuid.UUID, movie_key: str, kind: str
) -> None:
    await connection.execute(
        "DELETE FROM user_movie_interactions WHERE user_id = $1 AND movie_key = $2 AND kind = $3"
        " AND source_recommendation_id = $4",
        user_id,
        movie_key,
        kind,
        recommendation_id,
    )


async def match_movies(executor: Executor, embedding: np.ndarray, *, threshold: float, count: int) -> list[MovieMatch]:
    """The catalog's nearest films to an embedding (active model only), best first, with what a pick
    shows: match_movie_picks, the request path's form of match_movies (db/functions/30_vector_search.sql)."""
    rows = await executor.fetch("SELECT * FROM match_movie_picks($1, $2, $3)", embedding, threshold, count)
    return [MovieMatch(*row) for row in rows]


async def match_candidates(
    executor: Executor,
    embedding: np.ndarray,
    *,
    anchor_ids: Sequence[int],
    count: int,
    filters: CandidateFilters,
    exact_limit: int = 2000,
) -> list[CandidateRow]:
    """The films nearest the quiz text and nearest each anchor film that meet every filter
    (match_movie_candidates, db/functions/30_vector_search.sql): measured exactly over the films that
    meet the era and moods while at most exact_limit do, else found through the HNSW index with the
    filters inside."""
    rows = await executor.fetch(
        "SELECT * FROM match_movie_candidates($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        embedding,
        list(anchor_ids),
        count,
        *_filter_args(filters),
        exact_limit,
    )
    return _candidate_rows(rows)


async def candidates_by_id(
    executor: Executor,
    embedding: np.ndarray,
    *,
    anchor_ids: Sequence[int],
    ids: Sequence[int],
    filters: CandidateFilters,
) -> list[CandidateRow]:
    """The films of ids that meet every filter, as match_candidates returns them
    (match_movie_candidates_by_id): the rows of the films an in-memory search chose."""
    rows = await executor.fetch(
        "SELECT * FROM match_movie_candidates_by_id($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        embedding,
        list(anchor_ids),
        list(ids),
        *_filter_args(filters),
    )
    return _candidate_rows(rows)


def _filter_args(filters: CandidateFilters) -> tuple[object, ...]:
    return (
        filters.min_year,
        filters.max_year,
        list(filters.wanted_genre_ids) or None,
        list(filters.forbidden_genre_ids) or None,
        list(filters.allowed_age_ratings) if filters.allowed_age_ratings is not None else None,
        filters.max_runtime,
        list(filters.excluded_ids) or None,
    )


def _candidate_rows(rows: Sequence[asyncpg.Record]) -> list[CandidateRow]:
    found = []
    for row in rows:
        values = list(row.values())
        values[-1] = tuple(values[-1])
        found.append(CandidateRow(*values))
    return found
