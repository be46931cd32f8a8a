"""What an e-mail address and a password must be: pure functions, no I/O."""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from importlib import resources

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
MAX_EMAIL_LENGTH = 254

_LOCAL_PART = re.compile(r"^[^\s@\"(),:;<>\[\\\]]{1,64}$")
_DOMAIN_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class InvalidEmail(ValueError):
    """The address cannot be an e-mail address; the message says why."""


class WeakPassword(ValueError):
    """The password breaks a rule; the message says which (never the password), and `rule` names it
    (short, long, blank, common, email) for pages that word it in the reader's language."""

    def __init__(self, reason: str, rule: str) -> None:
        self.rule = rule
        super().__init__(reason)


def normalize_email(raw: str) -> str:
    """The one spelling an address is stored and found under: trimmed, NFKC, lowercase, the domain in
    IDNA (ASCII) form. Raises InvalidEmail with a reason."""
    email = unicodedata.normalize("NFKC", raw).strip().lower()
    if len(email) > MAX_EMAIL_LENGTH:
        raise InvalidEmail(f"must be at most {MAX_EMAIL_LENGTH} characters")
    local, at, domain = email.rpartition("@")
    if not at or not local or not domain:
        raise InvalidEmail("must look like name@example.com")
    if not _LOCAL_PART.match(local) or local.startswith(".") or local.endswith(".") or ".." in local:
        raise InvalidEmail("the part before @ is not valid")
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidEmail("the domain is not valid") from None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_DOMAIN_LABEL.match(label) for label in labels):
        raise InvalidEmail("the domain is not valid (e.g. example.com)")
    return f"{local}@{ascii_domain}"


@cache
def common_passwords() -> frozenset[str]:
    """The bundled list of common passwords (lowercase)."""
    text = resources.files(__package__).joinpath("common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


def check_password(password: str, *, email: str | None = None) -> None:
    """Raises WeakPassword naming the rule a new password breaks."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"must be at least {MIN_PASSWORD_LENGTH} characters", "short")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(f"must be at most {MAX_PASSWORD_LENGTH} characters", "long")
    if not password.strip():
        raise WeakPassword("must not be only spaces", "blank")
    folded = password.lower()
    if folded in common_passwords():
        raise WeakPassword("is one of the most common passwords; choose another", "common")
    if email is not None and folded in {email.lower(), email.lower().partition("@")[0]}:
        raise WeakPassword("must not be your e-mail address", "email")
