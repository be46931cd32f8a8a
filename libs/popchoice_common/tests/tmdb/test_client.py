import json
import subprocess
import sys
import time

import pytest

from popchoice_common.keyspace import Keyspace
from popchoice_common.logs import configure_logging
from popchoice_common.testing.fake_tmdb import API_KEY, make_movie
from popchoice_common.tmdb import RedisRateLimiter, TMDBClient, us_certification
from popchoice_common.tmdb.errors import (
    TMDBBadData,
    TMDBNotFound,
    TMDBRateLimited,
    TMDBUnauthorized,
    TMDBUnavailable,
    TMDBWaitTooLong,
)


@pytest.fixture
def limiter(redis_client, key_prefix):
    return RedisRateLimiter(redis_client, prefix=key_prefix, requests_per_window=1000, window_ms=1000)


@pytest.fixture
async def make_client(fake_tmdb, limiter):
    made = []

    def make(**overrides):
        options = {"timeout_seconds": 0.5, "retry_backoff_seconds": 0.01, "backoff_429_ms": 700, **overrides}
        made.append(TMDBClient(api_key=API_KEY, limiter=limiter, base_url=fake_tmdb.base_url, **options))
        return made[-1]

    yield make
    for tmdb in made:
        await tmdb.aclose()


@pytest.fixture
def client(make_client):
    return make_client()


@pytest.fixture
def no_retry_client(make_client):
    """A client with TMDB_MAX_RETRIES=0: the first 429 is already past the limit."""
    return make_client(max_retries=0)


async def test_lists_decode_with_paging_and_dates(fake_tmdb, client):
    """A list page decodes with its films, total_pages and the dates now_playing carries."""
    fake_tmdb.state.add(*(make_movie(i, f"Film {i}", lists={"now_playing"}) for i in range(1, 26)))
    first = await client.movie_list("now_playing", 1)
    second = await client.movie_list("now_playing", 2)
    assert (len(first.results), len(second.results), first.total_pages) == (20, 5, 2)
    assert first.dates is not None and first.dates.minimum
    assert fake_tmdb.requests[0].query["language"] == "en-US"
    assert fake_tmdb.requests[0].headers["Authorization"] == f"Bearer {API_KEY}"


async def test_details_bring_credits_keywords_and_certification(fake_tmdb, client):
    """movie/{id} appends release dates, credits and keywords; the US theatrical certification is read."""
    fake_tmdb.state.add(make_movie(603, "The Matrix", us_release_dates=[(1, "PG-13"), (3, "R")], runtime=136))
    details = await client.movie_details(603)
    assert details.runtime == 136 and us_certification(details) == "R"
    assert details.credits is not None and details.credits.cast and details.keywords is not None
    assert fake_tmdb.requests[0].query["append_to_response"] == "release_dates,credits,keywords"


async def test_page_above_500_is_refused_before_any_request(fake_tmdb, client):
    """TMDB rejects pages above 500, so the client does not spend a request on one."""
    with pytest.raises(ValueError, match="500"):
        await client.movie_list("popular", 501)
    assert fake_tmdb.requests == []


async def test_unknown_film_is_a_permanent_not_found(fake_tmdb, client):
    """A 404 raises TMDBNotFound with TMDB's status_message."""
    with pytest.raises(TMDBNotFound, match="could not be found") as caught:
        await client.movie_details(999)
    assert not caught.value.retryable


async def test_bad_key_is_refused_and_never_shown(fake_tmdb, limiter, capsys):
    """A refused key raises TMDBUnauthorized; the key appears in no error and no log line."""
    configure_logging("INFO", "json")
    secret = "tmdb-secret-token-123456"
    tmdb = TMDBClient(api_key=secret, limiter=limiter, base_url=fake_tmdb.base_url, retry_backoff_seconds=0.01)
    fake_tmdb.state.fail_next(503)
    with pytest.raises(TMDBUnauthorized) as caught:
        await tmdb.movie_list("popular")
    await tmdb.aclose()
    assert secret not in str(caught.value) and secret not in capsys.readouterr().out


async def test_server_errors_are_retried(fake_tmdb, client):
    """5xx answers are retried with backoff and the request then succeeds."""
    fake_tmdb.state.add(make_movie(1, "One"))
    fake_tmdb.state.fail_next(502, count=2)
    assert (await client.movie_details(1)).title == "One"
    assert [request.status for request in fake_tmdb.requests] == [502, 502, 200]


async def test_persistent_server_errors_become_retryable_failures(fake_tmdb, client):
    """When retries run out the error is retryable, for the job runtime to try later."""
    fake_tmdb.state.fail_next(500, count=10)
    with pytest.raises(TMDBUnavailable) as caught:
        await client.movie_list("popular")
    assert caught.value.retryable and len(fake_tmdb.requests) == 4


async def test_timeouts_are_retried(fake_tmdb, client):
    """A response slower than the timeout is retried."""
    fake_tmdb.state.add(make_movie(1, "One"))
    fake_tmdb.state.slow_next(1.0)
    assert (await client.movie_details(1)).id == 1


async def test_malformed_json_is_bad_data(fake_tmdb, client):
    """A body that is not valid JSON raises a permanent TMDBBadData."""
    fake_tmdb.state.add(make_movie(1, "One"))
    fake_tmdb.state.malformed_next()
    with pytest.raises(TMDBBadData):
        await client.movie_details(1)


async def test_missing_required_fields_are_bad_data(fake_tmdb, client):
    """A film without its id does not decode into a half-filled object."""
    fake_tmdb.state.add(make_movie(1, "One"))
    fake_tmdb.state.omit_fields = {"id"}
    with pytest.raises(TMDBBadData, match="id"):
        await client.movie_details(1)


PROBE = """
import asyncio, sys, time
import redis.asyncio as redis
from popchoice_common.tmdb import RateLimitWaitTooLong, RedisRateLimiter
async def main():
    client = redis.Redis.from_url(sys.argv[1])
    limiter = RedisRateLimiter(client, prefix=sys.argv[2], requests_per_window=1000, window_ms=1000)
    try:
        await limiter.acquire("interactive", deadline=time.monotonic())
        print("started")
    except RateLimitWaitTooLong:
        print("held")
    await client.aclose()
asyncio.run(main())
"""


def probe_another_process(redis_url, prefix):
    """What another process is told when it asks for a TMDB slot with no time to wait: "held" or "started"."""
    out = subprocess.run([sys.executable, "-c", PROBE, redis_url, prefix], capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


async def redis_now_ms(redis_client):
    """Redis's clock in milliseconds, the clock the shared limiter records its pauses by."""
    seconds, microseconds = await redis_client.time()
    return seconds * 1000 + microseconds // 1000


async def recorded_pause_end(redis_client, key_prefix):
    """When the pause the limiter recorded in Redis ends (Redis ms)."""
    return int(await redis_client.get(Keyspace(key_prefix).tmdb_paused_until()))


async def test_429_with_retry_after_pauses_every_process(
    fake_tmdb, no_retry_client, redis_client, redis_url, key_prefix
):
    """A 429 with Retry-After: 30 records a 30 s pause in Redis that holds every process's TMDB requests."""
    # 30 s: a probe process that is slow to start under load still finds the pause; nothing waits it out.
    fake_tmdb.state.force_429(retry_after=30)
    before = await redis_now_ms(redis_client)
    with pytest.raises(TMDBRateLimited) as caught:
        await no_retry_client.movie_list("popular")
    after = await redis_now_ms(redis_client)
    assert caught.value.retry_after_seconds == 30 and caught.value.retryable
    assert before + 30_000 <= await recorded_pause_end(redis_client, key_prefix) <= after + 30_000
    assert probe_another_process(redis_url, key_prefix) == "held"


async def test_429_without_retry_after_uses_the_configured_backoff(fake_tmdb, make_client, redis_client, key_prefix):
    """Without Retry-After the pause recorded for every process is CATALOG_TMDB_429_BACKOFF_MS (30 s here)."""
    tmdb = make_client(max_retries=0, backoff_429_ms=30_000)
    fake_tmdb.state.force_429(retry_after=None)
    before = await redis_now_ms(redis_client)
    with pytest.raises(TMDBRateLimited) as caught:
        await tmdb.movie_list("popular")
    after = await redis_now_ms(redis_client)
    assert caught.value.retry_after_seconds is None
    assert before + 30_000 <= await recorded_pause_end(redis_client, key_prefix) <= after + 30_000


async def test_http_date_retry_after_is_honoured(fake_tmdb, no_retry_client):
    """Retry-After as an HTTP date is turned into seconds."""
    import email.utils

    fake_tmdb.state.force_429(retry_after=email.utils.formatdate(time.time() + 60, usegmt=True))
    with pytest.raises(TMDBRateLimited) as caught:
        await no_retry_client.movie_list("popular")
    # The date has whole seconds and is read when the answer arrives: any time in the minute before it.
    assert 30 <= caught.value.retry_after_seconds <= 60


async def test_a_429_is_waited_out_and_the_request_retried(fake_tmdb, client):
    """After a 429 with Retry-After: 1 the same request is sent again once the pause has passed, and succeeds."""
    fake_tmdb.state.add(make_movie(1, "One", lists={"popular"}))
    fake_tmdb.state.force_429(retry_after=1)
    page = await client.movie_list("popular")
    assert [movie.id for movie in page.results] == [1]
    limited, retried = fake_tmdb.requests
    assert (limited.status, retried.status) == (429, 200) and retried.query == limited.query
    assert retried.time - limited.time >= 0.9  # not before Retry-After (1 s, less clock granularity)


async def test_a_429_past_the_retry_limit_gives_up_that_request(fake_tmdb, make_client):
    """A 429 answered to every one of 1 + TMDB_MAX_RETRIES attempts raises a retryable TMDBRateLimited."""
    tmdb = make_client(max_retries=2, backoff_429_ms=50)
    fake_tmdb.state.force_429(count=5, retry_after=None)
    with pytest.raises(TMDBRateLimited) as caught:
        await tmdb.movie_list("popular")
    assert caught.value.attempts == 3 and caught.value.retryable and "429 3 times" in str(caught.value)
    assert [request.status for request in fake_tmdb.requests] == [429, 429, 429]


async def test_an_interactive_request_does_not_wait_out_a_long_pause(fake_tmdb, make_client, limiter):
    """With every process paused longer than TMDB_INTERACTIVE_MAX_WAIT_MS, a person's request gives up at once."""
    tmdb = make_client(interactive_max_wait_ms=300)
    await limiter.pause(5000)
    with pytest.raises(TMDBWaitTooLong) as caught:
        await tmdb.discover({}, priority="interactive")
    assert caught.value.wait_seconds > 0.3 and caught.value.retryable
    assert fake_tmdb.requests == []


async def test_an_interactive_request_waits_out_a_short_429(fake_tmdb, make_client):
    """A 429 whose Retry-After fits in TMDB_INTERACTIVE_MAX_WAIT_MS is waited out for a person too."""
    tmdb = make_client(interactive_max_wait_ms=3000)
    fake_tmdb.state.add(make_movie(1, "One"))
    fake_tmdb.state.force_429(retry_after=1)
    assert [movie.id for movie in (await tmdb.discover({}, priority="interactive")).results] == [1]
    assert [request.status for request in fake_tmdb.requests] == [429, 200]


async def test_an_interactive_request_gives_up_a_429_longer_than_its_bound(fake_tmdb, make_client):
    """A 429 whose Retry-After is past TMDB_INTERACTIVE_MAX_WAIT_MS is not retried for a person."""
    tmdb = make_client(interactive_max_wait_ms=500)
    fake_tmdb.state.force_429(retry_after=5)
    with pytest.raises(TMDBWaitTooLong):
        await tmdb.discover({}, priority="interactive")
    assert [request.status for request in fake_tmdb.requests] == [429]


async def test_an_interactive_request_does_not_back_off_past_its_bound(fake_tmdb, make_client):
    """A 5xx retry whose backoff would outlast TMDB_INTERACTIVE_MAX_WAIT_MS is not waited for."""
    tmdb = make_client(interactive_max_wait_ms=200, retry_backoff_seconds=1.0)
    fake_tmdb.state.fail_next(502)
    with pytest.raises(TMDBWaitTooLong):
        await tmdb.discover({}, priority="interactive")
    assert [request.status for request in fake_tmdb.requests] == [502]


def test_error_messages_are_json_safe():
    """Error strings carry the path and status, fit for a dead letter."""
    assert json.dumps(str(TMDBNotFound("/movie/1", 404, "gone")))
