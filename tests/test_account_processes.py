"""Accounts through the gateway as a real process: nothing secret in its logs, and schemathesis over the
account routes with a signed-in session."""

import asyncio
import os
import re
import shutil
import subprocess
import sys
from email import message_from_bytes, policy
from pathlib import Path

import httpx
import pytest

from .service_processes import Processes, start_gateway


@pytest.fixture
async def gateway(db_pool, database_url, redis_url, redis_client, key_prefix, tmp_path):
    """The gateway under uvicorn with DEBUG logs in a file, cheap Argon2 and generous auth limits."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "STREAM_KEY_PREFIX": key_prefix,
        "EMBEDDING_PROVIDER": "hash",
        "LOG_LEVEL": "DEBUG",
        "LOG_FORMAT": "json",
        "DATA_DIR": str(tmp_path),
        "PASSWORD_HASH_TIME_COST": "1",
        "PASSWORD_HASH_MEMORY_KIB": "8",
        "PASSWORD_HASH_PARALLELISM": "1",
        "AUTH_RATE_LIMIT_PER_ADDRESS": "1000000",
        "AUTH_RATE_LIMIT_PER_ACCOUNT": "1000000",
        "LOGIN_BACKOFF_BASE_SECONDS": "0",
        "RATE_LIMIT_PER_MINUTE": "1000000",
    }
    for name in ("TMDB_API_KEY", "OPENAI_API_KEY", "SMTP_URL"):
        env.pop(name, None)
    processes = Processes(env, tmp_path)
    client = await start_gateway(processes)
    await client.aclose()
    yield str(client.base_url).rstrip("/"), tmp_path
    processes.stop_all()


class WebBrowser:
    """A browser against the running gateway: its cookies, and the CSRF token echoed on writes."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, timeout=30)
        self.csrf = ""

    async def open(self) -> "WebBrowser":
        self.csrf = (await self.http.get("/api/csrf")).json()["csrfToken"]
        return self

    async def send(self, method: str, url: str, **kwargs) -> httpx.Response:
        answer = await self.http.request(method, url, headers={"X-CSRF-Token": self.csrf}, **kwargs)
        if answer.headers.get("content-type", "").startswith("application/json"):
            body = answer.json()
            if isinstance(body, dict) and body.get("csrfToken"):
                self.csrf = body["csrfToken"]
        return answer

    @property
    def session_id(self) -> str:
        return self.http.cookies.get("__session") or ""


def outbox(data_dir: Path) -> list[Path]:
    return list(data_dir.glob("outbox/*.eml"))


def gateway_logs(data_dir: Path) -> str:
    return "\n".join(path.read_text() for path in data_dir.glob("popchoice_gateway-*.log"))


async def test_nothing_secret_reaches_the_logs(gateway):
    """Across register, failed and good logins, a reset by mail, a password change and logout, the
    gateway's DEBUG logs never contain a password, a reset token, a session id or a CSRF token."""
    base_url, data_dir = gateway
    secrets_seen: list[str] = []
    first, wrong, reset_to, changed = (
        "first pass phrase 1",
        "wrong pass phrase 2",
        "reset pass phrase 3",
        "new pass phrase 4",
    )
    ada = await WebBrowser(base_url).open()
    secrets_seen.append(ada.csrf)
    assert (
        await ada.send("POST", "/api/auth/register", json={"email": "logs@example.com", "password": first})
    ).status_code == 201
    secrets_seen += [ada.session_id, ada.csrf]
    assert (
        await ada.send("POST", "/api/auth/login", json={"email": "logs@example.com", "password": wrong})
    ).status_code == 401
    too_long = "L" * 300
    assert (
        await ada.send("POST", "/api/auth/login", json={"email": "logs@example.com", "password": too_long})
    ).status_code == 422
    assert (
        await ada.send("POST", "/api/auth/login", json={"email": "logs@example.com", "password": first})
    ).status_code == 200
    secrets_seen += [ada.session_id, ada.csrf]
    assert (await ada.send("POST", "/api/auth/password-reset", json={"email": "logs@example.com"})).status_code == 202
    for _ in range(100):  # the mail is written after the answer has gone
        if mails := outbox(data_dir):
            break
        await asyncio.sleep(0.05)
    (eml,) = mails
    body = message_from_bytes(eml.read_bytes(), policy=policy.default).get_body(("plain",)).get_content()  # type: ignore[union-attr]
    token = re.search(r"token=([A-Za-z0-9_-]+)", body).group(1)  # type: ignore[union-attr]
    secrets_seen.append(token)
    confirm = await ada.send("POST", "/api/auth/password-reset/confirm", json={"token": token, "password": reset_to})
    assert confirm.status_code == 200
    again = await ada.send("POST", "/api/auth/password-reset/confirm", json={"token": token, "password": reset_to})
    assert again.status_code == 400 and token not in again.text
    assert (
        await ada.send("POST", "/api/auth/login", json={"email": "logs@example.com", "password": reset_to})
    ).status_code == 200
    secrets_seen += [ada.session_id, ada.csrf]
    patch = await ada.send("PATCH", "/api/account", json={"currentPassword": reset_to, "newPassword": changed})
    assert patch.status_code == 200
    assert (await ada.send("POST", "/api/auth/logout")).status_code == 204
    await ada.http.aclose()
    await asyncio.sleep(0.5)  # let the process flush its log lines
    logs = gateway_logs(data_dir)
    assert "password_reset_requested" in logs and "mail_written" in logs and "login_failed" in logs
    assert str(eml) in logs, "the outbox file's path is logged"
    for secret in [first, wrong, too_long, reset_to, changed, *secrets_seen]:
        assert secret and secret not in logs, f"a secret of {len(secret)} characters is in the logs"


@pytest.mark.slow
async def test_schemathesis_over_the_account_routes_finds_no_server_error(gateway):
    """Generated requests to every /api/auth and /api/account route, signed in with a session and the
    CSRF pair: no 5xx, and every answer as the OpenAPI document describes it."""
    base_url, _ = gateway
    ada = await WebBrowser(base_url).open()
    registered = await ada.send(
        "POST", "/api/auth/register", json={"email": "fuzz@example.com", "password": "fuzzing pass phrase"}
    )
    assert registered.status_code == 201
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    assert st, "schemathesis is installed with the dev extra"
    run = await asyncio.to_thread(
        subprocess.run,
        [
            st,
            "run",
            f"{base_url}/openapi.json",
            "--include-path-regex",
            "^/api/(auth|account)",
            "-H",
            f"Cookie: __session={ada.session_id}; __csrf={ada.csrf}",
            "-H",
            f"X-CSRF-Token: {ada.csrf}",
            "--max-examples",
            "40",
            "--seed",
            "1",
            "--checks",
            "not_a_server_error,response_schema_conformance,content_type_conformance,status_code_conformance",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    await ada.http.aclose()
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    generated = re.search(r"(\d+) generated", output)
    assert generated and int(generated.group(1)) >= 100, output[-2000:]
