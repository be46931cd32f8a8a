"""Movie identity: one title normalisation and one movie_key, used by every service."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_LEADING_ARTICLE = re.compile(r"^(the|a|an)\s+")
_WHITESPACE = re.compile(r"\s+")


@lru_cache(maxsize=16_384)
def normalize_title(title: str) -> str:
    """NFKD, lowercase, combining marks stripped, ``&`` → ``and``, leading the/a/an dropped, whitespace collapsed.

    Cached: the request path normalises the same catalog titles over and over (keys for filtering,
    merging and storing picks)."""
    if title.isascii():
        text = title.lower()  # NFKD changes nothing in ASCII, and it has no combining marks
    else:
        decomposed = unicodedata.normalize("NFKD", title).lower()
        text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    text = text.replace("&", " and ")
    text = _WHITESPACE.sub(" ", text).strip()
    stripped = _LEADING_ARTICLE.sub("", text)
    # A title that is only an article ("The") keeps it rather than becoming empty.
    return stripped or text


def movie_key(*, title: str, year: int | None, tmdb_id: int | None = None) -> str:
    """``tmdb:<id>`` when the TMDB id is known, else ``title:<normalised title>:<year or na>``."""
    if tmdb_id is not None:
        return f"tmdb:{tmdb_id}"
    return f"title:{normalize_title(title)}:{year if year is not None else 'na'}"
