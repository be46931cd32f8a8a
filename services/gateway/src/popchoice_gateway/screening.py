"""Screening of the free-text quiz fields before anything is stored or sent to a model."""

from __future__ import annotations

import re
from collections.abc import Sequence

from popchoice_common.llm import LLMClient

# Phrases that try to steer a language model rather than name a film.
_INJECTION = re.compile(
    r"(ignore|disregard|forget)\s+(all\s+|any\s+)?(the\s+)?(previous|prior|above|earlier)\s+(instructions|prompts?|rules)"
    r"|\b(system|developer)\s*prompt\b"
    r"|\byou\s+are\s+now\b"
    r"|\bact\s+as\s+(an?\s+)?(ai|assistant|model|system)\b"
    r"|<\s*/?\s*(system|assistant|instructions?)\s*>"
    r"|\b(jailbreak|do\s+anything\s+now)\b"
    r"|\breveal\s+(your|the)\s+(instructions|prompt|system)",
    re.IGNORECASE,
)
#: Moderation categories refused whatever a chat model thinks.
ALWAYS_REFUSED = frozenset({"sexual/minors", "self-harm/instructions"})
REFUSAL = "Your answer could not be accepted. Please describe a favourite film in your own words."


class ScreeningRefused(Exception):
    """The text was refused; the message is safe to show the person."""

    def __init__(self, field: str) -> None:
        self.field = field
        super().__init__(REFUSAL)


def looks_like_prompt_injection(text: str) -> bool:
    return bool(_INJECTION.search(text))


async def screen(fields: Sequence[tuple[str, str]], llm: LLMClient | None) -> None:
    """Refuses prompt injection (always, locally) and, with OpenAI configured, moderated content."""
    for name, text in fields:
        if looks_like_prompt_injection(text):
            raise ScreeningRefused(name)
    if llm is None:
        return
    for name, text in fields:
        verdict = await llm.moderate(text)
        if not verdict.flagged:
            continue
        if verdict.categories & ALWAYS_REFUSED or not await llm.judge_harmless(text):
            raise ScreeningRefused(name)
