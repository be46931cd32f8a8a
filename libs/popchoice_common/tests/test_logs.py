import json
import logging

import structlog

from popchoice_common.logs import configure_logging, get_logger, redact_text


def read_json_lines(capsys):
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def test_json_lines_carry_bound_context(capsys):
    """Outside a terminal each event is one JSON object with the context bound around it."""
    configure_logging("INFO", "json")
    with structlog.contextvars.bound_contextvars(job_id="tmdb-seed:1:en-US"):
        get_logger("test").info("movie_seeded", tmdb_id=1)
    get_logger("test").info("after")
    first, second = read_json_lines(capsys)
    assert first["event"] == "movie_seeded" and first["job_id"] == "tmdb-seed:1:en-US" and first["tmdb_id"] == 1
    assert first["level"] == "info" and "timestamp" in first
    assert "job_id" not in second


def test_secrets_never_reach_the_output(capsys):
    """Secret-named fields, URL passwords and bearer tokens are masked."""
    configure_logging("INFO", "json")
    get_logger("test").info(
        "connecting",
        api_key="sk-live-abcdefghijkl",
        url="postgresql://app:hunter2@db:5432/popchoice",
        header="Bearer eyJhbGciOi.secret",
    )
    (line,) = read_json_lines(capsys)
    text = json.dumps(line)
    assert "hunter2" not in text and "sk-live" not in text and "eyJhbGciOi" not in text
    assert line["url"] == "postgresql://app:***@db:5432/popchoice"


def test_stdlib_logging_uses_the_same_renderer(capsys):
    """Library loggers (stdlib logging) come out as the same JSON lines."""
    configure_logging("INFO", "json")
    logging.getLogger("some.library").warning("disk %s", "full")
    (line,) = read_json_lines(capsys)
    assert line["event"] == "disk full" and line["level"] == "warning"


def test_redact_text_keeps_non_secrets():
    """Text without secrets is unchanged."""
    assert redact_text("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_secret_query_parameters_are_masked_in_an_access_log_line(capsys):
    """A path's ?token= (a reset link) or &password= is masked, other parameters stay, in stdlib lines too."""
    assert redact_text("GET /reset-password?token=abc_DEF-123 HTTP/1.1") == "GET /reset-password?token=*** HTTP/1.1"
    assert redact_text("/x?q=heat&api_key=k1&page=2") == "/x?q=heat&api_key=***&page=2"
    assert redact_text("/account?q=token&history=2") == "/account?q=token&history=2"
    configure_logging("INFO", "json")
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", "/r?token=s3cr3t", "1.1", 200
    )
    (line,) = read_json_lines(capsys)
    assert "s3cr3t" not in line["event"] and "/r?token=*** " in line["event"]


def test_events_below_the_level_are_dropped_before_processing(capsys, monkeypatch):
    """At WARNING an info event is neither written nor rendered (no redaction work is done for it)."""
    from popchoice_common import logs

    redacted = []

    def redact_text(text):
        redacted.append(text)
        return text

    monkeypatch.setattr(logs, "redact_text", redact_text)
    configure_logging("WARNING", "json")
    get_logger("test").info("routine", detail="quiet")
    assert read_json_lines(capsys) == [] and redacted == []
    get_logger("test").warning("unusual", detail="loud")
    (line,) = read_json_lines(capsys)
    assert line["event"] == "unusual" and "loud" in redacted
