"""Stage writes: immediate with no delay, coalesced with one, never reopening a finished recommendation."""

import asyncio

from popchoice_common.recommendation import repository
from popchoice_common.recommendation.progress import StageWriter

QUIZ = [{"favoriteMovie": "Heat", "newVsClassic": "classic", "moodPreference": ["Crime"], "tonePreference": "tense"}]


async def new_recommendation(pool):
    async with pool.acquire() as connection:
        recommendation_id = await repository.create_recommendation(
            connection, slug="abcdefghijkl", quiz_data=QUIZ, locale="en-US", user_id=None
        )
    return recommendation_id


async def stage_of(pool, recommendation_id):
    return await pool.fetchval("SELECT stage FROM recommendations WHERE id = $1", recommendation_id)


async def announced(pool, recommendation_id, work):
    """The stages the database announced on recommendation_progress while work ran."""
    seen: list[str] = []
    listener = await pool.acquire()

    def heard(connection, pid, channel, payload):
        if payload.startswith(str(recommendation_id)):
            seen.append(payload.split(" ")[2])

    await listener.add_listener("recommendation_progress", heard)
    try:
        await work()
        await asyncio.sleep(0.1)  # notifications arrive asynchronously
    finally:
        await listener.remove_listener("recommendation_progress", heard)
        await pool.release(listener)
    return seen


async def test_without_a_delay_every_stage_is_written_before_its_work(db_pool):
    recommendation_id = await new_recommendation(db_pool)
    writer = StageWriter(db_pool, recommendation_id, delay_seconds=0)

    async def work():
        for stage in ("embedding", "local-search", "descriptions"):
            await writer.enter(stage)
            assert await stage_of(db_pool, recommendation_id) == stage
        await writer.close()

    assert await announced(db_pool, recommendation_id, work) == ["embedding", "local-search", "descriptions"]


async def test_stages_shorter_than_the_delay_are_not_written(db_pool):
    recommendation_id = await new_recommendation(db_pool)
    writer = StageWriter(db_pool, recommendation_id, delay_seconds=0.2)

    async def work():
        await writer.enter("embedding")
        await writer.enter("local-search")
        await writer.enter("descriptions")
        await writer.close()
        await asyncio.sleep(0.3)  # past the delay: the dropped write stays dropped

    assert await announced(db_pool, recommendation_id, work) == []
    assert await stage_of(db_pool, recommendation_id) == "queued"


async def test_a_stage_that_lasts_is_written_and_the_latest_wins(db_pool):
    recommendation_id = await new_recommendation(db_pool)
    writer = StageWriter(db_pool, recommendation_id, delay_seconds=0.05)

    async def work():
        await writer.enter("embedding")
        await writer.enter("tmdb-search")  # supersedes embedding before its delay
        await asyncio.sleep(0.3)  # tmdb-search lasts: written
        assert await stage_of(db_pool, recommendation_id) == "tmdb-search"
        await writer.enter("descriptions")
        await asyncio.sleep(0.3)
        assert await stage_of(db_pool, recommendation_id) == "descriptions"
        await writer.enter("local-search")  # closed before its delay: never written
        await writer.close()

    assert await announced(db_pool, recommendation_id, work) == ["tmdb-search", "descriptions"]
    await asyncio.sleep(0.1)
    assert await stage_of(db_pool, recommendation_id) == "descriptions"


async def test_a_finished_recommendation_is_never_reopened(db_pool):
    recommendation_id = await new_recommendation(db_pool)
    async with db_pool.acquire() as connection:
        await repository.store_batch(connection, recommendation_id, [], complete=(False, 0))
    writer = StageWriter(db_pool, recommendation_id, delay_seconds=0)
    await writer.enter("descriptions")
    late = StageWriter(db_pool, recommendation_id, delay_seconds=0.01)
    await late.enter("embedding")
    await asyncio.sleep(0.1)
    row = await db_pool.fetchrow("SELECT status, stage FROM recommendations WHERE id = $1", recommendation_id)
    assert (row["status"], row["stage"]) == ("completed", "complete")
