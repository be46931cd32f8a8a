"""Chat and moderation through the official openai client (any OpenAI-compatible server).

Optional: without OPENAI_API_KEY the product answers with pitches built from the catalog text and
screens input with the local prompt-injection check only.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

import openai
import pydantic
from openai.types.chat import ChatCompletion

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


class ModerationAnswerMismatch(openai.OpenAIError):
    """The moderation server answered with another number of results than it was sent inputs."""

    def __init__(self, inputs: int, results: int) -> None:
        self.inputs = inputs
        self.results = results
        super().__init__(f"moderation answered {results} results for {inputs} inputs")


class FilmPitches(pydantic.BaseModel):
    """One pitch per film, in the order the films were listed."""

    pitches: list[str]


_FENCED = re.compile(r"```[A-Za-z]*[ \t]*\n?(.*?)```", re.DOTALL)
_JSON_START = re.compile(r"[\[{]")


def pitches_from_text(content: str) -> list[str] | None:
    """The pitches in a chat answer that is JSON, fenced JSON or JSON after a sentence; None when there are none.

    For servers that ignore ``response_format``: the first JSON value inside a code fence (else anywhere
    in the text) that is ``{"pitches": [...]}``, or a bare array of strings, wins.
    """
    decoder = json.JSONDecoder()
    for text in [*_FENCED.findall(content), content]:
        for start in _JSON_START.finditer(text):
            try:
                value, _ = decoder.raw_decode(text, start.start())
            except ValueError:
                continue
            if isinstance(value, list):
                value = {"pitches": value}
            try:
                return FilmPitches.model_validate(value).pitches
            except pydantic.ValidationError:
                continue
    return None


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
            pitches, reason = await asyncio.wait_for(self._structured_pitches(messages), self._timeout)
        except (openai.OpenAIError, TimeoutError) as exc:
            pitches, reason = None, type(exc).__name__
        if pitches is None:
            log.warning("pitches_unavailable", reason=reason, films=len(films))
            return [None] * len(films)
        cleaned = [pitch.strip() or None for pitch in pitches[: len(films)]]
        return cleaned + [None] * (len(films) - len(cleaned))

    async def _structured_pitches(self, messages: list[dict[str, str]]) -> tuple[list[str] | None, str]:
        """The pitches (or None and the reason there are none) from one structured-output chat call."""
        raw = await self._client.chat.completions.with_raw_response.parse(
            model=self._chat_model,
            messages=messages,  # type: ignore[arg-type]
            response_format=FilmPitches,
            max_tokens=self._max_tokens,
            temperature=0.7,
        )
        try:
            parsed = raw.parse().choices[0].message.parsed
        except pydantic.ValidationError:
            # A server that ignores response_format: the answer may still hold the JSON (fenced, after prose).
            try:
                choices = ChatCompletion.model_validate(raw.http_response.json()).choices
            except (ValueError, pydantic.ValidationError):
                return None, "malformed_response"
            content = (choices[0].message.content or "") if choices else ""
            pitches = pitches_from_text(content)
            if pitches is None:
                return None, "no_pitches_json" if content.strip() else "empty_answer"
            log.debug("pitches_recovered_from_text", characters=len(content))
            return pitches, ""
        except IndexError:
            return None, "no_choices"
        if parsed is None:
            return None, "refused_or_empty"
        return parsed.pitches, ""

    async def moderate(self, texts: Sequence[str]) -> list[ModerationVerdict]:
        """The moderation endpoint's verdicts on several texts, in order, from one call."""
        if not texts:
            return []
        response = await self._client.moderations.create(model=self._moderation_model, input=list(texts))
        if len(response.results) != len(texts):
            raise ModerationAnswerMismatch(len(texts), len(response.results))
        verdicts = []
        for result in response.results:
            flagged = {name for name, value in result.categories.model_dump(by_alias=True).items() if value}
            verdicts.append(ModerationVerdict(result.flagged, frozenset(flagged)))
        return verdicts

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
