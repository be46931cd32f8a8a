"""Argon2id password hashes (argon2-cffi), off the event loop."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError


@dataclass(frozen=True, slots=True)
class Verified:
    """A verification's outcome: whether the password matched, and a new hash when the stored one was
    made with other parameters (store it)."""

    ok: bool
    new_hash: str | None = None


class Passwords:
    """Hashes and verifies passwords with Argon2id at the configured cost. Hashing takes tens of
    milliseconds of CPU at production cost, so it runs in a worker thread."""

    def __init__(self, *, time_cost: int, memory_kib: int, parallelism: int) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=max(memory_kib, 8 * parallelism), parallelism=parallelism, type=Type.ID
        )
        # Verified instead of a real hash when the e-mail is unknown: the same work, the same answer.
        self.dummy_hash = self._hasher.hash(secrets.token_urlsafe(24))

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    def _verify(self, stored_hash: str, password: str) -> Verified:
        try:
            self._hasher.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return Verified(False)
        if self._hasher.check_needs_rehash(stored_hash):
            return Verified(True, self._hasher.hash(password))
        return Verified(True)

    async def verify(self, stored_hash: str | None, password: str) -> Verified:
        """Checks a password against a stored hash; a missing hash (no account, or an account without a
        password) is checked against the dummy hash and never matches."""
        if stored_hash is None:
            await asyncio.to_thread(self._verify, self.dummy_hash, password)
            return Verified(False)
        return await asyncio.to_thread(self._verify, stored_hash, password)
