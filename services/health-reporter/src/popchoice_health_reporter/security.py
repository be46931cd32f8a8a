"""Who may use the operator console: Basic Auth against the operators list, the shared failure limit,
the CSRF token and the response headers every page carries."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import re
import secrets
import time
from dataclasses import dataclass, field

import redis.asyncio as redis
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from popchoice_common.errors import ConfigurationError
from popchoice_common.keyspace import Keyspace
from popchoice_health_reporter.config import HealthSettings

#: Verified credentials are remembered (as a keyed digest, never the password) this long, so each page
#: does not pay an Argon2 verification.
VERIFIED_CACHE_SECONDS = 300
_HASHER = PasswordHasher()
#: Checked against when the name is unknown, so an unknown name costs as much time as a wrong password.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))
_PLAIN_PREFIX = "plain:"

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: {images}; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def hash_password(password: str) -> str:
    """An Argon2id hash for OPERATOR_AUTH_USERS."""
    return _HASHER.hash(password)


def parse_operators(value: str) -> dict[str, str]:
    """``name:hash`` pairs separated by whitespace or ';' (Argon2 hashes contain ',' and '$', never ';')."""
    operators: dict[str, str] = {}
    for item in re.split(r"[;\s]+", value.strip()):
        if not item:
            continue
        name, sep, password_hash = item.partition(":")
        if not sep or not name or not password_hash.startswith("$argon2"):
            raise ConfigurationError(
                "OPERATOR_AUTH_USERS: each entry must be name:$argon2id$... (popchoice-health hash-password)"
            )
        operators[name] = password_hash
    return operators


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class Operators:
    """The operators who may sign in; a plain password (the single-operator case) is kept as its digest."""

    hashes: dict[str, str]
    _verified: dict[bytes, float] = field(default_factory=dict)
    _key: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    @classmethod
    def from_settings(cls, settings: HealthSettings) -> tuple[Operators, str | None]:
        """The operators, and the generated password when none is configured on a loopback address.

        Raises ConfigurationError on a non-loopback address without credentials.
        """
        hashes: dict[str, str] = {}
        if settings.operator_auth_users is not None:
            hashes.update(parse_operators(settings.operator_auth_users.get_secret_value()))
        generated = None
        if settings.operator_auth_username and settings.operator_auth_password is not None:
            plain = settings.operator_auth_password.get_secret_value()
            hashes[settings.operator_auth_username] = _PLAIN_PREFIX + hashlib.sha256(plain.encode()).hexdigest()
        elif settings.operator_auth_username or settings.operator_auth_password is not None:
            raise ConfigurationError("set both OPERATOR_AUTH_USERNAME and OPERATOR_AUTH_PASSWORD, or neither")
        if not hashes:
            if not is_loopback(settings.operator_console_host):
                raise ConfigurationError(
                    f"the console listens on {settings.operator_console_host}, not loopback: set"
                    " OPERATOR_AUTH_USERNAME and OPERATOR_AUTH_PASSWORD, or OPERATOR_AUTH_USERS"
                )
            generated = secrets.token_urlsafe(18)
            hashes["operator"] = _PLAIN_PREFIX + hashlib.sha256(generated.encode()).hexdigest()
        return cls(hashes), generated

    def _cache_key(self, name: str, password: str) -> bytes:
        return hmac.new(self._key, f"{name}\0{password}".encode(), hashlib.sha256).digest()

    def verify(self, name: str, password: str) -> bool:
        """True when the pair is an operator's; constant time in the password, and in the name's existence."""
        cache_key = self._cache_key(name, password)
        now = time.monotonic()
        if self._verified.get(cache_key, 0.0) > now:
            return True
        stored = self.hashes.get(name)
        if stored is None:
            _verify_hash(_DUMMY_HASH, password)
            return False
        if stored.startswith(_PLAIN_PREFIX):
            digest = hashlib.sha256(password.encode()).hexdigest()
            ok = hmac.compare_digest(stored[len(_PLAIN_PREFIX) :].encode(), digest.encode())
        else:
            ok = _verify_hash(stored, password)
        if ok:
            if len(self._verified) > 10_000:
                self._verified.clear()
            self._verified[cache_key] = now + VERIFIED_CACHE_SECONDS
        return ok


def _verify_hash(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """The (name, password) of an ``Authorization: Basic`` header, or None when absent or malformed."""
    if not header:
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    name, sep, password = decoded.partition(":")
    return (name, password) if sep else None


class FailureLimiter:
    """Failed sign-ins per client, counted in Redis so every console process shares the count."""

    def __init__(self, client: redis.Redis, prefix: str, *, max_failures: int, window_seconds: int) -> None:
        self._client = client
        self._keys = Keyspace(prefix)
        self.max_failures = max_failures
        self.window_seconds = window_seconds

    def _key(self, client_id: str) -> str:
        return self._keys.console_auth_failures(hashlib.sha256(client_id.encode()).hexdigest()[:32])

    async def retry_after(self, client_id: str) -> int | None:
        """Seconds until this client may try again, or None when it is under the limit."""
        key = self._key(client_id)
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.get(key)
            pipe.ttl(key)
            count, ttl = await pipe.execute()
        if count is not None and int(count) >= self.max_failures:
            return max(int(ttl), 1)
        return None

    async def record_failure(self, client_id: str) -> None:
        key = self._key(client_id)
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, self.window_seconds, nx=True)
            await pipe.execute()


class CsrfTokens:
    """One token per operator, an HMAC of the name under a secret every console process shares (in Redis)."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    @classmethod
    async def shared(cls, client: redis.Redis, prefix: str) -> CsrfTokens:
        key = Keyspace(prefix).console_csrf_secret()
        await client.set(key, secrets.token_hex(32), nx=True)
        secret = await client.get(key)
        assert secret is not None
        return cls(secret.encode() if isinstance(secret, str) else bytes(secret))

    def token_for(self, operator: str) -> str:
        return hmac.new(self._secret, operator.encode(), hashlib.sha256).hexdigest()

    def check(self, operator: str, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(self.token_for(operator).encode(), token.encode())


def security_headers(image_origin: str) -> list[tuple[bytes, bytes]]:
    """Headers of every response: CSP without inline script, no framing, no sniffing, no referrer."""
    policy = CONTENT_SECURITY_POLICY.format(images=image_origin)
    return [
        (b"content-security-policy", policy.encode()),
        (b"x-frame-options", b"DENY"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
    ]
