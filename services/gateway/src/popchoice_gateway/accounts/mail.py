"""Outgoing mail: over SMTP (aiosmtplib) when SMTP_URL is set, else .eml files in DATA_DIR/outbox/."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

import aiosmtplib

from popchoice_common.logs import get_logger

log = get_logger(__name__)


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class SmtpMailer:
    """Sends through an SMTP server: smtp://[user:password@]host[:port] (STARTTLS when the server offers
    it), or smtps:// (TLS from the start, port 465 by default)."""

    def __init__(self, url: str, *, timeout_seconds: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
            raise ValueError("SMTP_URL must be smtp://[user:password@]host[:port] or smtps://...")
        self._implicit_tls = parts.scheme == "smtps"
        self._host = parts.hostname
        self._port = parts.port or (465 if self._implicit_tls else 25)
        self._username = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self._timeout = timeout_seconds

    async def send(self, message: EmailMessage) -> None:
        await aiosmtplib.send(
            message,
            hostname=self._host,
            port=self._port,
            username=self._username,
            password=self._password,
            use_tls=self._implicit_tls,
            start_tls=None if not self._implicit_tls else False,
            timeout=self._timeout,
        )
        log.info("mail_sent", via="smtp", host=self._host, port=self._port, subject=message["Subject"])


class OutboxMailer:
    """Writes each message as an .eml file (readable only by its owner) and logs where."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _write(self, message: EmailMessage) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        path = self.folder / f"{stamp}-{uuid.uuid4().hex[:12]}.eml"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(message.as_bytes())
        return path

    async def send(self, message: EmailMessage) -> None:
        path = await asyncio.to_thread(self._write, message)
        log.info("mail_written", via="outbox", path=str(path), subject=message["Subject"])


def reset_message(*, sender: str, to: str, link: str, minutes: int) -> EmailMessage:
    """The password-reset mail: plain text with the link."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = "Reset your PopChoice password"
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="popchoice.invalid")
    message.set_content(
        "Someone (we hope you) asked to reset the password of your PopChoice account.\n\n"
        f"Choose a new password here (the link works once, for {minutes} minutes):\n\n{link}\n\n"
        "If you did not ask for this, ignore this message: your password stays as it is.\n"
    )
    return message
