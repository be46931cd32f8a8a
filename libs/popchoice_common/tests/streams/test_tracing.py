"""Tracing: one trace from the span that publishes a job through every attempt at it and the jobs its
handler publishes; one span per attempt with its number and outcome (in-memory exporter)."""

import asyncio
from typing import Any

import msgspec

from popchoice_common import tracing
from popchoice_common.errors import RetryableError
from popchoice_common.events import CATALOG_SEED_MOVIE, MOVIE_SEED_REQUESTED, MovieSeedRequested, SeedMovieRequested
from popchoice_common.streams import Publisher, StreamPolicy, Worker

from .test_worker import Running


def test_without_an_endpoint_tracing_stays_off(monkeypatch):
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    assert tracing.configure_tracing("tests") is False


async def test_one_trace_from_the_publisher_through_each_attempt_and_the_jobs_it_publishes(
    spans, redis_client, keys, wait_for
):
    publisher = Publisher(redis_client, keys)
    seen = []

    async def seed(event, context):
        if context.attempt == 1:
            raise RetryableError("TMDB answered 503")
        await publisher.publish(MovieSeedRequested.for_movie(event.tmdb_id, "en-US"))

    async def jit(event, context):
        seen.append(event.traceparent)

    worker = Worker(redis_client, service="tests", keys=keys, consumer="c1", block_ms=100, mover_interval_seconds=0.02)
    policy = StreamPolicy(max_attempts=3, backoff_ms=20)
    worker.subscribe(CATALOG_SEED_MOVIE, seed, policy=policy)
    worker.subscribe(MOVIE_SEED_REQUESTED, jit, policy=policy)
    with tracing.tracer().start_as_current_span("POST /api/recommendations") as root:
        await publisher.publish(SeedMovieRequested.for_movie(42))
    async with Running(worker):
        await wait_for(lambda: asyncio.sleep(0, result=len(seen) == 1), limit=15)
        await asyncio.sleep(0.1)
    finished = spans.get_finished_spans()
    by_name: dict[str, list[Any]] = {}  # finished spans (their optional fields are set here)
    for span in finished:
        by_name.setdefault(span.name, []).append(span)
    trace_id = root.get_span_context().trace_id
    assert {span.context.trace_id for span in finished} == {trace_id}
    attempts = sorted(by_name["catalog.seed-movie process"], key=lambda span: span.attributes["popchoice.job.attempt"])
    assert [(s.attributes["popchoice.job.attempt"], s.attributes["popchoice.job.outcome"]) for s in attempts] == [
        (1, "retrying"),
        (2, "completed"),
    ]
    assert all(span.parent.span_id == root.get_span_context().span_id for span in attempts)
    (child,) = by_name["movie-seed.requested process"]
    assert child.parent.span_id == attempts[1].context.span_id  # published by the second attempt
    assert child.attributes["popchoice.job.outcome"] == "completed"
    assert child.attributes["messaging.message.id"] == "jit-seed:42:en-US"


async def test_with_tracing_off_events_carry_no_traceparent(redis_client, keys):
    tracing._state["enabled"] = False
    publisher = Publisher(redis_client, keys)
    await publisher.publish(SeedMovieRequested.for_movie(7))
    ((_, entries),) = await redis_client.xread({keys.stream(CATALOG_SEED_MOVIE): "0"})
    assert msgspec.json.decode(entries[0][1][b"data"], type=SeedMovieRequested).traceparent is None
