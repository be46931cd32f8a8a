import pytest

from popchoice_common.testing.fake_tmdb import API_KEY
from popchoice_common.tmdb import LocalRateLimiter, TMDBClient

IMAGES = "https://images.test/t/p"


@pytest.fixture
async def tmdb_client(fake_tmdb):
    """A TMDB client on the fake server, with an in-process limiter that never holds back."""
    client = TMDBClient(
        api_key=API_KEY,
        limiter=LocalRateLimiter(requests_per_window=10_000, window_ms=1000),
        base_url=fake_tmdb.base_url,
        retry_backoff_seconds=0.01,
    )
    yield client
    await client.aclose()


@pytest.fixture
def seed_options():
    return {"language": "en-US", "image_base_url": IMAGES}
