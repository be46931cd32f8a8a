"""The catalog's search columns in the recommender's memory: the exact candidate search without a scan
of the catalog in PostgreSQL.

match_movie_candidates (db/functions/30_vector_search.sql) measures every film that meets a quiz's era
and moods against the quiz text and the anchor films, and keeps the nearest. In PostgreSQL that is a
read of every such film's row (600-1,100 of 10,000 for the bench's quizzes, about 2 ms of database CPU a
search). Here the same films are a boolean mask over a few arrays and the distances one matrix-vector
product (a tenth of a millisecond), and only the films chosen are read from PostgreSQL, by id, through
match_movie_candidates_by_id, which checks every filter again. So the copy decides which films are
nearest, never whether a film meets the constraints: a film changed or removed since the copy was taken
can only be missing from the picks (until the next refresh), never break a constraint.

Same answer as the database's exact search: the same filters (db/init/023's search keys cover the years
1870-2109 and films without a year only when no era is asked), cosine distance, ties by id, the
match_count nearest the quiz text and the match_count nearest each anchor. The database's search is
used instead when the copy cannot answer: no era and no moods (the HNSW index serves that), more than
exact_limit films qualify, an anchor the copy does not hold, a catalog whose embeddings exceed
CATALOG_INDEX_MAX_MB, or no copy yet.

Freshness: at most every CATALOG_INDEX_REFRESH_SECONDS a search starts a check of the catalog's
signature (the active model, the number of its films and the sum of their row versions' xmin: any
committed insert, update or delete changes it, whatever the order transactions commit in), and a
changed catalog is read again in the background while searches go on with the copy they have.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
import numpy as np

from popchoice_common.logs import get_logger
from popchoice_common.recommendation.records import CandidateFilters

log = get_logger(__name__)

#: The years db/init/023's search keys cover when an era or moods are asked (movie_search_query_keys).
_FIRST_YEAR, _LAST_YEAR = 1870, 2109
_NO_YEAR = np.iinfo(np.int32).min
#: A film's genres as bits of one int64: at most this many distinct genre ids (TMDB has 19).
_MAX_GENRES = 63

_SIGNATURE = """
    SELECT e.model, e.dimensions, count(m.id) AS films, coalesce(sum(m.xmin::text::bigint), 0) AS versions
    FROM embedding_models e
    LEFT JOIN movies m ON m.embedding_model = e.model AND m.embedding IS NOT NULL
    WHERE e.active
    GROUP BY e.model, e.dimensions
"""
_FILMS = """
    SELECT id, year, genre_ids, upper(btrim(age_rating)) AS age_rating, duration, vector_send(embedding) AS embedding
    FROM movies WHERE embedding_model = $1 AND embedding IS NOT NULL ORDER BY id
"""


@dataclass(frozen=True, slots=True)
class CatalogSnapshot:
    """One model's films as arrays, in id order; rows of `unit` are the embeddings at unit length."""

    model: str
    signature: tuple[object, ...]
    ids: np.ndarray
    #: The release year, _NO_YEAR when unknown.
    years: np.ndarray
    genre_bits: np.ndarray
    genre_bit: dict[int, int]
    age_codes: np.ndarray
    age_code: dict[str, int]
    durations: np.ndarray
    unit: np.ndarray
    #: False for a zero embedding (its cosine distance is undefined: it sorts after every other film).
    measurable: np.ndarray
    all_measurable: bool

    @classmethod
    def of(
        cls, model: str, dimensions: int, signature: tuple[object, ...], rows: Sequence[asyncpg.Record]
    ) -> CatalogSnapshot | None:
        """The snapshot of rows (id order; embeddings in pgvector's binary form), or None when the genres
        do not fit the bit mask or an embedding is not of the model's dimensions."""
        genre_bit: dict[int, int] = {}
        age_code: dict[str, int] = {}
        count = len(rows)
        ids = np.empty(count, dtype=np.int64)
        years = np.full(count, _NO_YEAR, dtype=np.int32)
        genre_bits = np.zeros(count, dtype=np.int64)
        age_codes = np.full(count, -1, dtype=np.int32)
        durations = np.zeros(count, dtype=np.int32)
        for index, row in enumerate(rows):
            ids[index] = row["id"]
            if row["year"] is not None:
                years[index] = row["year"]
            bits = 0
            for genre in row["genre_ids"]:
                bit = genre_bit.setdefault(genre, len(genre_bit))
                if bit >= _MAX_GENRES:
                    return None
                bits |= 1 << bit
            genre_bits[index] = bits
            if row["age_rating"] is not None:
                age_codes[index] = age_code.setdefault(row["age_rating"], len(age_code))
            durations[index] = row["duration"]
        # Each embedding is a 4-byte header (dimensions, unused) and big-endian float4s: one read of all.
        packed = b"".join(row["embedding"] for row in rows)
        if len(packed) != count * 4 * (dimensions + 1):
            return None
        vectors = np.frombuffer(packed, dtype=">f4").reshape(count, dimensions + 1)[:, 1:].astype(np.float32)
        del packed
        norms = np.linalg.norm(vectors, axis=1)
        measurable = norms > 0
        unit = vectors  # normalised in place: a zero embedding stays zero
        unit[measurable] /= norms[measurable, None]
        return cls(
            model,
            signature,
            ids,
            years,
            genre_bits,
            genre_bit,
            age_codes,
            age_code,
            durations,
            unit,
            measurable,
            bool(measurable.all()),
        )

    def _bits(self, genre_ids: Sequence[int]) -> int:
        bits = 0
        for genre in genre_ids:
            if genre in self.genre_bit:
                bits |= 1 << self.genre_bit[genre]
        return bits

    def qualifying(self, filters: CandidateFilters) -> np.ndarray:
        """The positions of the films meeting every filter (the database's exact search's films)."""
        if filters.min_year is not None or filters.max_year is not None:
            # An open end of the era is the end of the years the search keys cover (films without a year
            # hold _NO_YEAR, below every bound).
            low = filters.min_year if filters.min_year is not None else _FIRST_YEAR
            high = filters.max_year if filters.max_year is not None else _LAST_YEAR
            mask = (self.years >= low) & (self.years <= high)
        else:
            mask = (self.years >= _FIRST_YEAR) & (self.years <= _LAST_YEAR)
            mask |= self.years == _NO_YEAR
        if filters.wanted_genre_ids:
            mask &= (self.genre_bits & self._bits(filters.wanted_genre_ids)) != 0
        if filters.forbidden_genre_ids:
            mask &= (self.genre_bits & self._bits(filters.forbidden_genre_ids)) == 0
        if filters.allowed_age_ratings is not None:
            # A table by age code; the last entry, false, is the films without a rating (code -1).
            allowed = np.zeros(len(self.age_code) + 1, dtype=bool)
            allowed[[self.age_code[rating] for rating in filters.allowed_age_ratings if rating in self.age_code]] = True
            mask &= allowed[self.age_codes]
        if filters.max_runtime is not None:
            mask &= (self.durations > 0) & (self.durations <= filters.max_runtime)
        if filters.excluded_ids:
            excluded = np.asarray(filters.excluded_ids, dtype=np.int64)
            at = np.minimum(np.searchsorted(self.ids, excluded), len(self.ids) - 1)
            mask[at[self.ids[at] == excluded]] = False
        return np.flatnonzero(mask)

    @staticmethod
    def _nearest(ids: np.ndarray, distances: np.ndarray, count: int) -> np.ndarray:
        """The ids of the count films nearest (distance, then id)."""
        if len(ids) > count:
            # The count nearest, and every film tied with the last of them, then in (distance, id) order.
            bound = np.partition(distances, count - 1)[count - 1]
            near = distances <= bound
            distances, ids = distances[near], ids[near]
        return ids[np.lexsort((ids, distances))[:count]]

    def nearest(
        self,
        query: np.ndarray,
        anchor_ids: Sequence[int],
        filters: CandidateFilters,
        *,
        count: int,
        exact_limit: int,
    ) -> list[int] | None:
        """The ids of the count films nearest the query and of the count nearest each anchor, among the
        films meeting the filters; None when the database must search instead."""
        if exact_limit <= 0 or count <= 0:
            return None
        if filters.min_year is None and filters.max_year is None and not filters.wanted_genre_ids:
            return None
        wanted = np.asarray(sorted(set(anchor_ids)), dtype=np.int64)
        anchors = np.searchsorted(self.ids, wanted)
        if len(wanted) and (anchors.max() >= len(self.ids) or (self.ids[anchors] != wanted).any()):
            return None  # an anchor this copy does not hold (added since, or of another model)
        positions = self.qualifying(filters)
        if len(positions) > exact_limit:
            return None
        norm = float(np.linalg.norm(query))
        if len(positions) == 0 or norm == 0:
            return [] if norm else None
        targets = [np.asarray(query, dtype=np.float32) / norm]
        targets += [self.unit[anchor] for anchor in anchors if self.measurable[anchor]]
        # One read of the qualifying films' embeddings for every target: cosine distances, a column each.
        distances = 1.0 - self.unit[positions] @ np.stack(targets, axis=1)
        if not self.all_measurable:
            distances[~self.measurable[positions]] = np.inf
        ids = self.ids[positions]
        found = [self._nearest(ids, distances[:, column], count) for column in range(len(targets))]
        return [int(movie_id) for movie_id in np.unique(np.concatenate(found))]


class CatalogIndex:
    """One per process: the snapshot searches use, refreshed in the background as the catalog changes."""

    def __init__(self, pool: asyncpg.Pool, *, max_bytes: int, refresh_seconds: float) -> None:
        self._pool = pool
        self._max_bytes = max_bytes
        self._refresh_seconds = refresh_seconds
        self._snapshot: CatalogSnapshot | None = None
        #: The signature of a catalog read and found unusable (see CatalogSnapshot.of): not read again.
        self._unusable: tuple[object, ...] | None = None
        self._checked = -float("inf")
        self._refreshing: asyncio.Task[None] | None = None

    def snapshot(self) -> CatalogSnapshot | None:
        """The copy to search now (None: none yet, or the catalog is too large); starts a refresh when due."""
        if self._max_bytes <= 0:
            return None
        now = time.monotonic()
        if now - self._checked >= self._refresh_seconds and (self._refreshing is None or self._refreshing.done()):
            self._checked = now
            self._refreshing = asyncio.get_running_loop().create_task(self._refresh())
        return self._snapshot

    def _fits(self, active: asyncpg.Record) -> bool:
        """Whether the model's embeddings fit the memory budget (4 bytes a dimension)."""
        return int(active["films"]) * int(active["dimensions"]) * 4 <= self._max_bytes

    async def refresh(self) -> None:
        """Reads the catalog again if it changed (a search does this itself when due)."""
        self._checked = time.monotonic()
        await self._refresh()

    async def _refresh(self) -> None:
        try:
            async with self._pool.acquire() as connection:
                active = await connection.fetchrow(_SIGNATURE)
                if active is None or not self._fits(active):
                    self._snapshot = None
                    return
                signature = (active["model"], active["films"], active["versions"])
                if signature == self._unusable or (
                    self._snapshot is not None and self._snapshot.signature == signature
                ):
                    return
                started = time.perf_counter()
                async with connection.transaction(isolation="repeatable_read", readonly=True):
                    # The signature and the films of one snapshot of the database.
                    active = await connection.fetchrow(_SIGNATURE)
                    if active is None or not self._fits(active):
                        self._snapshot = None
                        return
                    rows = await connection.fetch(_FILMS, active["model"])
                signature = (active["model"], active["films"], active["versions"])
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            # The database's search goes on serving (a pool closing at shutdown ends here too); the next
            # search due retries.
            log.warning("catalog_index_refresh_failed", error=str(exc))
            return
        self._snapshot = CatalogSnapshot.of(active["model"], active["dimensions"], signature, rows)
        self._unusable = signature if self._snapshot is None else None
        log.info(
            "catalog_index_loaded",
            model=active["model"],
            films=len(rows),
            seconds=round(time.perf_counter() - started, 3),
            usable=self._snapshot is not None,
        )
