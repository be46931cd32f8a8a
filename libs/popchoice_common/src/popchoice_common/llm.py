"""Chat and moderation through the official openai client (any OpenAI-compatible server).

Optional: without OPENAI_API_KEY the product answers with pitches built from the catalog text and
screens input with the local prompt-injection check only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import msgspec
import openai

from popchoice_common.logs import get_logger

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class FilmForPitch:
    name: str
    year: int | None
    description: str


@dataclass(frozen=True, slots=True)
class ModerationVerdict:
    flagged: bool
    categories: frozenset[str]


class _Pitches(msgspec.Struct):
    pitches: list[str]


class LLMClient:
    """Short grounded pitches (one batched chat call) and moderation."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None,
        chat_model: str,
        moderation_model: str,
        timeout_seconds: float,
        max_tokens: int,
    ) -> None:
        self._client = openai.AsyncOpenAI(api_key=api_key, base_url=base_url, timeout=timeout_seconds, max_retries=1)
        self._chat_model = chat_model
        self._moderation_model = moderation_model
        self._timeout = timeout_seconds
        self._max_tokens = max_tokens

    async def aclose(self) -> None:
        await self._client.close()

    async def pitches(self, quiz_text: str, films: Sequence[FilmForPitch], locale: str) -> list[str | None]:
        """One pitch per film, grounded in its description; None for any the model did not give."""
        if not films:
            return []
        listing = "\n".join(
            f"{index + 1}. {film.name} ({film.year or 'n/a'}): {film.description[:600]}"
            for index, film in enumerate(films)
        )
        messages: list[dict[str, str]] = [
            {
                "role": "system",
                "content": (
                    "You write one or two sentence pitches explaining why each film suits the person's quiz. "
                    "Use only facts from the given descriptions. Answer in the language of the locale "
                    f'{locale}, as JSON: {{"pitches": ["...", ...]}} with one string per film, in order.'
                ),
            },
            {"role": "user", "content": f"Quiz:\n{quiz_text}\n\nFilms:\n{listing}"},
        ]
        try:
            response = await asyncio.wait_for(
                self._client.chat.completions.create(
                    model=self._chat_model,
                    messages=messages,  # type: ignore[arg-type]
                    max_tokens=self._max_tokens,
                    temperature=0.7,
                ),
                self._timeout,
            )
            content = response.choices[0].message.content or ""
            pitches = msgspec.json.decode(content.strip().encode(), type=_Pitches).pitches
        except (openai.OpenAIError, TimeoutError, msgspec.DecodeError, msgspec.ValidationError, IndexError) as exc:
            log.warning("pitches_unavailable", error=type(exc).__name__, films=len(films))
            return [None] * len(films)
        cleaned = [pitch.strip() or None for pitch in pitches[: len(films)]]
        return cleaned + [None] * (len(films) - len(cleaned))

    async def moderate(self, text: str) -> ModerationVerdict:
        """The moderation endpoint's verdict on a text."""
        response = await self._client.moderations.create(model=self._moderation_model, input=text)
        result = response.results[0]
        flagged = {name for name, value in result.categories.model_dump(by_alias=True).items() if value}
        return ModerationVerdict(result.flagged, frozenset(flagged))

    async def judge_harmless(self, text: str) -> bool:
        """Asks the chat model whether a flagged favourite-movie answer is in fact harmless (a film's theme)."""
        try:
            response = await asyncio.wait_for(
                self._client.chat.completions.create(
                    model=self._chat_model,
                    messages=[
                        {
                            "role": "system",
                            "content": "A movie quiz answer was flagged by moderation. Reply HARMLESS if it is an "
                            "ordinary film title or a reason for liking a film, otherwise reply HARMFUL.",
                        },
                        {"role": "user", "content": text},
                    ],
                    max_tokens=5,
                    temperature=0,
                ),
                self._timeout,
            )
        except (openai.OpenAIError, TimeoutError):
            return False
        return (response.choices[0].message.content or "").strip().upper().startswith("HARMLESS")
