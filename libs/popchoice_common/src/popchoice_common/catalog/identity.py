"""Movie identity: one title normalisation and one movie_key, used by every service.

The database computes ``movies.normalized_name`` with its own copy of the normalisation, the SQL
function ``normalize_title(text)`` (db/init/013_title_normalisation.sql). The two must agree (a
test compares them on every curated title and on generated Unicode titles), so every step below
uses explicit character sets rather than Unicode properties or locale-dependent classes.
Changing the normalisation means a new migration that replaces the SQL function and recomputes
the column and the stored movie keys, in the same commit as the change here.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Letters that Unicode does not decompose but that are spelling variants of the same title.
# "ς" (final sigma) folds to "σ" because Python's lower() produces it and PostgreSQL's does not.
_LETTER_FOLDS = str.maketrans({"ς": "σ", "ø": "o", "ł": "l", "đ": "d", "ı": "i", "ß": "ss", "æ": "ae", "œ": "oe"})
# Removed outright: combining diacritical marks (the generic blocks only, so kana voicing marks,
# Indic and Hebrew vowel signs stay), apostrophe variants, soft hyphen and zero-width characters.
_DELETED = str.maketrans(
    dict.fromkeys(
        [
            *map(chr, range(0x0300, 0x0370)),
            *map(chr, range(0x1AB0, 0x1B00)),
            *map(chr, range(0x1DC0, 0x1E00)),
            *map(chr, range(0x20D0, 0x2100)),
            *map(chr, range(0xFE20, 0xFE30)),
            *"'\u2018\u2019\u201b\u02bc\u2032`\u00ad\u200b\u200c\u200d\u2060\ufeff",
        ]
    )
)
_ELLIPSIS = re.compile(r"\.{2,}")
# A single period goes ("E.T." is "ET"), except between digits ("2.0" is not "20").
_PERIOD = re.compile(r"(?<![0-9])\.|\.(?![0-9])")
# Separators, made spaces: dashes, interpuncts, colons and other punctuation that only splits words.
_SEPARATORS = str.maketrans(
    dict.fromkeys(
        "-\u2010\u2012\u2013\u2014\u2015\u2212\u00b7\u2022\u2027\u2219\u22c5\u30fb"
        ':;,!?\u00a1\u00bf"\u201c\u201d\u201e\u201f\u00ab\u00bb\u2039\u203a()[]{}/_',
        " ",
    )
)
_WHITESPACE = re.compile("[ \t\n\r\f\v\u0085\u1680\u2028\u2029]+")
_LEADING_ARTICLES = re.compile(r"^((the|a|an) )+")


def _collapse(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip(" ")


@lru_cache(maxsize=16_384)
def normalize_title(title: str) -> str:
    """The identity form of a title: spelling and punctuation variants of one title agree.

    NFKD; lowercase; a few letters folded (ß → ss, æ → ae, ø → o …); accents, apostrophes and
    single periods removed (periods between digits kept); dashes, interpuncts, colons and other
    separating punctuation become spaces; ``&`` becomes ``and``; whitespace collapsed; leading
    the/a/an dropped ("The A-Team" and "A-Team" agree, and normalising twice changes nothing).
    Digits, roman numerals and symbols such as ``*`` or ``+`` are kept: "Se7en", "Rocky II" and
    "M*A*S*H" stay themselves. A title that is only punctuation keeps its own lowercase form, and
    one that is only an article keeps the article.

    Cached: the request path normalises the same catalog titles over and over (keys for filtering,
    merging and storing picks)."""
    text = title.lower() if title.isascii() else unicodedata.normalize("NFKD", title).lower().translate(_LETTER_FOLDS)
    text = text.translate(_DELETED)
    if "." in text:
        text = _PERIOD.sub("", _ELLIPSIS.sub(" ", text))
    folded = _collapse(text.translate(_SEPARATORS).replace("&", " and "))
    if folded:
        return _LEADING_ARTICLES.sub("", folded) or folded
    return _collapse(unicodedata.normalize("NFKD", title).lower()) or title


def movie_key(*, title: str, year: int | None, tmdb_id: int | None = None) -> str:
    """``tmdb:<id>`` when the TMDB id is known, else ``title:<normalised title>:<year or na>``."""
    if tmdb_id is not None:
        return f"tmdb:{tmdb_id}"
    return f"title:{normalize_title(title)}:{year if year is not None else 'na'}"
