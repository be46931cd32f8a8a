"""Accounts, sessions, CSRF and abuse limits through the real gateway app, PostgreSQL and Redis."""

import datetime as dt
import hashlib
import re
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from popchoice_common.testing.factories import (
    insert_api_key,
    insert_feedback,
    insert_interaction,
    insert_pick,
    insert_recommendation,
)
from popchoice_gateway.app import create_app
from popchoice_gateway.config import GatewaySettings

from .accounts_helpers import PASSWORD, Browser
from .conftest import QUIZ


@pytest.fixture
def gateway(gateway_env, db_pool, redis_client):
    """The gateway in-process; its database rows and Redis keys are removed after the test."""
    with TestClient(create_app(GatewaySettings())) as client:
        yield client


def browser(gateway: TestClient) -> Browser:
    return Browser(gateway).open()


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def outbox_messages(data_dir: Path):
    return [
        message_from_bytes(path.read_bytes(), policy=policy.default) for path in sorted(data_dir.glob("outbox/*.eml"))
    ]


def reset_token_in(message) -> str:
    body = message.get_body(("plain",)).get_content()
    match = re.search(r"/reset-password\?token=([A-Za-z0-9_-]+)", body)
    assert match, body
    return match.group(1)


# --- registration ---------------------------------------------------------------------------------


async def test_register_signs_in_with_an_httponly_lax_cookie_and_stores_only_digests(gateway, db_pool):
    """Registering answers 201 signed in; the cookie is HttpOnly and SameSite=Lax; the password is an
    Argon2id hash and the session id is stored only as its SHA-256 digest."""
    ada = browser(gateway)
    answer = ada.register("  Ada@Example.com ", displayName="Ada")
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["signedIn"] and body["user"]["email"] == "ada@example.com" and body["user"]["displayName"] == "Ada"
    cookie = next(h for h in answer.headers.get_list("set-cookie") if h.startswith("__session="))
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower() and "secure" not in cookie.lower()
    session_id = ada.session_id
    assert session_id and len(session_id) >= 22  # at least 128 bits, URL-safe base64
    stored_hash = await db_pool.fetchval("SELECT password_hash FROM users WHERE email = 'ada@example.com'")
    assert stored_hash.startswith("$argon2id$")
    digests = await db_pool.fetch("SELECT id_digest FROM user_sessions")
    assert [row["id_digest"] for row in digests] == [digest(session_id)]
    session = ada.get("/api/auth/session").json()
    assert session["signedIn"] and session["user"]["email"] == "ada@example.com"


def test_secure_cookies_when_the_site_is_served_over_https(gateway_env, db_pool, redis_client, monkeypatch):
    """With SECURE_COOKIES=true the session and CSRF cookies are marked Secure."""
    monkeypatch.setenv("SECURE_COOKIES", "true")
    with TestClient(create_app(GatewaySettings())) as client:
        answer = browser(client).register("secure@example.com")
    cookies = answer.headers.get_list("set-cookie")
    assert all("secure" in cookie.lower() for cookie in cookies) and len(cookies) == 2


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"email": "not-an-address", "password": PASSWORD}, "email", "name@example.com"),
        ({"email": "ada@example.com", "password": "short"}, "password", "at least 10 characters"),
        ({"email": "ada@example.com", "password": "Password12"}, "password", "most common"),
        ({"email": "ada@example.com", "password": "ada@example.com"}, "password", "e-mail"),
        ({"email": "ada@example.com"}, "password", "Field required"),
        ({"email": "ada@example.com", "password": PASSWORD, "admin": True}, "admin", "Extra inputs"),
    ],
)
def test_invalid_registrations_get_422_naming_the_field_and_the_reason(gateway, body, field, reason):
    """Each invalid registration is a 422 whose error names the field and says why."""
    answer = browser(gateway).post("/api/auth/register", json=body)
    assert answer.status_code == 422, answer.text
    errors = answer.json()["detail"]
    assert any(error["loc"][-1] == field and reason in error["msg"] for error in errors), errors
    assert PASSWORD not in answer.text


def test_an_email_registers_once_in_any_case(gateway):
    """A second registration of the same address, differently cased, is a 409."""
    assert browser(gateway).register("grace@example.com").status_code == 201
    again = browser(gateway).register("GRACE@example.com ")
    assert again.status_code == 409 and "already exists" in again.json()["detail"]


# --- login, sessions --------------------------------------------------------------------------------


def test_login_with_the_right_password_and_refusal_with_the_wrong_one(gateway):
    """The right password signs in; a wrong one is 401 and leaves the browser signed out."""
    browser(gateway).register("linus@example.com")
    linus = browser(gateway)
    wrong = linus.login("linus@example.com", "not the password")
    assert wrong.status_code == 401 and linus.session_id is None
    right = linus.login("Linus@Example.com")
    assert right.status_code == 200 and right.json()["user"]["email"] == "linus@example.com"
    assert linus.get("/api/auth/session").json()["signedIn"]


def test_unknown_and_known_emails_get_the_same_answer_and_the_same_work(gateway):
    """A wrong password and an unknown e-mail answer the same status and body, and the unknown one is
    verified against the dummy hash (the same Argon2 work)."""
    browser(gateway).register("known@example.com")
    passwords = gateway.app.state.gateway.accounts.passwords
    verified: list[str] = []
    original = passwords._verify

    def spy(stored_hash, password):
        verified.append(stored_hash)
        return original(stored_hash, password)

    passwords._verify = spy
    known = browser(gateway).login("known@example.com", "wrong password!")
    unknown = browser(gateway).login("nobody@example.com", "wrong password!")
    assert (
        (known.status_code, known.json())
        == (unknown.status_code, unknown.json())
        == (
            401,
            {"detail": "The e-mail or password is not right."},
        )
    )
    assert len(verified) == 2 and verified[1] == passwords.dummy_hash and verified[0] != passwords.dummy_hash


async def test_login_rehashes_a_password_hashed_with_other_parameters(gateway_env, db_pool, redis_client, monkeypatch):
    """When the Argon2 cost settings change, the next login stores a hash with the new parameters."""
    with TestClient(create_app(GatewaySettings())) as client:
        browser(client).register("rehash@example.com")
    monkeypatch.setenv("PASSWORD_HASH_TIME_COST", "2")
    with TestClient(create_app(GatewaySettings())) as client:
        before = await db_pool.fetchval("SELECT password_hash FROM users")
        assert browser(client).login("rehash@example.com").status_code == 200
        after = await db_pool.fetchval("SELECT password_hash FROM users")
    assert ",t=1," in before and ",t=2," in after


async def test_session_fixation_a_planted_id_never_becomes_signed_in(gateway, db_pool):
    """Login issues a fresh id: a session id planted in the browser beforehand (an attacker's own live
    session, or a made-up one) is replaced, and the planted live session ends."""
    mallory = browser(gateway)
    mallory.register("mallory@example.com")
    planted = mallory.session_id
    assert planted
    victim = browser(gateway)
    victim.register("victim@example.com")
    victim.post("/api/auth/logout")
    victim.cookies.set("__session", planted, domain="testserver.local")
    assert victim.login("victim@example.com").status_code == 200
    assert victim.session_id not in (None, planted)
    assert await db_pool.fetchval("SELECT count(*) FROM user_sessions WHERE id_digest = $1", digest(planted)) == 0
    assert not mallory.get("/api/auth/session").json()["signedIn"]
    made_up = browser(gateway)
    made_up.cookies.set("__session", "made-up-session-id-made-up-session-id", domain="testserver.local")
    made_up.login("victim@example.com")
    assert made_up.session_id != "made-up-session-id-made-up-session-id"


async def test_sessions_end_after_idle_and_absolute_expiry(gateway, db_pool):
    """A session unused for SESSION_IDLE_MINUTES, or older than its absolute expiry, signs nobody in."""
    idle = browser(gateway)
    idle.register("idle@example.com")
    old = browser(gateway)
    old.register("old@example.com")
    await db_pool.execute(
        "UPDATE user_sessions SET last_seen_at = now() - interval '7 days 1 minute' WHERE id_digest = $1",
        digest(idle.session_id or ""),
    )
    await db_pool.execute(
        "UPDATE user_sessions SET expires_at = now() - interval '1 second' WHERE id_digest = $1",
        digest(old.session_id or ""),
    )
    assert not idle.get("/api/auth/session").json()["signedIn"]
    assert not old.get("/api/auth/session").json()["signedIn"]
    assert idle.get("/api/account").status_code == 401


async def test_logout_ends_this_session_and_logout_all_every_session(gateway, db_pool):
    """Logout deletes this browser's session and clears its cookie; logout-all ends the others too."""
    first = browser(gateway)
    first.register("many@example.com")
    second, third = browser(gateway), browser(gateway)
    second.login("many@example.com")
    third.login("many@example.com")
    assert await db_pool.fetchval("SELECT count(*) FROM user_sessions") == 3
    assert first.post("/api/auth/logout").status_code == 204
    assert first.session_id is None and not first.get("/api/auth/session").json()["signedIn"]
    assert await db_pool.fetchval("SELECT count(*) FROM user_sessions") == 2
    assert second.post("/api/auth/logout-all").status_code == 204
    assert await db_pool.fetchval("SELECT count(*) FROM user_sessions") == 0
    assert not third.get("/api/auth/session").json()["signedIn"]


async def test_a_session_acts_for_its_user_on_recommendations(gateway, db_pool):
    """A signed-in browser's quiz is its user's recommendation (the Caller carries the user id)."""
    ada = browser(gateway)
    user_id = ada.register("quiz@example.com").json()["user"]["id"]
    created = ada.post("/api/recommendations", json=QUIZ)
    assert created.status_code == 201
    owner = await db_pool.fetchval(
        "SELECT user_id::text FROM recommendations WHERE id = $1::uuid", created.json()["id"]
    )
    assert owner == user_id
    history = ada.get("/api/account").json()["history"]
    assert [item["id"] for item in history["items"]] == [created.json()["id"]]


# --- CSRF -------------------------------------------------------------------------------------------


def test_a_signed_in_write_without_the_csrf_token_is_403(gateway):
    """A session-cookie write with no X-CSRF-Token, or a mismatched one, is refused with 403 and a reason."""
    ada = browser(gateway)
    ada.register("csrf@example.com")
    missing = ada.post("/api/recommendations", json=QUIZ, csrf=False)
    assert missing.status_code == 403 and "missing" in missing.json()["detail"]
    mismatched = ada.post("/api/auth/logout-all", headers={"X-CSRF-Token": "forged"})
    assert mismatched.status_code == 403 and "does not match" in mismatched.json()["detail"]
    assert ada.get("/api/auth/session").json()["signedIn"], "the refused writes changed nothing"
    assert ada.patch("/api/account", json={"displayName": "X"}, csrf=False).status_code == 403


def test_a_foreign_origin_is_refused_even_with_the_right_token(gateway):
    """A write whose Origin is another site is 403, for a signed-in and for an anonymous browser."""
    ada = browser(gateway)
    ada.register("origin@example.com")
    foreign = {"Origin": "https://evil.example"}
    assert ada.post("/api/auth/logout", headers=foreign).status_code == 403
    assert ada.post("/api/auth/logout", headers={"Origin": "http://testserver"}).status_code == 204
    anonymous = browser(gateway)
    assert anonymous.post("/api/recommendations", json=QUIZ, headers=foreign).status_code == 403
    assert anonymous.post("/api/recommendations", json=QUIZ).status_code == 201


def test_a_plain_html_form_may_carry_the_token_in_a_hidden_field(gateway):
    """A form post with the csrf_token field passes the check; the same form without it does not."""
    ada = browser(gateway)
    ada.register("form@example.com")
    assert ada.post("/api/auth/logout", data={"other": "1"}, csrf=False).status_code == 403
    assert ada.post("/api/auth/logout", data={"csrf_token": ada.csrf}, csrf=False).status_code == 204
    assert ada.session_id is None


def test_reads_need_no_csrf_token(gateway):
    """GET with the session cookie alone is answered (SameSite=Lax and no state change)."""
    ada = browser(gateway)
    ada.register("reader@example.com")
    assert ada.get("/api/account", csrf=False).status_code == 200


async def test_api_keys_need_no_csrf_pair(gateway, db_pool):
    """A request with an API key bound to a user acts for that user without any CSRF pair."""
    user_id = browser(gateway).register("keyed@example.com").json()["user"]["id"]
    await insert_api_key(db_pool, "keyed-user-api-key", user_id=user_id)
    headers = {"X-API-Key": "keyed-user-api-key"}
    assert gateway.get("/api/account", headers=headers).json()["email"] == "keyed@example.com"
    assert gateway.patch("/api/account", json={"displayName": "Keyed"}, headers=headers).status_code == 200
    assert gateway.post("/api/auth/logout-all", headers=headers).status_code == 204


def test_the_anonymous_quiz_flow_still_needs_only_the_csrf_pair(gateway):
    """A browser with no account posts quizzes with the CSRF pair; without it, 401."""
    anonymous = browser(gateway)
    assert anonymous.post("/api/recommendations", json=QUIZ).status_code == 201
    assert anonymous.post("/api/recommendations", json=QUIZ, csrf=False).status_code == 401


# --- abuse ------------------------------------------------------------------------------------------


def test_login_brute_force_reaches_429_with_retry_after(gateway):
    """After three failed logins of one account it is locked, doubling: 429 with Retry-After, even for the
    right password, and for unknown e-mails alike."""
    browser(gateway).register("target@example.com")
    attacker = browser(gateway)
    codes = [attacker.login("target@example.com", f"guess number {n}").status_code for n in range(4)]
    assert codes == [401, 401, 401, 401]
    locked = attacker.login("target@example.com")
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) >= 1
    assert "failed sign-ins" in locked.json()["detail"]
    unknown = [attacker.login("ghost@example.com", f"guess {n}").status_code for n in range(5)]
    assert unknown == [401, 401, 401, 401, 429]


def test_auth_requests_are_limited_per_client_address(gateway_env, db_pool, redis_client, monkeypatch):
    """Past AUTH_RATE_LIMIT_PER_ADDRESS requests in a window, one address gets 429 on that route,
    whatever the e-mail."""
    monkeypatch.setenv("AUTH_RATE_LIMIT_PER_ADDRESS", "3")
    with TestClient(create_app(GatewaySettings())) as client:
        visitor = browser(client)
        codes = [visitor.register(f"person{n}@example.com").status_code for n in range(4)]
        assert codes == [201, 201, 201, 429]
        resets = [
            visitor.post("/api/auth/password-reset", json={"email": f"p{n}@example.com"}).status_code for n in range(4)
        ]
        assert resets == [202, 202, 202, 429]


def test_auth_requests_are_limited_per_account(gateway_env, db_pool, redis_client, monkeypatch):
    """Past AUTH_RATE_LIMIT_PER_ACCOUNT requests in a window, one e-mail gets 429, from any address."""
    monkeypatch.setenv("AUTH_RATE_LIMIT_PER_ACCOUNT", "2")
    with TestClient(create_app(GatewaySettings())) as client:
        codes = [
            browser(client).post("/api/auth/password-reset", json={"email": "one@example.com"}).status_code
            for _ in range(3)
        ]
    assert codes == [202, 202, 429]


def test_without_redis_the_limits_hold_in_the_process(gateway_env, db_pool, monkeypatch):
    """In inline mode (no REDIS_URL) the failed-login lock still applies."""
    monkeypatch.delenv("REDIS_URL")
    with TestClient(create_app(GatewaySettings())) as client:
        browser(client).register("inline@example.com")
        attacker = browser(client)
        codes = [attacker.login("inline@example.com", f"guess number {n}").status_code for n in range(5)]
    assert codes == [401, 401, 401, 401, 429]


# --- password reset ---------------------------------------------------------------------------------


async def test_password_reset_by_mail_sets_a_new_password_once(gateway, gateway_env, db_pool, tmp_path):
    """The reset mail (an .eml in DATA_DIR/outbox without SMTP) carries a link whose token sets a new
    password once; every session ends; a second use is refused."""
    ada = browser(gateway)
    ada.register("reset@example.com")
    answer = browser(gateway).post("/api/auth/password-reset", json={"email": "Reset@example.com"})
    assert answer.status_code == 202
    (message,) = outbox_messages(tmp_path)
    assert message["To"] == "reset@example.com"
    token = reset_token_in(message)
    assert len(token) >= 43  # 32 random bytes
    stored = await db_pool.fetchval("SELECT token_hash FROM password_reset_tokens")
    assert stored == digest(token)
    visitor = browser(gateway)
    done = visitor.post("/api/auth/password-reset/confirm", json={"token": token, "password": "a brand new secret"})
    assert done.status_code == 200, done.text
    assert not ada.get("/api/auth/session").json()["signedIn"], "the reset ended every session"
    assert browser(gateway).login("reset@example.com").status_code == 401
    assert browser(gateway).login("reset@example.com", "a brand new secret").status_code == 200
    again = visitor.post("/api/auth/password-reset/confirm", json={"token": token, "password": "yet another secret"})
    assert again.status_code == 400 and "was used" in again.json()["detail"]


async def test_an_expired_reset_token_is_refused(gateway, db_pool, tmp_path):
    """A token past its expiry does not set a password."""
    browser(gateway).register("late@example.com")
    browser(gateway).post("/api/auth/password-reset", json={"email": "late@example.com"})
    token = reset_token_in(outbox_messages(tmp_path)[0])
    await db_pool.execute("UPDATE password_reset_tokens SET expires_at = now() - interval '1 second'")
    late = browser(gateway).post(
        "/api/auth/password-reset/confirm", json={"token": token, "password": "a brand new secret"}
    )
    assert late.status_code == 400
    assert browser(gateway).login("late@example.com").status_code == 200


def test_a_reset_for_an_unknown_email_answers_the_same_and_sends_nothing(gateway, tmp_path):
    """Known and unknown addresses get the same status and body; only the known one gets mail."""
    browser(gateway).register("someone@example.com")
    known = browser(gateway).post("/api/auth/password-reset", json={"email": "someone@example.com"})
    unknown = browser(gateway).post("/api/auth/password-reset", json={"email": "no-one@example.com"})
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
    assert [message["To"] for message in outbox_messages(tmp_path)] == ["someone@example.com"]


def test_a_weak_new_password_is_refused_and_the_token_still_works(gateway, tmp_path):
    """A reset to a common password is a 422; the token is not spent by it."""
    browser(gateway).register("weak@example.com")
    browser(gateway).post("/api/auth/password-reset", json={"email": "weak@example.com"})
    token = reset_token_in(outbox_messages(tmp_path)[0])
    weak = browser(gateway).post("/api/auth/password-reset/confirm", json={"token": token, "password": "1234567890"})
    assert weak.status_code == 422 and weak.json()["detail"][0]["loc"] == ["body", "password"]
    ok = browser(gateway).post("/api/auth/password-reset/confirm", json={"token": token, "password": "fine new secret"})
    assert ok.status_code == 200


# --- the account ------------------------------------------------------------------------------------


async def test_the_account_shows_paged_history_and_memory_counts(gateway, db_pool):
    """GET /api/account: e-mail, name, created, the user's recommendations newest first in pages, and
    memory counts per kind; another user's recommendations never appear."""
    ada = browser(gateway)
    user_id = ada.register("history@example.com", displayName="Hist").json()["user"]["id"]
    other = browser(gateway).register("other@example.com").json()["user"]["id"]
    ids = []
    for n in range(3):
        rec = await insert_recommendation(
            db_pool, user_id=user_id, created_at=dt.datetime(2026, 1, n + 1, tzinfo=dt.UTC)
        )
        await insert_pick(db_pool, rec, f"tmdb:{n}", name=f"Pick {n}", is_main_recommendation=True)
        ids.append(str(rec))
    await insert_recommendation(db_pool, user_id=other)
    await insert_interaction(db_pool, user_id, "tmdb:1", "watched")
    await insert_interaction(db_pool, user_id, "tmdb:2", "watched")
    await insert_interaction(db_pool, user_id, "tmdb:3", "liked")
    first = ada.get("/api/account", params={"pageSize": 2}).json()
    assert (first["email"], first["displayName"]) == ("history@example.com", "Hist")
    assert first["history"]["total"] == 3
    assert [item["id"] for item in first["history"]["items"]] == [ids[2], ids[1]]
    assert first["history"]["items"][0]["title"] == "Pick 2" and first["history"]["items"][0]["pickCount"] == 1
    second = ada.get("/api/account", params={"pageSize": 2, "page": 2}).json()
    assert [item["id"] for item in second["history"]["items"]] == [ids[0]]
    assert first["memoryCounts"] == {"watched": 2, "liked": 1}
    assert browser(gateway).get("/api/account").status_code == 401


def test_changing_the_display_name_and_the_password(gateway):
    """PATCH sets or removes the display name; a new password needs the current one (422 without, 403
    when wrong) and ends every other session, keeping this one."""
    ada = browser(gateway)
    ada.register("patch@example.com")
    elsewhere = browser(gateway)
    elsewhere.login("patch@example.com")
    assert ada.patch("/api/account", json={"displayName": "Ada L"}).json()["displayName"] == "Ada L"
    assert ada.patch("/api/account", json={"displayName": None}).json()["displayName"] is None
    missing = ada.patch("/api/account", json={"newPassword": "another long secret"})
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "currentPassword"]
    wrong = ada.patch("/api/account", json={"currentPassword": "wrong!wrong!", "newPassword": "another long secret"})
    assert wrong.status_code == 403
    weak = ada.patch("/api/account", json={"currentPassword": PASSWORD, "newPassword": "qwertyuiop"})
    assert weak.status_code == 422 and weak.json()["detail"][0]["loc"] == ["body", "newPassword"]
    changed = ada.patch("/api/account", json={"currentPassword": PASSWORD, "newPassword": "another long secret"})
    assert changed.status_code == 200
    assert ada.get("/api/auth/session").json()["signedIn"]
    assert not elsewhere.get("/api/auth/session").json()["signedIn"]
    assert browser(gateway).login("patch@example.com", "another long secret").status_code == 200


async def test_deleting_the_account_keeps_its_recommendations_detached(gateway, db_pool):
    """DELETE with the password removes the user, sessions, API keys, memory and feedback; the
    recommendations stay with no user and their shared link still works."""
    ada = browser(gateway)
    user_id = ada.register("leaving@example.com").json()["user"]["id"]
    rec = await insert_recommendation(db_pool, user_id=user_id, status="completed", stage="complete")
    await insert_pick(db_pool, rec, "tmdb:9", name="Kept")
    await insert_feedback(db_pool, rec, "tmdb:9", "useful", user_id=user_id)
    await insert_interaction(db_pool, user_id, "tmdb:9", "liked")
    await insert_api_key(db_pool, "leaving-key", user_id=user_id)
    assert ada.delete("/api/account", json={"password": "not it at all"}).status_code == 403
    assert ada.delete("/api/account", json={"password": PASSWORD}).status_code == 204
    assert ada.session_id is None
    for table in ("users", "user_sessions", "api_keys", "user_movie_interactions", "recommendation_feedback"):
        assert await db_pool.fetchval(f"SELECT count(*) FROM {table}") == 0, table
    row = await db_pool.fetchrow("SELECT user_id, slug FROM recommendations WHERE id = $1", rec)
    assert row["user_id"] is None
    assert browser(gateway).get(f"/api/recommendations/{row['slug']}").status_code == 200
    assert gateway.get("/api/account", headers={"X-API-Key": "leaving-key"}).status_code == 401


async def test_the_export_holds_everything_but_credentials(gateway, db_pool):
    """The export is one JSON document with the account, sessions, recommendations with quiz and picks,
    feedback and memory, and no password hash, session digest or key digest."""
    ada = browser(gateway)
    user_id = ada.register("export@example.com", displayName="Ex").json()["user"]["id"]
    rec = await insert_recommendation(db_pool, user_id=user_id, quiz_data=[QUIZ])
    await insert_pick(db_pool, rec, "tmdb:5", name="Exported")
    await insert_feedback(db_pool, rec, "tmdb:5", "close", user_id=user_id)
    await insert_interaction(db_pool, user_id, "tmdb:5", "wrong_mood", movie_name="Exported")
    await insert_api_key(db_pool, "export-key", user_id=user_id, name="my script")
    answer = ada.get("/api/account/export")
    assert answer.status_code == 200 and "attachment" in answer.headers["content-disposition"]
    document = answer.json()
    assert document["account"]["email"] == "export@example.com" and document["account"]["displayName"] == "Ex"
    assert document["recommendations"][0]["quiz"] == [QUIZ]
    assert document["recommendations"][0]["picks"][0]["name"] == "Exported"
    assert document["feedback"][0]["kind"] == "close"
    assert document["movieMemory"][0]["kind"] == "wrong_mood"
    assert document["apiKeys"][0]["name"] == "my script" and len(document["sessions"]) == 1
    stored = await db_pool.fetchrow("SELECT password_hash FROM users")
    for secret in (stored["password_hash"], digest(ada.session_id or ""), digest("export-key"), ada.session_id):
        assert secret not in answer.text


def test_one_user_never_sees_another_users_account(gateway):
    """Each session reads and changes only its own account."""
    ada, bob = browser(gateway), browser(gateway)
    ada.register("ada2@example.com")
    bob.register("bob2@example.com")
    bob.patch("/api/account", json={"displayName": "Bob"})
    assert ada.get("/api/account").json()["email"] == "ada2@example.com"
    assert ada.get("/api/account").json()["displayName"] is None
    assert bob.get("/api/account/export").json()["account"]["email"] == "bob2@example.com"


async def test_a_users_recommendation_by_id_is_theirs_alone(gateway, db_pool):
    """A signed-in user reads their own recommendation by id; another user's session gets 404 (the slug,
    meant for sharing, still works for anyone)."""
    ada, bob = browser(gateway), browser(gateway)
    ada.register("ada3@example.com")
    bob.register("bob3@example.com")
    created = ada.post("/api/recommendations", json=QUIZ).json()
    assert ada.get(f"/api/recommendations/{created['id']}").status_code == 200
    assert bob.get(f"/api/recommendations/{created['id']}").status_code == 404
    assert bob.get(f"/api/recommendations/{created['slug']}").status_code == 200


def test_a_rendered_page_reuses_the_browsers_csrf_token_or_sets_one():
    """csrf_token_for gives a page's hidden field the browser's current token, or a new one it sets."""
    from starlette.requests import Request
    from starlette.responses import Response

    from popchoice_gateway.auth import csrf_token_for

    token = "t" * 43
    known = Request({"type": "http", "method": "GET", "headers": [(b"cookie", f"__csrf={token}".encode())]})
    response = Response()
    assert csrf_token_for(known, response, secure=False) == token and "set-cookie" not in response.headers
    fresh = Request({"type": "http", "method": "GET", "headers": []})
    new = csrf_token_for(fresh, response, secure=True)
    cookie = response.headers["set-cookie"]
    assert new != token and cookie.startswith(f"__csrf={new};") and "Secure" in cookie and "HttpOnly" in cookie
