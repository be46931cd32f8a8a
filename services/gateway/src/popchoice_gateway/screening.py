"""Screening of the free-text quiz fields before anything is stored or sent to a model.

Every answer a person types (favourite film and why, era, moods, tone) ends up in a prompt, so every
one is screened: locally for prompt injection, and with OpenAI configured by the moderation
endpoint, all of a request's answers in one call.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NoReturn

import openai

from popchoice_common.llm import LLMClient
from popchoice_common.logs import get_logger
from popchoice_gateway.schemas import QuizIn, QuizPersonIn

log = get_logger(__name__)

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
REFUSAL = "This answer could not be accepted. Please answer in your own words."
#: Where a value sits in the request, as FastAPI's validation errors say it: ("body", 1, "moodPreference", 2).
FieldPath = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class QuizText:
    """One free-text answer and where it sits in the request."""

    path: FieldPath
    text: str
    #: A favourite film or the reason for it: when moderation flags it, the chat model may judge it a
    #: film's theme (a title like "Kill Bill") and let it through. Other answers are refused outright.
    about_a_film: bool


class ScreeningUnavailable(Exception):
    """Moderation is configured but did not answer: the quiz is neither refused nor let through."""


class ScreeningRefused(Exception):
    """Answers were refused; ``paths`` say which, ``reason`` why (for logs, never shown with the text)."""

    def __init__(self, paths: Sequence[FieldPath], reason: str) -> None:
        self.paths = list(paths)
        self.reason = reason
        super().__init__(REFUSAL)


def looks_like_prompt_injection(text: str) -> bool:
    return bool(_INJECTION.search(text))


def dotted(path: FieldPath) -> str:
    """A path as one string for logs: ("body", 1, "moodPreference", 2) -> "body[1].moodPreference[2]"."""
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path).lstrip(".")


def _person_texts(person: QuizPersonIn, prefix: FieldPath) -> list[QuizText]:
    texts = [QuizText((*prefix, "favoriteMovie"), person.favoriteMovie, True)]
    if person.favoriteMovieWhy:
        texts.append(QuizText((*prefix, "favoriteMovieWhy"), person.favoriteMovieWhy, True))
    texts.append(QuizText((*prefix, "newVsClassic"), person.newVsClassic, False))
    texts += [
        QuizText((*prefix, "moodPreference", index), mood, False) for index, mood in enumerate(person.moodPreference)
    ]
    texts.append(QuizText((*prefix, "tonePreference"), person.tonePreference, False))
    return texts


def quiz_texts(quiz: QuizIn, location: str = "body") -> list[QuizText]:
    """Every free-text answer of every person, with its path (a group's people are indexed, one person is not)."""
    if isinstance(quiz, QuizPersonIn):
        return _person_texts(quiz, (location,))
    return [text for index, person in enumerate(quiz) for text in _person_texts(person, (location, index))]


async def screen(texts: Sequence[QuizText], llm: LLMClient | None) -> None:
    """Refuses prompt injection (always, locally) and, with OpenAI configured, moderated content.

    Moderation gets every distinct answer in one call; a flagged favourite film is refused only if
    the chat model does not judge it harmless, any other flagged answer is refused.
    """
    injected = [item.path for item in texts if looks_like_prompt_injection(item.text)]
    if injected:
        _refuse(injected, "prompt_injection")
    if llm is None or not texts:
        return
    distinct = list(dict.fromkeys(item.text for item in texts))
    try:
        verdicts = dict(zip(distinct, await llm.moderate(distinct), strict=True))
    except openai.OpenAIError as exc:
        # Fail closed: an unscreened answer never reaches a prompt. The person may try again.
        log.warning("moderation_unavailable", error_type=type(exc).__name__)
        raise ScreeningUnavailable from exc
    judged: dict[str, bool] = {}
    refused: list[FieldPath] = []
    categories: set[str] = set()
    for item in texts:
        verdict = verdicts[item.text]
        if not verdict.flagged:
            continue
        if item.about_a_film and not verdict.categories & ALWAYS_REFUSED:
            if item.text not in judged:
                judged[item.text] = await llm.judge_harmless(item.text)
            if judged[item.text]:
                continue
        refused.append(item.path)
        categories |= verdict.categories
    if refused:
        _refuse(refused, "moderation", sorted(categories))


def _refuse(paths: list[FieldPath], reason: str, categories: list[str] | None = None) -> NoReturn:
    log.info("quiz_refused", reason=reason, fields=[dotted(path) for path in paths], categories=categories or [])
    raise ScreeningRefused(paths, reason)
