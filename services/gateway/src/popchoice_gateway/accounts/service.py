"""Accounts: register, sign in and out, reset a password, read, change, export and delete an account.
The routes call these; SQL is in repository.py, rules in rules.py."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import asyncpg

from popchoice_common.logs import get_logger
from popchoice_gateway.accounts import repository
from popchoice_gateway.accounts.mail import Mailer, reset_message
from popchoice_gateway.accounts.passwords import Passwords
from popchoice_gateway.accounts.repository import HistoryRow, UserRow
from popchoice_gateway.accounts.rules import check_password
from popchoice_gateway.accounts.sessions import Sessions, session_digest
from popchoice_gateway.accounts.throttle import AuthThrottle, account_tag

log = get_logger(__name__)


class EmailTaken(Exception):
    """Registration with an e-mail that already has an account."""


class InvalidCredentials(Exception):
    """Unknown e-mail or wrong password: deliberately the same error."""


class WrongPassword(Exception):
    """The current password given to change or delete the account is not right."""


class InvalidResetToken(Exception):
    """The reset token is unknown, used or expired: deliberately one error."""


class NoSuchAccount(Exception):
    """The account acted on no longer exists."""

    def __init__(self, user_id: uuid.UUID) -> None:
        self.user_id = user_id
        super().__init__(f"The account {user_id} does not exist.")


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A new session: the user, the id for the cookie (never logged or stored), and its latest expiry."""

    user: UserRow
    session_id: str
    expires_at: dt.datetime


@dataclass(frozen=True, slots=True)
class AccountView:
    user: UserRow
    history_total: int
    history: list[HistoryRow]
    memory: dict[str, int]


@dataclass(frozen=True, slots=True)
class PendingMail:
    """A reset mail to send after the answer has gone (so its delivery time says nothing)."""

    to: str
    link: str


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AccountService:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        passwords: Passwords,
        sessions: Sessions,
        throttle: AuthThrottle,
        mailer: Mailer,
        public_base_url: str,
        mail_from: str,
        reset_token_ttl: dt.timedelta,
    ) -> None:
        self._pool = pool
        self.passwords = passwords
        self.sessions = sessions
        self.throttle = throttle
        self._mailer = mailer
        self._base_url = public_base_url
        self._mail_from = mail_from
        self._reset_ttl = reset_token_ttl

    async def register(
        self, email: str, password: str, display_name: str | None, *, address: str, previous_session: str | None
    ) -> SignedIn:
        """A new account, signed in (a session the browser came with ends). Raises EmailTaken,
        WeakPassword, TooManyAttempts."""
        await self.throttle.check("register", address, email)
        check_password(password, email=email)
        async with self._pool.acquire() as connection:
            if await repository.user_by_email(connection, email) is not None:
                raise EmailTaken()
            password_hash = await self.passwords.hash(password)
            async with connection.transaction():
                user = await repository.insert_user(connection, email, password_hash, display_name)
                if user is None:
                    raise EmailTaken()
                if previous_session:
                    await repository.delete_session(connection, session_digest(previous_session))
                session_id, expires_at = await self.sessions.start(connection, user.id)
        log.info("account_registered", user_id=str(user.id))
        return SignedIn(user, session_id, expires_at)

    async def login(self, email: str, password: str, *, address: str, previous_session: str | None) -> SignedIn:
        """A fresh session for the right password; the session the browser came with (if any) ends, so a
        planted id never becomes signed in. Raises InvalidCredentials, TooManyAttempts."""
        await self.throttle.check("login", address, email)
        await self.throttle.check_lock(email)
        async with self._pool.acquire() as connection:
            user = await repository.user_by_email(connection, email)
            verified = await self.passwords.verify(user.password_hash if user else None, password)
            if user is None or not verified.ok:
                await self.throttle.failed(email)
                log.info("login_failed", account=account_tag(email))
                raise InvalidCredentials()
            async with connection.transaction():
                if verified.new_hash is not None:
                    await repository.set_password_hash(connection, user.id, verified.new_hash)
                    log.info("password_rehashed", user_id=str(user.id))
                if previous_session:
                    await repository.delete_session(connection, session_digest(previous_session))
                session_id, expires_at = await self.sessions.start(connection, user.id)
        await self.throttle.succeeded(email)
        log.info("login_succeeded", user_id=str(user.id))
        return SignedIn(user, session_id, expires_at)

    async def logout(self, session_id: str) -> None:
        async with self._pool.acquire() as connection:
            await repository.delete_session(connection, session_digest(session_id))

    async def logout_all(self, user_id: uuid.UUID) -> int:
        async with self._pool.acquire() as connection:
            ended = await repository.delete_sessions_of(connection, user_id)
        log.info("sessions_revoked", user_id=str(user_id), count=ended, reason="logout-all")
        return ended

    async def request_reset(self, email: str, *, address: str) -> PendingMail | None:
        """For a known e-mail, a new single-use token (only its digest stored) and the mail to send;
        None otherwise. The caller answers the same either way."""
        await self.throttle.check("password-reset", address, email)
        async with self._pool.acquire() as connection:
            user = await repository.user_by_email(connection, email)
            if user is None:
                return None
            token = secrets.token_urlsafe(32)
            expires_at = dt.datetime.now(dt.UTC) + self._reset_ttl
            await repository.insert_reset_token(connection, user.id, token_digest(token), expires_at)
        log.info("password_reset_requested", user_id=str(user.id))
        return PendingMail(user.email, f"{self._base_url}/reset-password?token={quote(token)}")

    async def send_reset(self, mail: PendingMail) -> None:
        message = reset_message(
            sender=self._mail_from, to=mail.to, link=mail.link, minutes=int(self._reset_ttl.total_seconds() // 60)
        )
        try:
            await self._mailer.send(message)
        except Exception as exc:  # noqa: BLE001 - the answer has gone; log and keep serving
            log.error("password_reset_mail_failed", error=type(exc).__name__)

    async def confirm_reset(self, token: str, password: str, *, address: str) -> None:
        """Sets the new password of the token's account; every session of it ends and every other reset
        link stops working. Raises InvalidResetToken, WeakPassword, TooManyAttempts."""
        await self.throttle.check("password-reset-confirm", address, None)
        async with self._pool.acquire() as connection, connection.transaction():
            user_id = await repository.consume_reset_token(connection, token_digest(token))
            if user_id is None:
                raise InvalidResetToken()
            user = await repository.user_by_id(connection, user_id, lock=True)
            if user is None:
                raise InvalidResetToken()
            check_password(password, email=user.email)
            await repository.set_password_hash(connection, user.id, await self.passwords.hash(password))
            await repository.retire_reset_tokens(connection, user.id)
            ended = await repository.delete_sessions_of(connection, user.id)
        log.info("password_reset", user_id=str(user_id), sessions_revoked=ended)

    async def view(self, user_id: uuid.UUID, *, page: int, page_size: int) -> AccountView:
        async with self._pool.acquire() as connection:
            user = await repository.user_by_id(connection, user_id)
            if user is None:
                raise NoSuchAccount(user_id)
            total, rows = await repository.history(connection, user_id, limit=page_size, offset=(page - 1) * page_size)
            memory = await repository.memory_counts(connection, user_id)
        return AccountView(user, total, rows, memory)

    async def _check_current_password(self, user: UserRow, password: str) -> None:
        await self.throttle.check_lock(user.email)
        verified = await self.passwords.verify(user.password_hash, password)
        if not verified.ok:
            await self.throttle.failed(user.email)
            raise WrongPassword()

    async def update(
        self,
        user_id: uuid.UUID,
        *,
        display_name: str | None,
        set_display_name: bool,
        current_password: str | None,
        new_password: str | None,
        keep_session: str | None,
    ) -> UserRow:
        """Changes the display name and/or the password (which needs the current one, and ends every other
        session). Raises WrongPassword, WeakPassword, TooManyAttempts, NoSuchAccount."""
        async with self._pool.acquire() as connection:
            user = await repository.user_by_id(connection, user_id)
            if user is None:
                raise NoSuchAccount(user_id)
            new_hash = None
            if new_password is not None:
                await self._check_current_password(user, current_password or "")
                check_password(new_password, email=user.email)
                new_hash = await self.passwords.hash(new_password)
            async with connection.transaction():
                if set_display_name:
                    await repository.set_display_name(connection, user_id, display_name)
                if new_hash is not None:
                    await repository.set_password_hash(connection, user_id, new_hash)
                    await repository.retire_reset_tokens(connection, user_id)
                    ended = await repository.delete_sessions_of(
                        connection, user_id, keep=session_digest(keep_session) if keep_session else None
                    )
                    log.info("password_changed", user_id=str(user_id), sessions_revoked=ended)
            updated = await repository.user_by_id(connection, user_id)
        if updated is None:
            raise NoSuchAccount(user_id)
        return updated

    async def delete(self, user_id: uuid.UUID, password: str) -> None:
        """Deletes the account after checking its password. Raises WrongPassword, TooManyAttempts, NoSuchAccount."""
        async with self._pool.acquire() as connection:
            user = await repository.user_by_id(connection, user_id)
            if user is None:
                raise NoSuchAccount(user_id)
            await self._check_current_password(user, password)
            async with connection.transaction():
                await repository.delete_user(connection, user_id)
        log.info("account_deleted", user_id=str(user_id))

    async def export(self, user_id: uuid.UUID) -> dict[str, Any]:
        async with self._pool.acquire() as connection:
            document = await repository.export(connection, user_id)
        if document is None:
            raise NoSuchAccount(user_id)
        return document

    async def user(self, user_id: uuid.UUID) -> UserRow:
        async with self._pool.acquire() as connection:
            user = await repository.user_by_id(connection, user_id)
        if user is None:
            raise NoSuchAccount(user_id)
        return user

    async def sweep(self) -> None:
        """Deletes ended sessions and long-expired reset tokens (run at start-up and hourly)."""
        async with self._pool.acquire() as connection:
            sessions, tokens = await repository.delete_stale_credentials(connection, self.sessions.idle)
        if sessions or tokens:
            log.info("stale_credentials_deleted", sessions=sessions, reset_tokens=tokens)
