"""The pages' languages (en, ru, fi): which one a request gets, and the message catalog.

A request's language is the language cookie (set by the switch on every page) when it names one we
have, else the best of Accept-Language, else English. The JSON API uses the same choice, as a
locale for pitches and TMDB calls, when a request names no locale of its own.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

LANGUAGES = ("en", "ru", "fi")
DEFAULT_LANGUAGE = "en"
LANGUAGE_COOKIE = "popchoice_lang"
#: The locale the pipeline and TMDB get for each page language.
API_LOCALES = {"en": "en-US", "ru": "ru-RU", "fi": "fi-FI"}
#: Each language's own name, for the switch.
LANGUAGE_NAMES = {"en": "English", "ru": "Русский", "fi": "Suomi"}


def accepted_language(header: str | None) -> str | None:
    """The language of ours that an Accept-Language header prefers most (q-values honoured), or None."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header[:500].split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, index, primary))
    return min(ranked)[2] if ranked else None


def request_language(cookie: str | None, accept_language: str | None) -> str:
    """The page language: the cookie's when it names one of ours, else Accept-Language's, else English."""
    if cookie in LANGUAGES:
        return cookie
    return accepted_language(accept_language) or DEFAULT_LANGUAGE


def request_locale(cookie: str | None, accept_language: str | None) -> str:
    """The API locale (en-US, ru-RU or fi-FI) of the same choice."""
    return API_LOCALES[request_language(cookie, accept_language)]


@cache
def catalog(language: str) -> dict[str, Any]:
    """The messages of one language (translations/<language>.json), read once."""
    text = (files("popchoice_gateway") / "translations" / f"{language}.json").read_text(encoding="utf-8")
    messages: dict[str, Any] = json.loads(text)
    return messages


class Translator:
    """Looks up dotted keys ("quiz.title") in a language's catalog, falling back to English."""

    def __init__(self, language: str) -> None:
        self.language = language
        self._messages = catalog(language)
        self._fallback = catalog(DEFAULT_LANGUAGE)

    @staticmethod
    def _find(messages: dict[str, Any], key: str) -> Any:
        found: Any = messages
        for part in key.split("."):
            if not isinstance(found, dict) or part not in found:
                return None
            found = found[part]
        return found

    def __call__(self, key: str, **values: object) -> str:
        found = self._find(self._messages, key)
        if not isinstance(found, str):
            found = self._find(self._fallback, key)
        if not isinstance(found, str):
            raise KeyError(f"no message {key!r}")
        return found.format(**values) if values else found

    def section(self, key: str) -> dict[str, Any]:
        """A whole section (e.g. the strings the pages' JS needs), the language's own over English."""
        fallback = self._find(self._fallback, key) or {}
        own = self._find(self._messages, key) or {}
        return {**fallback, **own}
