"""The operator console's security at the HTTP level: who may sign in, the shared failure limit, CSRF,
read-only mode, the response headers, and the start-up rules for credentials."""

import asyncpg
import pytest

from popchoice_common.errors import ConfigurationError
from popchoice_common.events import CATALOG_SEED_MOVIE
from popchoice_common.streams import StreamKeys
from popchoice_health_reporter.config import HealthSettings
from popchoice_health_reporter.security import Operators

from .console_helpers import ALICE, ALICE_PASSWORD, BOB, basic, console_settings, csrf_token_of, running_console


@pytest.fixture
def settings(database_url, redis_url, key_prefix, db_pool):
    return console_settings(database_url, redis_url, key_prefix)


async def test_healthz_answers_without_credentials(settings):
    """/healthz is open for container health checks and says PostgreSQL and Redis answer."""
    async with running_console(settings) as (client, _):
        response = await client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.parametrize("path", ["/", "/streams/catalog.seed-movie", "/catalog", "/reviews", "/static/htmx.min.js"])
async def test_every_other_page_needs_an_operator(settings, path):
    """Without credentials every page (assets included) answers 401 with the Basic challenge of the realm."""
    async with running_console(settings) as (client, _):
        response = await client.get(path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm="PopChoice operators", charset="UTF-8"'


async def test_each_listed_operator_signs_in_with_their_own_password(settings):
    """Both operators of OPERATOR_AUTH_USERS sign in; a password of the other one does not work."""
    async with running_console(settings) as (client, _):
        assert (await client.get("/", headers=ALICE)).status_code == 200
        assert (await client.get("/", headers=BOB)).status_code == 200
        crossed = await client.get("/", headers=basic("alice", "bob-battery-staple"))
    assert crossed.status_code == 401


async def test_failed_sign_ins_are_limited_per_client_through_redis(settings):
    """After OPERATOR_AUTH_MAX_FAILURES failures the client gets 429 with Retry-After, even with the right
    password, and a second console process sharing Redis refuses it too."""
    async with running_console(settings) as (client, _):
        for _ in range(3):
            assert (await client.get("/", headers=basic("alice", "wrong"))).status_code == 401
        limited = await client.get("/", headers=ALICE)
    async with running_console(settings) as (other_process, _):
        also_limited = await other_process.get("/", headers=ALICE)
    assert limited.status_code == 429 and 1 <= int(limited.headers["retry-after"]) <= 60
    assert also_limited.status_code == 429


async def test_responses_carry_a_strict_policy_and_are_never_cached(settings):
    """Pages set a CSP without inline script, X-Frame-Options DENY and Cache-Control no-store."""
    async with running_console(settings) as (client, _):
        response = await client.get("/", headers=ALICE)
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    assert "<script>" not in response.text and " on" + "click=" not in response.text


async def test_a_state_change_without_the_csrf_token_is_refused(settings, redis_client, key_prefix):
    """A POST without (or with another operator's) CSRF token answers 403 and pauses nothing."""
    async with running_console(settings) as (client, _):
        bob_token = csrf_token_of((await client.get("/", headers=BOB)).text)
        missing = await client.post(f"/streams/{CATALOG_SEED_MOVIE}/pause", headers=ALICE, data={})
        foreign = await client.post(
            f"/streams/{CATALOG_SEED_MOVIE}/pause", headers=ALICE, data={"csrf_token": bob_token}
        )
    assert missing.status_code == 403 and foreign.status_code == 403
    assert "CSRF" in missing.text
    assert not await redis_client.exists(StreamKeys(key_prefix).paused(CATALOG_SEED_MOVIE))


async def test_a_cross_origin_post_is_refused_even_with_the_token(settings, redis_client, key_prefix):
    """An Origin that is not the console's own is refused before anything changes."""
    async with running_console(settings) as (client, _):
        token = csrf_token_of((await client.get("/", headers=ALICE)).text)
        response = await client.post(
            f"/streams/{CATALOG_SEED_MOVIE}/pause",
            headers={**ALICE, "Origin": "https://evil.example"},
            data={"csrf_token": token},
        )
    assert response.status_code == 403
    assert not await redis_client.exists(StreamKeys(key_prefix).paused(CATALOG_SEED_MOVIE))


async def test_read_only_mode_hides_and_refuses_every_action(
    database_url, redis_url, key_prefix, db_pool, redis_client
):
    """With OPERATOR_READ_ONLY no page shows an action form, and a POST with a valid token answers 403."""
    settings = console_settings(database_url, redis_url, key_prefix, operator_read_only=True)
    async with running_console(settings) as (client, console):
        page = await client.get("/", headers=ALICE)
        token = console.csrf.token_for("alice")
        response = await client.post(f"/streams/{CATALOG_SEED_MOVIE}/pause", headers=ALICE, data={"csrf_token": token})
    assert page.status_code == 200 and "read-only" in page.text
    assert 'method="post"' not in page.text
    assert response.status_code == 403 and "read-only" in response.text
    assert not await redis_client.exists(StreamKeys(key_prefix).paused(CATALOG_SEED_MOVIE))
    async with db_pool.acquire() as connection:
        assert await connection.fetchval("SELECT count(*) FROM operator_audit") == 0


async def test_an_action_is_audited_with_the_operator_who_did_it(
    settings, db_pool: asyncpg.Pool, redis_client, key_prefix
):
    """Pausing with the token pauses the stream in Redis and records who did it, before and after."""
    async with running_console(settings) as (client, _):
        token = csrf_token_of((await client.get("/", headers=BOB)).text)
        response = await client.post(f"/streams/{CATALOG_SEED_MOVIE}/pause", headers=BOB, data={"csrf_token": token})
    assert response.status_code == 303
    assert await redis_client.exists(StreamKeys(key_prefix).paused(CATALOG_SEED_MOVIE))
    async with db_pool.acquire() as connection:
        row = await connection.fetchrow("SELECT actor, action, target, before, after FROM operator_audit")
    assert dict(row) == {
        "actor": "bob",
        "action": "stream.pause",
        "target": CATALOG_SEED_MOVIE,
        "before": '{"paused": false}',
        "after": '{"paused": true}',
    }


def test_the_console_refuses_a_public_address_without_credentials():
    """On a non-loopback address without OPERATOR_AUTH_* the console does not start."""
    settings = HealthSettings(operator_console_host="0.0.0.0")
    with pytest.raises(ConfigurationError, match="not loopback"):
        Operators.from_settings(settings)


def test_on_loopback_without_credentials_a_password_is_generated():
    """On loopback without credentials a fresh password is generated, and only it signs in as operator."""
    operators, generated = Operators.from_settings(HealthSettings(operator_console_host="127.0.0.1"))
    _, another = Operators.from_settings(HealthSettings(operator_console_host="127.0.0.1"))
    assert generated and another and generated != another
    assert operators.verify("operator", generated) and not operators.verify("operator", another)


def test_the_single_username_and_password_pair_is_one_operator():
    """OPERATOR_AUTH_USERNAME and OPERATOR_AUTH_PASSWORD sign in that operator, on any address."""
    settings = HealthSettings(
        operator_console_host="0.0.0.0", operator_auth_username="ops", operator_auth_password="a long secret"
    )
    operators, generated = Operators.from_settings(settings)
    assert generated is None
    assert operators.verify("ops", "a long secret") and not operators.verify("ops", "a long secreT")


async def test_a_failed_sign_in_is_logged_without_the_password(settings, capsys):
    """The failure is logged with the client address; neither the tried password nor a real one appears."""
    async with running_console(settings) as (client, _):
        await client.get("/", headers=basic("alice", "tried-secret-1234"))
        await client.get("/", headers=ALICE)
    output = capsys.readouterr()
    logged = output.out + output.err
    assert "operator_sign_in_failed" in logged and "203.0.113.7" in logged
    assert "tried-secret-1234" not in logged and ALICE_PASSWORD not in logged
