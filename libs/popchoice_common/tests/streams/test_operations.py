"""Trimming, consumer clean-up, the operations API, the CLI and the AsyncAPI document."""

import asyncio
import json

from popchoice_common.asyncapi import asyncapi_document
from popchoice_common.events import CATALOG_SEED_MOVIE, STREAM_EVENTS, SeedMovieRequested
from popchoice_common.streams import StreamPolicy, Worker, trim_stream
from popchoice_common.streams.cli import main as jobs_cli


async def test_trimming_never_removes_pending_or_undelivered_entries(redis_client, keys, publisher):
    """XTRIM MINID cuts only below the oldest entry a group still needs."""
    stream = keys.stream(CATALOG_SEED_MOVIE)
    await redis_client.xgroup_create(stream, "g1", id="0", mkstream=True)
    await redis_client.xgroup_create(stream, "g2", id="0")
    results = await publisher.publish_many([SeedMovieRequested.for_movie(i) for i in range(10)])
    ids = [result.entry_id for result in results]
    # g1 has read and acked all but entry 3 (pending); g2 has read and acked the first six.
    await redis_client.xreadgroup("g1", "a", {stream: ">"}, count=10)
    await redis_client.xack(stream, "g1", *[entry for index, entry in enumerate(ids) if index != 3])
    await redis_client.xreadgroup("g2", "b", {stream: ">"}, count=6)
    await redis_client.xack(stream, "g2", *ids[:6])

    removed = await trim_stream(redis_client, stream)

    remaining = [entry_id.decode() for entry_id, _ in await redis_client.xrange(stream)]
    assert removed == 3 and remaining == ids[3:]
    pending = await redis_client.xpending_range(stream, "g1", min="-", max="+", count=10)
    assert [item["message_id"].decode() for item in pending] == [ids[3]]


async def test_streams_without_groups_are_not_trimmed(redis_client, keys, publisher):
    """Entries nobody has consumed yet are kept even when no group exists."""
    await publisher.publish_many([SeedMovieRequested.for_movie(i) for i in range(3)])
    assert await trim_stream(redis_client, keys.stream(CATALOG_SEED_MOVIE)) == 0
    assert await redis_client.xlen(keys.stream(CATALOG_SEED_MOVIE)) == 3


async def test_idle_consumers_with_nothing_pending_are_removed(redis_client, keys):
    """A consumer that left nothing pending and has been idle long is removed from the group; others stay."""
    stream = keys.stream(CATALOG_SEED_MOVIE)
    await redis_client.xgroup_create(stream, "tests", id="0", mkstream=True)
    await redis_client.xadd(stream, {"job_id": "x", "data": b"{}"})
    await redis_client.xreadgroup("tests", "gone-with-pending", {stream: ">"}, count=1)
    await redis_client.xgroup_createconsumer(stream, "tests", "gone-empty")

    async def handle(event, context):
        return None

    worker = Worker(redis_client, service="tests", keys=keys, consumer="me", dead_consumer_idle_ms=50)
    worker.subscribe(CATALOG_SEED_MOVIE, handle, policy=StreamPolicy(visibility_timeout_ms=50))
    await redis_client.xgroup_createconsumer(stream, "tests", "me")
    await asyncio.sleep(0.1)
    await worker.trim_and_clean()
    names = {consumer["name"].decode() for consumer in await redis_client.xinfo_consumers(stream, "tests")}
    assert names == {"gone-with-pending", "me"}


async def test_stats_report_groups_consumers_and_counters(redis_client, keys, publisher, admin):
    """Stats show length, pending, lag, oldest pending age, consumers and counters per stream."""
    stream = keys.stream(CATALOG_SEED_MOVIE)
    await publisher.publish_many([SeedMovieRequested.for_movie(i) for i in range(4)])
    await redis_client.xgroup_create(stream, "svc", id="0")
    await redis_client.xreadgroup("svc", "worker-1", {stream: ">"}, count=1)
    (stats,) = await admin.stats([CATALOG_SEED_MOVIE])
    assert stats.length == 4 and stats.counters["enqueued"] == 4 and not stats.paused
    (group,) = stats.groups
    assert (group.name, group.pending, group.lag) == ("svc", 1, 3)
    assert group.oldest_pending_age_ms is not None and group.oldest_pending_age_ms >= 0
    assert [(consumer.name, consumer.pending) for consumer in group.consumers] == [("worker-1", 1)]
    assert {item.stream for item in await admin.stats()} == set(STREAM_EVENTS)


async def test_dead_letters_can_be_listed_shown_deleted_and_purged(redis_client, keys, admin):
    """Dead letters are inspected one by one and deleted singly or all at once."""
    dead = keys.dead(CATALOG_SEED_MOVIE)
    first = (await redis_client.xadd(dead, {"job_id": "a", "data": b"{}", "error": "boom", "attempts": 2})).decode()
    await redis_client.xadd(dead, {"job_id": "b", "data": b"{}", "error": "bang", "attempts": 1})
    letters = await admin.dead_letters(CATALOG_SEED_MOVIE)
    assert [(letter.job_id, letter.attempts) for letter in letters] == [("a", 2), ("b", 1)]
    assert (await admin.dead_letter(CATALOG_SEED_MOVIE, first)).error == "boom"
    assert await admin.delete_dead(CATALOG_SEED_MOVIE, first)
    assert await admin.purge_dead(CATALOG_SEED_MOVIE) == 1
    assert await admin.dead_letters(CATALOG_SEED_MOVIE) == []


async def test_retry_all_re_enqueues_every_dead_letter(redis_client, keys, admin):
    """Retrying all dead letters puts each job back on its stream with attempts reset."""
    dead = keys.dead(CATALOG_SEED_MOVIE)
    for tmdb_id in (1, 2):
        event = SeedMovieRequested.for_movie(tmdb_id)
        await redis_client.xadd(dead, {"job_id": event.job_id, "data": b"{}", "error": "x", "attempts": 4})
    assert await admin.retry_all_dead(CATALOG_SEED_MOVIE) == 2
    assert await redis_client.xlen(keys.stream(CATALOG_SEED_MOVIE)) == 2
    assert await redis_client.xlen(dead) == 0


def test_jobs_cli_prints_stats_as_json(redis_url, key_prefix, monkeypatch, capsys):
    """`popchoice-jobs stats --json` prints the operations API's view of every stream."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("STREAM_KEY_PREFIX", key_prefix)
    assert jobs_cli(["pause", CATALOG_SEED_MOVIE]) == 0
    capsys.readouterr()
    assert jobs_cli(["stats", CATALOG_SEED_MOVIE, "--json"]) == 0
    (stats,) = json.loads(capsys.readouterr().out)
    assert stats["stream"] == CATALOG_SEED_MOVIE and stats["paused"] is True
    assert jobs_cli(["resume", CATALOG_SEED_MOVIE]) == 0
    assert jobs_cli(["dead", "retry", CATALOG_SEED_MOVIE, "0-1"]) == 1
    assert jobs_cli(["stats", "no.such.stream"]) == 2


def test_asyncapi_document_covers_every_event():
    """The AsyncAPI document has a channel, a receive operation and a payload schema for every stream."""
    document = asyncapi_document("popchoice:")
    assert document["asyncapi"].startswith("3.")
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert addresses == {f"{{popchoice:{stream}}}" for stream in STREAM_EVENTS}
    schemas = document["components"]["schemas"]
    for event_type in STREAM_EVENTS.values():
        properties = schemas[event_type.__name__]["properties"]
        assert {"type", "job_id", "schema_version"} <= set(properties)
    assert len(document["operations"]) == len(STREAM_EVENTS)
