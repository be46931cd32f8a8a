"""Outages: a job failing because PostgreSQL or Redis is not answering waits the outage out instead of
spending its attempts, and an outage is logged once when it starts and once when it ends."""

import asyncio
import time

import asyncpg
import pytest
import structlog.testing
from redis.exceptions import ConnectionError as RedisConnectionError

from popchoice_common.errors import RetryableError, is_outage
from popchoice_common.events import CATALOG_SEED_MOVIE, SeedMovieRequested
from popchoice_common.streams import StreamPolicy, Worker
from popchoice_common.streams.outage import OutageLog, backoff_seconds

from .test_worker import Running, _job_state

POLICY = StreamPolicy(max_attempts=2, backoff_ms=20, visibility_timeout_ms=5000, max_reclaims=2)


def worker_for(client, keys, handler, *, window_seconds=60.0):
    worker = Worker(
        client,
        service="tests",
        keys=keys,
        consumer="c1",
        block_ms=100,
        mover_interval_seconds=0.02,
        outage_window_seconds=window_seconds,
        outage_backoff_ms=(10, 40),
    )
    worker.subscribe(CATALOG_SEED_MOVIE, handler, policy=POLICY)
    return worker


def raised_from(cause: BaseException) -> RetryableError:
    try:
        try:
            raise cause
        except BaseException as inner:
            raise RetryableError("the catalog is unavailable") from inner
    except RetryableError as outer:
        return outer


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ConnectionRefusedError(111, "Connection refused"), True),
        (asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"), True),
        (asyncpg.CannotConnectNowError("the database system is starting up"), True),
        (asyncpg.AdminShutdownError("terminating connection due to administrator command"), True),
        (asyncpg.InterfaceError("connection is closed"), True),
        (RedisConnectionError("Error 111 connecting to 127.0.0.1:6379"), True),
        (raised_from(ConnectionResetError()), True),
        (asyncpg.UniqueViolationError("duplicate key"), False),
        (asyncpg.InterfaceError("cannot perform operation: another operation is in progress"), False),
        (RetryableError("TMDB answered 503"), False),
        (ValueError("bad input"), False),
    ],
)
def test_what_counts_as_an_outage(error, expected):
    assert is_outage(error) is expected


def test_backoff_doubles_and_is_capped():
    assert [backoff_seconds(n) for n in range(1, 8)] == [0.25, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0]


async def test_a_job_waits_out_an_outage_without_spending_its_attempts(redis_client, keys, publisher, wait_for):
    """Five failures in a row on a dead connection, with two attempts allowed: still completed, not dead."""
    runs = []

    async def handle(event, context):
        runs.append(context.attempt)
        if len(runs) <= 5:
            raise ConnectionRefusedError(111, "Connection refused")

    event = SeedMovieRequested.for_movie(7)
    await publisher.publish(event)
    async with Running(worker_for(redis_client, keys, handle)):
        job = await wait_for(lambda: _job_state(redis_client, keys, event.job_id, "completed"), limit=15)
    assert runs == [1, 1, 1, 1, 1, 1]  # the outage never spent the attempt
    assert job.attempts == 1
    assert await redis_client.xlen(keys.dead(CATALOG_SEED_MOVIE)) == 0


async def test_an_outage_longer_than_the_window_counts_attempts_again(redis_client, keys, publisher, wait_for):
    """Past STREAM_OUTAGE_WINDOW_SECONDS the failures are ordinary retryable ones: the job ends dead."""
    runs = []

    async def handle(event, context):
        runs.append(context.attempt)
        await asyncio.sleep(0.05)
        raise ConnectionRefusedError(111, "Connection refused")

    event = SeedMovieRequested.for_movie(8)
    await publisher.publish(event)
    async with Running(worker_for(redis_client, keys, handle, window_seconds=0.3)):
        job = await wait_for(lambda: _job_state(redis_client, keys, event.job_id, "dead"), limit=15)
    assert job.attempts == 2
    assert runs[-1] == 2 and runs.count(1) >= 2  # uncounted repeats of attempt 1 inside the window


async def test_an_ordinary_failure_still_counts(redis_client, keys, publisher, wait_for):
    async def handle(event, context):
        raise RetryableError("TMDB answered 503")

    event = SeedMovieRequested.for_movie(9)
    await publisher.publish(event)
    async with Running(worker_for(redis_client, keys, handle)):
        job = await wait_for(lambda: _job_state(redis_client, keys, event.job_id, "dead"), limit=15)
    assert job.attempts == 2


def test_an_outage_is_one_warning_and_one_recovery_line():
    outage = OutageLog("redis", service="tests", settle_seconds=0.2)
    error = RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
    with structlog.testing.capture_logs() as lines:
        for _ in range(40):  # every loop of every stream meeting the same outage
            outage.failed(error, stream="s")
        outage.succeeded()  # answering again...
        outage.failed(error, stream="s")  # ...but a connection opened before the restart fails once: same outage
        outage.succeeded()
        assert outage.down
        time.sleep(0.25)
        outage.succeeded()  # answering for settle_seconds: the outage is over
        assert not outage.down
        outage.succeeded()  # nothing more once it has recovered
    assert [line["event"] for line in lines] == ["redis_unavailable", "redis_recovered"]
    assert lines[0]["log_level"] == "warning" and "Connection refused" in lines[0]["error"]
    assert lines[1]["failed_calls"] == 41 and lines[1]["outage_seconds"] >= 0
