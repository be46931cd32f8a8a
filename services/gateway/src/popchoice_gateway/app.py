"""`popchoice-gateway`: PopChoice gateway: the browser's only HTTP entry."""

from __future__ import annotations

from popchoice_common.planned import announce_planned

PLAN = (
    "serve the browser's HTTP API (quiz in, picks out, SSE progress, more picks, health, metrics) and "
    "enqueue work on Redis Streams."
)


def main() -> int:
    return announce_planned("popchoice-gateway", PLAN, "issue #5")
