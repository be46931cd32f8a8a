"""Entry points of services whose behaviour is not built yet say what they will do, and exit."""

from __future__ import annotations

import sys


def announce_planned(command: str, plan: str, issue: str) -> int:
    """Prints what the command will do once built (tracked in the named issue); exits with 0."""
    print(f"{command} is not built yet ({issue}). It will: {plan}", file=sys.stderr)
    return 0
