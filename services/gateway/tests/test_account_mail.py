"""The reset mail over real SMTP (an aiosmtpd server), and the outbox without SMTP."""

import re
import socket
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from popchoice_gateway.accounts.mail import SmtpMailer
from popchoice_gateway.app import create_app
from popchoice_gateway.config import GatewaySettings

from .accounts_helpers import Browser


class Inbox:
    """An SMTP handler keeping what it receives."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


def test_the_reset_mail_goes_over_smtp_with_a_working_link(
    gateway_env, db_pool, redis_client, smtp_server, monkeypatch, tmp_path
):
    """With SMTP_URL set the reset mail is delivered over SMTP (nothing in the outbox), from MAIL_FROM,
    with a link under PUBLIC_BASE_URL whose token resets the password."""
    controller, inbox = smtp_server
    monkeypatch.setenv("SMTP_URL", f"smtp://{controller.hostname}:{controller.port}")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://popchoice.example/")
    monkeypatch.setenv("MAIL_FROM", "PopChoice <hello@popchoice.example>")
    with TestClient(create_app(GatewaySettings())) as client:
        Browser(client).open().register("smtp@example.com")
        assert (
            Browser(client).open().post("/api/auth/password-reset", json={"email": "smtp@example.com"}).status_code
            == 202
        )
        ((sender, recipients, raw),) = inbox.received
        assert (sender, recipients) == ("hello@popchoice.example", ["smtp@example.com"])
        message = message_from_bytes(raw, policy=policy.default)
        body = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        match = re.search(r"https://popchoice\.example/reset-password\?token=([A-Za-z0-9_-]+)", body)
        assert match and "30 minutes" in body
        confirm = (
            Browser(client)
            .open()
            .post("/api/auth/password-reset/confirm", json={"token": match.group(1), "password": "mailed new secret"})
        )
        assert confirm.status_code == 200
    assert not list(tmp_path.glob("outbox/*"))


def test_an_smtp_server_that_does_not_answer_still_answers_the_same(gateway_env, db_pool, redis_client, monkeypatch):
    """A failed delivery is logged, and the person gets the same 202 as ever."""
    monkeypatch.setenv("SMTP_URL", f"smtp://127.0.0.1:{free_port()}")
    monkeypatch.setenv("SMTP_TIMEOUT_SECONDS", "2")
    with TestClient(create_app(GatewaySettings())) as client:
        Browser(client).open().register("down@example.com")
        answer = Browser(client).open().post("/api/auth/password-reset", json={"email": "down@example.com"})
    assert answer.status_code == 202


def test_smtp_urls_are_read_with_credentials_and_tls():
    """smtps:// means TLS on port 465 by default; user and password are URL-decoded."""
    mailer = SmtpMailer("smtps://us%40er:p%3Ass@mail.example", timeout_seconds=5)
    assert (mailer._host, mailer._port, mailer._implicit_tls) == ("mail.example", 465, True)
    assert (mailer._username, mailer._password) == ("us@er", "p:ss")
    with pytest.raises(ValueError, match="SMTP_URL"):
        SmtpMailer("http://mail.example", timeout_seconds=5)
