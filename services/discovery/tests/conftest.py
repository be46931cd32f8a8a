import pytest

from popchoice_common.bootstrap import Resources
from popchoice_common.streams import Publisher, StreamKeys
from popchoice_common.testing.fake_tmdb import API_KEY, make_movie
from popchoice_common.tmdb import RedisRateLimiter, TMDBClient
from popchoice_discovery.config import DiscoverySettings

OVERVIEW = "A long enough overview that tells what the film is about, its tone and its premise in full."


def good_film(tmdb_id, lists, **overrides):
    """A film that clears the quality bar, on the given TMDB lists."""
    fields = {"vote_count": 2000, "vote_average": 7.8, "overview": OVERVIEW, "lists": set(lists)}
    fields.update(overrides)
    return make_movie(tmdb_id, f"Discovered {tmdb_id}", **fields)


@pytest.fixture
def settings(key_prefix, fake_tmdb, monkeypatch):
    monkeypatch.setenv("TMDB_API_KEY", API_KEY)
    return DiscoverySettings(
        stream_key_prefix=key_prefix,
        tmdb_base_url=fake_tmdb.base_url,
        tmdb_image_base_url="https://images.test/t/p",
        max_pages_per_source=2,
    )


@pytest.fixture
async def resources(db_pool, redis_client, key_prefix, fake_tmdb, hash_embedder, settings):
    limiter = RedisRateLimiter(redis_client, prefix=key_prefix, requests_per_window=10_000, window_ms=1000)
    tmdb = TMDBClient(api_key=API_KEY, limiter=limiter, base_url=fake_tmdb.base_url, retry_backoff_seconds=0.01)
    yield Resources(
        settings=settings,
        pool=db_pool,
        redis=redis_client,
        publisher=Publisher(redis_client, StreamKeys(key_prefix)),
        embedder=hash_embedder,
        tmdb=tmdb,
    )
    await tmdb.aclose()


@pytest.fixture
def add_films(fake_tmdb):
    def add(*films):
        fake_tmdb.state.add(*films)

    return add
