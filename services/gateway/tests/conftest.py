import pytest
from fastapi.testclient import TestClient

from popchoice_common.testing.factories import insert_api_key
from popchoice_gateway.app import create_app
from popchoice_gateway.config import GatewaySettings

API_KEY = "gateway-test-key"
QUIZ = {"favoriteMovie": "Heat", "newVsClassic": "classic", "moodPreference": ["Crime"], "tonePreference": "tense"}


@pytest.fixture
def gateway_env(monkeypatch, database_url, redis_url, key_prefix, tmp_path):
    for name, value in {
        # Argon2id at its cheapest: the suite hashes hundreds of passwords.
        "PASSWORD_HASH_TIME_COST": "1",
        "PASSWORD_HASH_MEMORY_KIB": "8",
        "PASSWORD_HASH_PARALLELISM": "1",
        "DATA_DIR": str(tmp_path),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "STREAM_KEY_PREFIX": key_prefix,
        "EMBEDDING_PROVIDER": "hash",
        "LOG_FORMAT": "json",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("OPENAI_API_KEY", "TMDB_API_KEY", "SMTP_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def api_key(db_pool):
    """An API key the gateway knows (committed: the app under test reads it on its own pool)."""
    await insert_api_key(db_pool, API_KEY, name="t")
    return API_KEY


@pytest.fixture
def client(gateway_env, api_key):
    """The gateway app in-process (lifespan run), authenticated with an API key."""
    with TestClient(create_app(GatewaySettings()), headers={"X-API-Key": api_key}) as test_client:
        yield test_client
