"""What an operator can do from the console: job actions over the streams, match review decisions and
catalog repairs. Every action writes an operator_audit row (who, what, target, before, after); a job it
starts is named after that row, ``op:<audit id>`` (``op:<audit id>:<n>`` when it starts several), so a
recent automatic job of the same film never swallows it (the publish dedupe is by job id)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import asyncpg
import msgspec

from popchoice_common.errors import PermanentError, RetryableError
from popchoice_common.events import (
    STREAM_EVENTS,
    BackfillMovieRequested,
    CuratedReseedRequested,
    DiscoverPageRequested,
    Event,
    encode_event,
)
from popchoice_common.logs import get_logger
from popchoice_common.streams import Publisher
from popchoice_common.streams.admin import StreamsAdmin
from popchoice_common.tmdb import TMDBClient, poster_url
from popchoice_common.tmdb.errors import TMDBNotFound
from popchoice_health_reporter import repository

log = get_logger(__name__)

ReviewDecision = Literal["accept", "reject", "defer"]
REVIEW_STATUS_AFTER: dict[str, str] = {"accept": "resolved", "reject": "ignored", "defer": "deferred"}
#: Most jobs one discovery or backfill run from the console may enqueue.
MAX_RUN_JOBS = 1000


class ActionRefused(PermanentError):
    """An action that cannot be done as asked; the message says why (shown to the operator, a 4xx)."""

    def __init__(self, message: str, *, status: int = 409) -> None:
        self.status = status
        super().__init__(message)


class NotFound(ActionRefused):
    def __init__(self, what: str) -> None:
        super().__init__(f"{what} does not exist", status=404)


@dataclass(frozen=True, slots=True)
class ActionResult:
    audit_id: int
    message: str
    job_ids: tuple[str, ...] = ()
    stream: str | None = None


def operator_job_id(audit_id: int, index: int | None = None) -> str:
    """The job id of a job an operator started: ``op:<audit id>``, or ``op:<audit id>:<n>`` for one of many."""
    return f"op:{audit_id}" if index is None else f"op:{audit_id}:{index}"


def with_job_id(stream: str, data: str | bytes, job_id: str) -> Event:
    """A stream's payload decoded against its event type, under another job id; ActionRefused if it does not decode."""
    event_type = STREAM_EVENTS[stream]
    try:
        event = msgspec.json.decode(data, type=event_type)
    except msgspec.DecodeError as exc:
        raise ActionRefused(f"the payload is not a valid {stream} event: {exc}", status=422) from exc
    return msgspec.structs.replace(event, job_id=job_id)


def event_from_form(stream: str, payload: str, job_id: str) -> Event:
    """An event of the stream from an operator's JSON object, validated against the event's schema.

    The operator gives the fields; the type tag and the job id are the console's.
    """
    if stream not in STREAM_EVENTS:
        raise ActionRefused(f"unknown stream {stream!r}", status=422)
    try:
        fields = json.loads(payload or "{}")
    except json.JSONDecodeError as exc:
        raise ActionRefused(f"payload: not JSON ({exc.msg} at line {exc.lineno})", status=422) from exc
    if not isinstance(fields, dict):
        raise ActionRefused("payload: a JSON object of the event's fields is expected", status=422)
    fields.pop("job_id", None)
    fields.pop("type", None)
    fields = {"type": stream, "job_id": job_id, **fields}
    try:
        return msgspec.convert(fields, type=STREAM_EVENTS[stream])
    except msgspec.ValidationError as exc:
        raise ActionRefused(f"payload: {exc}", status=422) from exc


def event_schema(stream: str) -> dict[str, Any]:
    """The JSON schema of a stream's event, shown beside the enqueue form."""
    schema: dict[str, Any] = msgspec.json.schema(STREAM_EVENTS[stream])
    return schema


class Operations:
    """The console's actions; each takes the operator's name for the audit."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        admin: StreamsAdmin,
        publisher: Publisher,
        tmdb: TMDBClient | None,
        *,
        image_base_url: str = "https://image.tmdb.org/t/p",
    ) -> None:
        self.pool = pool
        self.admin = admin
        self.publisher = publisher
        self.tmdb = tmdb
        self.image_base_url = image_base_url
        self._details: dict[int, dict[str, object]] = {}

    async def candidate_details(self, candidates: Sequence[object]) -> list[dict[str, object]]:
        """The review's candidates with TMDB's poster, runtime and overview (asked once per process per film,
        as interactive requests through the shared budget); a candidate TMDB cannot describe keeps what the
        review stored."""
        out = []
        for candidate in candidates:
            if not isinstance(candidate, dict):
                continue
            item: dict[str, object] = dict(candidate)
            tmdb_id = candidate.get("tmdb_id")
            if isinstance(tmdb_id, int) and self.tmdb is not None:
                if tmdb_id not in self._details:
                    try:
                        details = await self.tmdb.movie_details(tmdb_id, priority="interactive")
                    except (PermanentError, RetryableError) as exc:
                        log.warning("candidate_details_unavailable", tmdb_id=tmdb_id, error=type(exc).__name__)
                    else:
                        self._details[tmdb_id] = {
                            "poster_url": poster_url(self.image_base_url, details.poster_path, "w185"),
                            "runtime": details.runtime,
                            "overview": details.overview,
                            "year": details.year,
                            "title": details.title,
                        }
                item.update(self._details.get(tmdb_id, {}))
            out.append(item)
        return out

    async def _audit(self, actor: str, action: str, target: str, before: object) -> int:
        async with self.pool.acquire() as connection:
            return await repository.insert_audit(connection, actor=actor, action=action, target=target, before=before)

    async def _complete(self, audit_id: int, after: object) -> None:
        async with self.pool.acquire() as connection:
            await repository.complete_audit(connection, audit_id, after)
        log.info("operator_action_done", audit_id=audit_id)

    def _stream(self, stream: str) -> None:
        if stream not in self.admin.streams:
            raise NotFound(f"stream {stream!r}")

    # Jobs.

    async def retry_dead(self, actor: str, stream: str, dead_id: str) -> ActionResult:
        self._stream(stream)
        letter = await self.admin.dead_letter(stream, dead_id)
        if letter is None:
            raise NotFound(f"dead letter {dead_id} of {stream}")
        audit_id = await self._audit(
            actor, "job.retry", f"{stream}/{letter.job_id}", {"dead_id": dead_id, "error": letter.error}
        )
        job_id = operator_job_id(audit_id)
        event = with_job_id(stream, letter.data, job_id)
        entry_id = await self.admin.retry_dead_as(stream, dead_id, job_id, encode_event(event))
        if entry_id is None:
            await self._complete(audit_id, {"retried": False})
            raise ActionRefused("the dead letter was retried or deleted meanwhile")
        await self._complete(audit_id, {"job_id": job_id, "entry_id": entry_id})
        return ActionResult(audit_id, f"retried as {job_id}", (job_id,), stream)

    async def retry_all_dead(self, actor: str, stream: str) -> ActionResult:
        self._stream(stream)
        total = (await self.admin.stats([stream]))[0].dead_letters
        audit_id = await self._audit(actor, "job.retry_all", stream, {"dead_letters": total})
        job_ids: list[str] = []
        skipped = 0
        after = "-"
        while letters := await self.admin.dead_letters(stream, count=200, after=after):
            for letter in letters:
                after = letter.id
                job_id = operator_job_id(audit_id, len(job_ids) + skipped + 1)
                try:
                    data = encode_event(with_job_id(stream, letter.data, job_id))
                except ActionRefused:
                    skipped += 1  # an undecodable payload would only die again: it stays for the operator
                    continue
                if await self.admin.retry_dead_as(stream, letter.id, job_id, data):
                    job_ids.append(job_id)
        await self._complete(audit_id, {"retried": len(job_ids), "undecodable_kept": skipped})
        message = f"retried {len(job_ids)} dead jobs" + (f"; {skipped} undecodable kept" if skipped else "")
        return ActionResult(audit_id, message, tuple(job_ids), stream)

    async def delete_dead(self, actor: str, stream: str, dead_id: str) -> ActionResult:
        self._stream(stream)
        letter = await self.admin.dead_letter(stream, dead_id)
        if letter is None:
            raise NotFound(f"dead letter {dead_id} of {stream}")
        audit_id = await self._audit(
            actor, "job.delete", f"{stream}/{letter.job_id}", {"dead_id": dead_id, "data": letter.data}
        )
        deleted = await self.admin.delete_dead(stream, dead_id)
        await self._complete(audit_id, {"deleted": deleted})
        return ActionResult(audit_id, f"deleted dead job {letter.job_id}", stream=stream)

    async def purge_dead(self, actor: str, stream: str) -> ActionResult:
        self._stream(stream)
        total = (await self.admin.stats([stream]))[0].dead_letters
        audit_id = await self._audit(actor, "job.purge_dead", stream, {"dead_letters": total})
        purged = await self.admin.purge_dead(stream)
        await self._complete(audit_id, {"purged": purged})
        return ActionResult(audit_id, f"purged {purged} dead letters", stream=stream)

    async def set_paused(self, actor: str, stream: str, *, paused: bool) -> ActionResult:
        self._stream(stream)
        was = (await self.admin.stats([stream]))[0].paused
        audit_id = await self._audit(actor, "stream.pause" if paused else "stream.resume", stream, {"paused": was})
        if paused:
            await self.admin.pause(stream)
        else:
            await self.admin.resume(stream)
        await self._complete(audit_id, {"paused": paused})
        return ActionResult(audit_id, f"{stream} {'paused' if paused else 'resumed'}", stream=stream)

    async def run_now(self, actor: str, stream: str, job_id: str) -> ActionResult:
        self._stream(stream)
        job = await self.admin.job(job_id, stream)
        if job is None:
            raise NotFound(f"job {job_id} of {stream}")
        audit_id = await self._audit(actor, "job.run_now", f"{stream}/{job_id}", {"state": job.state})
        entry_id = await self.admin.run_now(stream, job_id)
        await self._complete(audit_id, {"entry_id": entry_id})
        if entry_id is None:
            raise ActionRefused(f"job {job_id} is {job.state}, not retrying")
        return ActionResult(audit_id, f"{job_id} queued now", (job_id,), stream)

    async def enqueue(self, actor: str, stream: str, payload: str) -> ActionResult:
        self._stream(stream)
        event_from_form(stream, payload, "op:check")  # refuse a bad payload before any audit row
        audit_id = await self._audit(actor, "job.enqueue", stream, {"payload": payload})
        event = event_from_form(stream, payload, operator_job_id(audit_id))
        result = await self.publisher.publish(event)
        await self._complete(audit_id, {"job_id": event.job_id, "entry_id": result.entry_id})
        return ActionResult(audit_id, f"enqueued {event.job_id}", (event.job_id,), stream)

    # Match reviews.

    async def decide_review(
        self, actor: str, review_id: int, decision: ReviewDecision, *, tmdb_id: int | None = None
    ) -> ActionResult:
        """Accept (link the candidate, then a backfill job refreshes metadata and embedding), reject or defer."""
        if decision not in REVIEW_STATUS_AFTER:
            raise ActionRefused(f"unknown decision {decision!r}", status=422)
        to_status = REVIEW_STATUS_AFTER[decision]
        async with self.pool.acquire() as connection, connection.transaction():
            review = await repository.review_for_update(connection, review_id)
            if review is None:
                raise NotFound(f"review {review_id}")
            if review["status"] in ("resolved", "ignored"):
                raise ActionRefused(f"review {review_id} is already {review['status']}")
            details: dict[str, object] = {}
            if decision == "accept":
                candidates = json.loads(review["candidates"])
                chosen = [c for c in candidates if isinstance(c, dict) and c.get("tmdb_id") == tmdb_id]
                if tmdb_id is None or not chosen:
                    raise ActionRefused("accept needs one of the review's candidates", status=422)
                owner = await repository.movie_id_with_tmdb_id(connection, tmdb_id)
                if owner is not None and owner != review["movie_id"]:
                    raise ActionRefused(f"TMDB {tmdb_id} already belongs to movie {owner}")
                details = {"tmdb_id": tmdb_id, "title": chosen[0].get("title")}
            movie = await repository.movie_brief(connection, review["movie_id"])
            audit_id = await repository.insert_audit(
                connection,
                actor=actor,
                action=f"review.{decision}",
                target=f"review/{review_id}",
                before={"status": review["status"], "movie_tmdb_id": movie["tmdb_id"] if movie else None},
            )
            job_id = operator_job_id(audit_id) if decision == "accept" else None
            if decision == "accept":
                assert tmdb_id is not None
                await repository.link_tmdb_id(connection, review["movie_id"], tmdb_id)
                details["job_id"] = job_id
            await repository.set_review_status(
                connection,
                review_id,
                action=decision,
                from_status=review["status"],
                to_status=to_status,
                actor=actor,
                notes=None,
                details=details,
            )
            await repository.complete_audit(connection, audit_id, {"status": to_status, **details})
        if job_id is not None:
            await self.publisher.publish(BackfillMovieRequested(job_id=job_id, movie_id=review["movie_id"]))
        log.info("review_decided", review_id=review_id, decision=decision, audit_id=audit_id)
        message = f"review {review_id}: {to_status}" + (f", {job_id} refreshes the movie" if job_id else "")
        return ActionResult(audit_id, message, (job_id,) if job_id else (), "catalog.backfill-movie")

    async def decide_reviews(self, actor: str, review_ids: Sequence[int], decision: ReviewDecision) -> list[str]:
        """The bulk view's reject or defer of many reviews (accept needs a candidate each); one audit row each."""
        if decision == "accept":
            raise ActionRefused("accept reviews one at a time: each needs its candidate", status=422)
        messages = []
        for review_id in review_ids:
            try:
                messages.append((await self.decide_review(actor, review_id, decision)).message)
            except ActionRefused as exc:
                messages.append(f"review {review_id}: {exc}")
        return messages

    # Repairs.

    async def set_tmdb_id(self, actor: str, movie_id: int, tmdb_id: int) -> ActionResult:
        """Links a movie to a TMDB id by hand, after TMDB confirms the id exists; a backfill job follows."""
        if self.tmdb is None:
            raise ActionRefused("TMDB_API_KEY is not set: the id cannot be checked", status=503)
        try:
            details = await self.tmdb.movie_details(tmdb_id)
        except TMDBNotFound as exc:
            raise ActionRefused(f"TMDB has no movie {tmdb_id}", status=422) from exc
        async with self.pool.acquire() as connection, connection.transaction():
            movie = await repository.movie_brief(connection, movie_id)
            if movie is None:
                raise NotFound(f"movie {movie_id}")
            owner = await repository.movie_id_with_tmdb_id(connection, tmdb_id)
            if owner is not None and owner != movie_id:
                raise ActionRefused(f"TMDB {tmdb_id} already belongs to movie {owner}")
            audit_id = await repository.insert_audit(
                connection,
                actor=actor,
                action="movie.set_tmdb_id",
                target=f"movie/{movie_id}",
                before={"tmdb_id": movie["tmdb_id"], "tmdb_match_source": movie["tmdb_match_source"]},
            )
            job_id = operator_job_id(audit_id)
            await repository.link_tmdb_id(connection, movie_id, tmdb_id)
            await repository.complete_audit(
                connection, audit_id, {"tmdb_id": tmdb_id, "tmdb_title": details.title, "job_id": job_id}
            )
        await self.publisher.publish(BackfillMovieRequested(job_id=job_id, movie_id=movie_id))
        return ActionResult(
            audit_id,
            f"movie {movie_id} linked to TMDB {tmdb_id} ({details.title})",
            (job_id,),
            "catalog.backfill-movie",
        )

    async def enqueue_discovery(self, actor: str, sources: Sequence[str], pages: int, language: str) -> ActionResult:
        if not sources:
            raise ActionRefused("choose at least one TMDB list", status=422)
        if not 1 <= pages <= 50 or len(sources) * pages > MAX_RUN_JOBS:
            raise ActionRefused("pages: between 1 and 50", status=422)
        audit_id = await self._audit(
            actor, "run.discovery", "catalog.discover-page", {"sources": list(sources), "pages": pages}
        )
        events = [
            DiscoverPageRequested(
                job_id=operator_job_id(audit_id, index),
                source=source,
                page=page,
                language=language,
                run_id=f"op-{audit_id}",
            )
            for index, (source, page) in enumerate(
                ((source, page) for source in sources for page in range(1, pages + 1)), start=1
            )
        ]
        results = await self.publisher.publish_many(events)
        job_ids = tuple(result.job_id for result in results)
        await self._complete(audit_id, {"job_ids": list(job_ids)})
        return ActionResult(
            audit_id, f"discovery run op-{audit_id}: {len(job_ids)} page jobs", job_ids, events[0].stream
        )

    async def enqueue_backfill(self, actor: str, movie_ids: Sequence[int] | None, limit: int) -> ActionResult:
        """Backfill jobs for the given movies, or (none given) for up to ``limit`` movies without a TMDB id."""
        if not 1 <= limit <= MAX_RUN_JOBS:
            raise ActionRefused(f"limit: between 1 and {MAX_RUN_JOBS}", status=422)
        async with self.pool.acquire() as connection:
            ids = (
                list(movie_ids)
                if movie_ids
                else await repository.movie_ids_of_finding_missing_tmdb(connection, limit=limit)
            )
        if not ids:
            raise ActionRefused("no movie to backfill", status=422)
        audit_id = await self._audit(actor, "run.backfill", "catalog.backfill-movie", {"movie_ids": ids})
        events = [
            BackfillMovieRequested(job_id=operator_job_id(audit_id, index), movie_id=movie_id)
            for index, movie_id in enumerate(ids, start=1)
        ]
        results = await self.publisher.publish_many(events)
        job_ids = tuple(result.job_id for result in results)
        await self._complete(audit_id, {"job_ids": list(job_ids)})
        return ActionResult(audit_id, f"backfill run: {len(job_ids)} jobs", job_ids, events[0].stream)

    async def reseed_curated(self, actor: str) -> ActionResult:
        audit_id = await self._audit(actor, "run.reseed_curated", "catalog.reseed-curated", None)
        event = CuratedReseedRequested(job_id=operator_job_id(audit_id))
        result = await self.publisher.publish(event)
        await self._complete(audit_id, {"job_id": event.job_id, "entry_id": result.entry_id})
        return ActionResult(audit_id, f"re-seed queued as {event.job_id}", (event.job_id,), event.stream)
