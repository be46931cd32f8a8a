"""The quiz read as constraints: era → years, moods → genres, tone → a lightness, stated exclusions.

Pure functions over the quiz's free text (no database, Redis or HTTP here). Genres are TMDB's movie
genre names. What a person *states* they do not want ("no horror", "for my kids", "under 2 hours")
is a hard constraint; era and moods are what a pick should fit; tone only steers the ranking.

The product's definitions of an era: "new" is 2000 or later with recent years preferred, "classic"
is before 1980, a decade ("90s", "1990s", "nineties") is that decade, and anything else
("anything", "no preference", a word it does not know) is no constraint.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

NEW_FROM_YEAR = 2000
CLASSIC_BEFORE_YEAR = 1980

#: US certifications from mildest to strictest; TV ratings map onto the same scale.
AGE_RATING_RANK: dict[str, int] = {
    "G": 0,
    "TV-Y": 0,
    "TV-Y7": 0,
    "TV-G": 0,
    "PG": 1,
    "TV-PG": 1,
    "PG-13": 2,
    "TV-14": 2,
    "R": 3,
    "TV-MA": 3,
    "NC-17": 4,
    "X": 4,
}
#: The cap each age statement sets.
KIDS_AGE_CAP = "PG"
TEENS_AGE_CAP = "PG-13"
VIOLENCE_AGE_CAP = "PG-13"
#: "not too long", "something short": the runtime cap a vague statement sets, in minutes.
VAGUE_RUNTIME_CAP = 120


# ---------------------------------------------------------------------------------------------
# Words


def _terms(text: str) -> tuple[str, ...]:
    """A comma-separated word list as a tuple (word lists stay readable as text)."""
    return tuple(term.strip() for term in text.split(",") if term.strip())


def _words(text: str) -> list[str]:
    """Lowercase word tokens; hyphenated words stay whole ("rom-com", "sci-fi"), commas are tokens."""
    folded = text.lower().replace("’", "'").replace("‘", "'")
    return re.findall(r"[a-z0-9]+(?:[-'][a-z0-9]+)*|,", folded)


def _phrases(text: str) -> str:
    """The text as space-joined tokens, for phrase lookups on word boundaries."""
    return " " + " ".join(_words(text)) + " "


#: Words and phrases that name genres, in moods and in exclusions: "genres: terms", one group a line.
#: A term maps to every genre of its line; a mood matches a film that has any of them.
_GENRE_LEXICON = """
Action: action, action-packed, fights, fight, explosions, martial arts, kung fu
Adventure: adventure, adventures, adventurous, quest, journey, treasure
Animation: animation, animated, cartoon, cartoons, anime, pixar, ghibli
Comedy: comedy, comedies, funny, hilarious, laugh, laughs, humor, humour, comedic
Comedy: silly, goofy, slapstick, witty, satire, parody, spoof
Crime: crime, heist, heists, gangster, gangsters, mob, mafia, detective, cops
Documentary: documentary, documentaries, docs, real life
Drama: drama, dramas, dramatic
Family: family, kids, kid, children, child, family-friendly, kid-friendly
Fantasy: fantasy, magical, magic, fairy tale, fairy tales, fairytale, dragons, wizards
History: history, historical, period, period piece, biopic, biopics
Horror: horror, horrors, scary, scare, scares, frightening, terrifying, creepy, spooky, slasher, slashers
Horror: gore, gory, zombie, zombies, jump scares, ghost, ghosts, haunted, monsters, vampire, vampires
Music: music, musical, musicals, singing, dance, dancing, concert
Mystery: mystery, mysteries, mysterious, whodunit, whodunnit, puzzle, twisty, twist
Romance: romance, romantic, romances, love story, love stories, date night, love, mushy, kissing
Science Fiction: sci-fi, scifi, science fiction, science-fiction, sf, space, aliens, alien, robots, robot
Science Fiction: futuristic, future, dystopian, dystopia, time travel, cyberpunk
Thriller: thriller, thrillers, suspense, suspenseful, thrilling, tense, edge of my seat
War: war, wars, battle, battles, military, soldiers
Western: western, westerns, cowboy, cowboys, wild west
Romance, Comedy: rom-com, rom-coms, romcom, romcoms, romantic comedy, romantic comedies
Action, Adventure, Thriller: exciting, adrenaline, epic, thrills, high-octane
Comedy, Family, Romance, Animation: feel-good, feel good, heartwarming, uplifting, wholesome, cozy, cosy
Comedy, Family, Romance, Animation: lighthearted, light-hearted, cheerful, happy, sweet, fun, relaxing, chill
Fantasy, Animation, Family, Comedy: whimsical, enchanting, charming
Science Fiction, Drama, Mystery: thought-provoking, mind-bending, cerebral, philosophical, smart, deep
Drama, Romance: emotional, moving, touching, tearjerker, tear-jerker, sad, poignant
Drama, History: inspiring, inspirational, true story, true stories, based on a true story
Crime, Thriller, Drama: dark, gritty, noir
"""


def _read_lexicon(text: str) -> dict[str, frozenset[str]]:
    terms: dict[str, frozenset[str]] = {}
    for line in text.strip().splitlines():
        genres, _, words = line.partition(": ")
        for word in words.split(", "):
            terms[word] = terms.get(word, frozenset()) | frozenset(genres.split(", "))
    return terms


_GENRE_TERMS = _read_lexicon(_GENRE_LEXICON)
_LONGEST_TERM_WORDS = max(len(term.split()) for term in _GENRE_TERMS)


def _genre_terms_at(tokens: Sequence[str], index: int) -> tuple[frozenset[str], int]:
    """The genres of the longest genre term starting at tokens[index], and how many tokens it spans."""
    for length in range(min(_LONGEST_TERM_WORDS, len(tokens) - index), 0, -1):
        phrase = " ".join(tokens[index : index + length])
        if phrase in _GENRE_TERMS:
            return _GENRE_TERMS[phrase], length
        # Plural and "-y" forms: "thrillers" is listed, "comedy movies" is read word by word.
    return frozenset(), 0


def genres_named(text: str) -> frozenset[str]:
    """Every TMDB genre a piece of free text names ("sci-fi, something funny" → Science Fiction, Comedy)."""
    tokens = _words(text)
    found: set[str] = set()
    index = 0
    while index < len(tokens):
        genres, length = _genre_terms_at(tokens, index)
        found |= genres
        index += max(length, 1)
    return frozenset(found)


def mood_genres(moods: Iterable[str]) -> frozenset[str]:
    """The genres a person's moods stand for (a mood is a label like "Comedy" or free text like "cozy").

    Within one mood, a word that names a single genre outweighs vague ones: "dark comedy" is a
    comedy (not also crime and thriller), while "dark" alone reaches all three."""
    found: set[str] = set()
    for mood in moods:
        tokens = _words(mood)
        specific: set[str] = set()
        vague: set[str] = set()
        index = 0
        while index < len(tokens):
            genres, length = _genre_terms_at(tokens, index)
            (specific if len(genres) == 1 else vague).update(genres)
            index += max(length, 1)
        found |= specific or vague
    return frozenset(found)


# ---------------------------------------------------------------------------------------------
# Era


@dataclass(frozen=True, slots=True)
class YearRange:
    """Release years from start to end, both included; None is open. prefer_recent: newer is better."""

    start: int | None = None
    end: int | None = None
    prefer_recent: bool = False

    def contains(self, year: int | None) -> bool:
        if year is None:
            return False
        return (self.start is None or year >= self.start) and (self.end is None or year <= self.end)


_DECADE_WORDS = {
    "twenties": 1920,
    "thirties": 1930,
    "forties": 1940,
    "fifties": 1950,
    "sixties": 1960,
    "seventies": 1970,
    "eighties": 1980,
    "nineties": 1990,
    "noughties": 2000,
    "aughts": 2000,
    "two-thousands": 2000,
}
_NO_ERA = _terms("anything, any, no preference, either, both, doesn't matter, don't care, whatever, mix")
_NEW_WORDS = (" new ", " newer ", " recent ", " modern ", " latest ", " contemporary ", " current ", " newest ")
_CLASSIC_WORDS = (" classic ", " classics ", " old ", " older ", " oldies ", " vintage ", " golden age ", " retro ")


def _decade_start(token: str) -> int | None:
    """1990 for "90s", "1990s", "'90s" or "nineties"; None otherwise."""
    if token in _DECADE_WORDS:
        return _DECADE_WORDS[token]
    match = re.fullmatch(r"'?(\d{2}|\d{4})'?s", token)
    if not match:
        return None
    digits = match.group(1)
    if len(digits) == 4:
        return int(digits) if int(digits) % 10 == 0 and 1880 <= int(digits) <= 2090 else None
    value = int(digits)
    if value % 10:
        return None
    # Two digits: "00s", "10s" and "20s" are this century; "30s" to "90s" the last.
    return 2000 + value if value <= 20 else 1900 + value


@lru_cache(maxsize=4096)
def era_range(text: str) -> YearRange | None:
    """The years an era answer means, or None for no constraint (see the module's definitions)."""
    tokens = _words(text)
    phrases = " " + " ".join(tokens) + " "
    decades = sorted({start for token in tokens if (start := _decade_start(token)) is not None})
    if decades:
        return YearRange(decades[0], decades[-1] + 9)
    bounds = re.search(r"\b(before|after|since|from|pre|post)[- ](\d{4})\b", text.lower())
    if bounds:
        word, year = bounds.group(1), int(bounds.group(2))
        if word in ("before", "pre"):
            return YearRange(None, year - 1)
        return YearRange(year + (1 if word in ("after", "post") else 0), None, prefer_recent=True)
    is_new = any(word in phrases for word in _NEW_WORDS)
    is_classic = any(word in phrases for word in _CLASSIC_WORDS)
    if is_new and is_classic:
        return None
    if is_new:
        return YearRange(NEW_FROM_YEAR, None, prefer_recent=True)
    if is_classic and not any(f" {word} " in phrases for word in _NO_ERA):
        return YearRange(None, CLASSIC_BEFORE_YEAR - 1)
    return None


# ---------------------------------------------------------------------------------------------
# Tone

_LIGHT_TONE = _terms(
    "lighthearted, light-hearted, light, funny, fun, feel-good, feel good, upbeat, cheerful, playful, "
    "silly, goofy, whimsical, cozy, cosy, sweet, happy, uplifting, heartwarming, easygoing, relaxed, "
    "relaxing, breezy, comforting, wholesome, charming, hopeful, joyful, optimistic, comedic, "
    "hilarious"
)
_DARK_TONE = _terms(
    "dark, serious, gritty, bleak, intense, heavy, grim, disturbing, tense, somber, sombre, moody, "
    "melancholic, melancholy, sad, brooding, violent, brutal, tragic, haunting, chilling, sinister, "
    "harrowing, menacing, terrifying, creepy, unsettling, sobering, devastating, eerie, scary, "
    "bittersweet"
)


_LIGHT_WORDS = frozenset(word for word in _LIGHT_TONE if " " not in word)
_DARK_WORDS = frozenset(word for word in _DARK_TONE if " " not in word)
_LIGHT_PHRASES = tuple(f" {word} " for word in _LIGHT_TONE if " " in word)
_DARK_PHRASES = tuple(f" {word} " for word in _DARK_TONE if " " in word)


def _tone_counts(text: str) -> tuple[int, int]:
    """How many light and dark tone words a text has (one pass over its words; phrases looked up)."""
    tokens = _words(text)
    light = sum(1 for token in tokens if token in _LIGHT_WORDS)
    dark = sum(1 for token in tokens if token in _DARK_WORDS)
    if _LIGHT_PHRASES or _DARK_PHRASES:
        phrases = " " + " ".join(tokens) + " "
        light += sum(phrases.count(phrase) for phrase in _LIGHT_PHRASES)
        dark += sum(phrases.count(phrase) for phrase in _DARK_PHRASES)
    return light, dark


@lru_cache(maxsize=4096)
def tone_lightness(text: str) -> float | None:
    """A tone answer as a lightness from -1 (dark, serious) to 1 (lighthearted, funny); None when neutral."""
    light, dark = _tone_counts(text)
    if light == dark:
        return None
    return (light - dark) / (light + dark)


#: How light each genre is, from -1 (dark) to 1 (light).
GENRE_LIGHTNESS: dict[str, float] = {
    "Action": 0.0,
    "Adventure": 0.3,
    "Animation": 0.6,
    "Comedy": 0.7,
    "Crime": -0.5,
    "Documentary": -0.1,
    "Drama": -0.3,
    "Family": 0.9,
    "Fantasy": 0.2,
    "History": -0.3,
    "Horror": -0.9,
    "Music": 0.5,
    "Mystery": -0.3,
    "Romance": 0.3,
    "Science Fiction": -0.1,
    "TV Movie": 0.0,
    "Thriller": -0.6,
    "War": -0.8,
    "Western": -0.2,
}


@lru_cache(maxsize=16_384)
def film_lightness(genres: frozenset[str], text: str) -> float:
    """How light a film is, from -1 to 1: its genres' mean, moved by the tone words of its description.
    Cached: the same catalog films are scored for request after request."""
    values = [GENRE_LIGHTNESS.get(genre, 0.0) for genre in genres]
    from_genres = sum(values) / len(values) if values else 0.0
    light, dark = _tone_counts(text)
    from_words = (light - dark) / (light + dark + 1)
    return max(-1.0, min(1.0, 0.6 * from_genres + 0.4 * from_words))


def tone_fit(person_lightness: float | None, film: float) -> float:
    """1 when the film's lightness matches the person's tone, 0 at the opposite end; 1 without a tone."""
    if person_lightness is None:
        return 1.0
    return 1.0 - abs(person_lightness - film) / 2.0


# ---------------------------------------------------------------------------------------------
# Stated exclusions


@dataclass(frozen=True, slots=True)
class Exclusions:
    """What a pick must not be: genres, an age rating above max_age_rating, a runtime above max_runtime."""

    forbidden_genres: frozenset[str] = frozenset()
    max_age_rating: str | None = None
    max_runtime: int | None = None
    #: The phrases that set them, for the "why" of a relaxed pick and for logs.
    reasons: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.forbidden_genres) or self.max_age_rating is not None or self.max_runtime is not None

    def union(self, other: Exclusions) -> Exclusions:
        """Both sets of exclusions at once: every forbidden genre, the stricter caps."""
        return Exclusions(
            forbidden_genres=self.forbidden_genres | other.forbidden_genres,
            max_age_rating=_stricter_rating(self.max_age_rating, other.max_age_rating),
            max_runtime=_smaller(self.max_runtime, other.max_runtime),
            reasons=tuple(dict.fromkeys(self.reasons + other.reasons)),
        )


def _stricter_rating(first: str | None, second: str | None) -> str | None:
    if first is None or second is None:
        return first or second
    return first if AGE_RATING_RANK[first] <= AGE_RATING_RANK[second] else second


def _smaller(first: int | None, second: int | None) -> int | None:
    if first is None or second is None:
        return first if second is None else second
    return min(first, second)


#: Words that start a negated clause: "no horror", "nothing too scary", "not a fan of musicals".
_NEGATIONS = frozenset(
    _terms(
        "no, not, nothing, without, avoid, avoiding, skip, hate, hates, dislike, dislikes, nor, never, "
        "except, exclude, excluding, aren't, isn't, don't, doesn't, can't, cannot, won't, zero"
    )
)
#: Words that may stand between a negation and what it negates ("nothing too scary", "not a big
#: fan of horror", "don't want anything violent").
_FILLERS = frozenset(
    _terms(
        "too, very, really, overly, so, super, particularly, any, anything, a, an, the, more, of, fan, "
        "fans, big, huge, into, like, likes, want, wants, stand, handle, do, watch, watching, see, "
        "seeing, movies, movie, films, film, stuff, that, that's, thats, is, are, be, we, i, me, my, our, "
        "us, please, at, all, in, with, for, kind, sort, type, much"
    )
)
_LIST_JOINERS = {"or", "and", "nor", ",", "/"}
#: Words that may stand between a list joiner and the next negated term ("no horror or any gore"),
#: fewer than after the cue, so that "no rom-coms, I want action" does not negate "action".
_LIST_FILLERS = {"a", "an", "the", "any", "too", "very", "really", "overly", "more", "anything"}
#: Negated words that forbid by age or runtime rather than by genre.
_VIOLENCE_WORDS = {"violent", "violence", "bloody", "blood", "brutal", "graphic", "gore", "gory"}
_KIDS_PHRASES = _terms(
    "for my kids, with my kids, with the kids, for the kids, with kids, for kids, my kids, our kids, "
    "with children, for children, with my children, for my children, my children, kid-friendly, "
    "kid friendly, kids-friendly, child-friendly, family-friendly, family friendly, family movie night, "
    "family night, suitable for children, safe for kids, my son, my daughter, my little, toddler, "
    "toddlers, grandkids, my nephew, my niece"
)
_TEEN_PHRASES = (" my teen ", " my teens ", " teenager ", " teenagers ", " my teenage ", " with teens ", " for teens ")
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "an": 1, "a": 1}


def _negated_spans(tokens: Sequence[str]) -> list[list[str]]:
    """The token runs that a negation governs: after the cue, past a few fillers, a term and the
    terms joined to it by "or", "and" or commas ("no horror, gore or slashers")."""
    spans: list[list[str]] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        cue = token in _NEGATIONS or (token == "but" and index > 0 and tokens[index - 1] == "anything")
        # "anything but horror"; "not into", "not a fan of": the fillers absorb the rest.
        if not cue:
            index += 1
            continue
        cursor = index + 1
        skipped = 0
        while cursor < len(tokens) and tokens[cursor] in _FILLERS and skipped < 5:
            cursor += 1
            skipped += 1
        span: list[str] = []
        while cursor < len(tokens):
            genres, length = _genre_terms_at(tokens, cursor)
            word = tokens[cursor]
            if length:
                span.extend(tokens[cursor : cursor + length])
                cursor += length
            elif word in _VIOLENCE_WORDS:
                span.append(word)
                cursor += 1
            else:
                break
            # Continue through a list: "horror, gore or slashers"; "scary or violent movies".
            if cursor < len(tokens) and tokens[cursor] in _LIST_JOINERS:
                lookahead = cursor + 1
                while lookahead < len(tokens) and tokens[lookahead] in _LIST_FILLERS:
                    lookahead += 1
                next_length = _genre_terms_at(tokens, lookahead)[1] if lookahead < len(tokens) else 0
                if next_length or (lookahead < len(tokens) and tokens[lookahead] in _VIOLENCE_WORDS):
                    cursor = lookahead
                    continue
            break
        if span:
            spans.append(span)
        index = max(cursor, index + 1)
    return spans


#: Negating these terms forbids the genre: they name a genre, not a quality any film may have.
#: ("nothing sad" or "not too dark" steer the tone instead; "no love" is not "no romance films".)
_MOOD_ONLY_TERMS = frozenset(
    _terms(
        "sad, dark, gritty, noir, moving, touching, emotional, poignant, deep, smart, love, fun, sweet, "
        "happy, chill, relaxing, epic, exciting, thrilling, tense, twist, twisty, future, space, magic, "
        "period, journey, treasure, laugh, laughs, fight, fights, dance, dancing, cozy, cosy, charming, "
        "kid, child, kids, children, family, dramatic, drama, feel-good, feel good, heartwarming, "
        "uplifting, wholesome, lighthearted, light-hearted, cheerful, whimsical, enchanting, "
        "thought-provoking, mind-bending, cerebral, philosophical, inspiring, inspirational, true story, "
        "true stories, based on a true story, real life, puzzle, mysterious, battle, battles, music, "
        "singing, concert, quest, adventurous, romantic"
    )
)
_FORBIDDABLE_TERMS = frozenset(_GENRE_TERMS) - _MOOD_ONLY_TERMS
#: Terms of genres a person may want to keep away from children's films, but which say nothing
#: against a genre when negated ("no kids movies" forbids Family).
_KIDS_FILM_TERMS = {"kids", "kid", "children", "family", "child"}


def _runtime_cap(text: str) -> tuple[int | None, str | None]:
    """The runtime cap a text states, in minutes, and the phrase that stated it."""
    lowered = " " + " ".join(_words(text.replace(".", " point "))) + " "
    lowered = lowered.replace(" point ", ".")
    limit = (
        r"(?:under|below|less than|shorter than|no longer than|not longer than|not over|at most|max|maximum"
        r"|up to|within|no more than)"
    )
    hours_and_half = re.search(rf"{limit} (?:an? )?(one|two|three|\d) and a half hours?", lowered)
    if hours_and_half:
        hours = _NUMBER_WORDS.get(hours_and_half.group(1)) or int(hours_and_half.group(1))
        return hours * 60 + 30, hours_and_half.group(0).strip()
    if found := re.search(rf"{limit} (?:an? )?hour and a half", lowered) or re.search(
        r"(?:an? )?hour and a half (?:or less|or shorter|max|maximum|tops)", lowered
    ):
        return 90, found.group(0).strip()
    if found := re.search(r"(one|two|three|\d) and a half hours? (?:or less|or shorter|max|maximum|tops)", lowered):
        hours = _NUMBER_WORDS.get(found.group(1)) or int(found.group(1))
        return hours * 60 + 30, found.group(0).strip()
    amount = r"(\d+(?:\.\d+)?|one|two|three|four|an|a)"
    unit = r"(hours?|hrs?|h|minutes?|mins?|m)"
    found = re.search(rf"{limit} {amount} ?{unit}\b", lowered) or re.search(
        rf"{amount} ?{unit} (?:or less|or shorter|max|maximum|tops)\b", lowered
    )
    if found:
        number_text, unit_text = found.group(1), found.group(2)
        number = float(_NUMBER_WORDS.get(number_text, 0) or number_text)
        minutes = number * 60 if unit_text.startswith("h") else number
        return int(minutes), found.group(0).strip()
    negated_over = re.search(
        rf"(?:\bnothing|\b(?:can't|cannot|won't|don't|do not|not|never)\b(?: \w+){{0,4}} anything)"
        rf" (?:over|longer than|more than|above|past) {amount} ?{unit}\b",
        lowered,
    )
    if negated_over:
        number_text, unit_text = negated_over.group(1), negated_over.group(2)
        number = float(_NUMBER_WORDS.get(number_text, 0) or number_text)
        return int(number * 60 if unit_text.startswith("h") else number), negated_over.group(0).strip()
    compact = re.search(rf"{limit} (\d)h ?(\d\d?)m?\b", lowered)
    if compact:
        return int(compact.group(1)) * 60 + int(compact.group(2)), compact.group(0).strip()
    for phrase in (" not too long ", " not long ", " nothing long ", " nothing too long ", " something short "):
        if phrase in lowered:
            return VAGUE_RUNTIME_CAP, phrase.strip()
    return None, None


def _rating_cap(phrases: str) -> tuple[str | None, str | None]:
    """An age cap stated by rating: "no R-rated", "PG-13 max", "nothing rated R", "G or PG"."""
    if found := re.search(r" (?:no|not|nothing|never) (?:rated )?(r|nc-17)(?:-rated| rated)? ", phrases):
        return ("PG-13" if found.group(1) == "r" else "R"), found.group(0).strip()
    if found := re.search(
        r" (g|pg|pg-13)(?:-rated| rated)? (?:or (?:below|less|under|lower)|and (?:below|under)|at most|max|maximum"
        r"|tops|only) ",
        phrases,
    ):
        return found.group(1).upper(), found.group(0).strip()
    if found := re.search(r" (?:rated|at most|max|up to) (g|pg|pg-13) ", phrases):
        return found.group(1).upper(), found.group(0).strip()
    return None, None


@lru_cache(maxsize=4096)
def stated_exclusions(text: str) -> Exclusions:
    """What a person's free text says a pick must not be.

    "no horror", "nothing scary" and "not a fan of musicals" forbid genres; "for my kids" caps the
    age rating at PG and forbids horror; "not too violent" caps it at PG-13; "under 2 hours" caps the
    runtime. A phrase that only looks like one is no constraint: a title such as "Horror of Dracula"
    names no exclusion, and "I love horror" forbids nothing.
    """
    tokens = _words(text)
    phrases = " " + " ".join(tokens) + " "
    forbidden: set[str] = set()
    age_cap: str | None = None
    reasons: list[str] = []
    for span in _negated_spans(tokens):
        before = (frozenset(forbidden), age_cap)
        index = 0
        while index < len(span):
            genres, length = _genre_terms_at(span, index)
            term = " ".join(span[index : index + length]) if length else span[index]
            if length and term in _FORBIDDABLE_TERMS:
                # "no rom-coms" rules out romances, not every comedy.
                forbidden |= {"Romance"} if genres == {"Romance", "Comedy"} else genres
            elif length and term in _KIDS_FILM_TERMS:
                forbidden |= {"Family"}
            if term in _VIOLENCE_WORDS:
                age_cap = _stricter_rating(age_cap, VIOLENCE_AGE_CAP)
                forbidden.add("Horror")
            index += max(length, 1)
        if (frozenset(forbidden), age_cap) != before:
            reasons.append("no " + " ".join(span))
    child_age = re.search(r" (\d{1,2}) (?:year|yr)s? old ", phrases)
    if any(f" {phrase} " in phrases for phrase in _KIDS_PHRASES) or (child_age and int(child_age.group(1)) < 13):
        age_cap = _stricter_rating(age_cap, KIDS_AGE_CAP)
        forbidden.add("Horror")
        reasons.append("for children")
        forbidden.discard("Family")  # "nothing for kids" read as a negation above does not apply here
    elif any(phrase in phrases for phrase in _TEEN_PHRASES) or (child_age and int(child_age.group(1)) < 17):
        age_cap = _stricter_rating(age_cap, TEENS_AGE_CAP)
        reasons.append("for teenagers")
    rating, rating_phrase = _rating_cap(phrases)
    if rating is not None:
        age_cap = _stricter_rating(age_cap, rating)
        reasons.append(rating_phrase or "")
    runtime, runtime_phrase = _runtime_cap(text)
    if runtime_phrase:
        reasons.append(runtime_phrase)
    return Exclusions(frozenset(forbidden), age_cap, runtime, tuple(dict.fromkeys(reasons)))


def age_rating_allowed(age_rating: str | None, cap: str | None) -> bool:
    """Whether a film's certification is within a cap; an unknown rating is never within one."""
    if cap is None:
        return True
    rank = AGE_RATING_RANK.get((age_rating or "").strip().upper())
    return rank is not None and rank <= AGE_RATING_RANK[cap]


# ---------------------------------------------------------------------------------------------
# The favourite film


#: A trailing number above this is part of a title ("Blade Runner 2049"), not a release year.
LATEST_PLAUSIBLE_YEAR = 2035


@dataclass(frozen=True, slots=True)
class FavoriteFilm:
    """The favourite as typed, and its title and year when a year was given ("Heat (1995)",
    "Dune 2021"). A resolver tries the whole text first: "Blade Runner 2049" is a title."""

    text: str
    title: str
    year: int | None = None


@lru_cache(maxsize=4096)
def favorite_film(text: str) -> FavoriteFilm:
    """The title and optional year of a favourite-film answer."""
    cleaned = " ".join(text.split())
    found = re.fullmatch(r"(.+?)[\s,]*[(\[]\s*((?:18|19|20)\d\d)\s*[)\]]", cleaned) or re.fullmatch(
        r"(.+?)[\s,]+-?\s*((?:18|19|20)\d\d)", cleaned
    )
    if found and int(found.group(2)) <= LATEST_PLAUSIBLE_YEAR:
        title = found.group(1).strip(" -,")
        if len(title) >= 2:
            return FavoriteFilm(cleaned, title, int(found.group(2)))
    return FavoriteFilm(cleaned, cleaned)


# ---------------------------------------------------------------------------------------------
# A whole quiz


@dataclass(frozen=True, slots=True)
class PersonConstraints:
    """One person's answers read as constraints."""

    years: YearRange | None
    genres: frozenset[str]
    lightness: float | None
    exclusions: Exclusions
    favorite: FavoriteFilm

    def fits(self, year: int | None, genres: Iterable[str]) -> bool:
        """Whether a film fits this person's era and moods (either unconstrained passes)."""
        return self.fits_era(year) and self.fits_moods(genres)

    def fits_era(self, year: int | None) -> bool:
        return self.years is None or self.years.contains(year)

    def fits_moods(self, genres: Iterable[str]) -> bool:
        return not self.genres or not self.genres.isdisjoint(genres)


@dataclass(frozen=True, slots=True)
class QuizConstraints:
    """Everyone's constraints: each person's era and moods, and the union of their exclusions (hard)."""

    people: tuple[PersonConstraints, ...]
    exclusions: Exclusions = field(default_factory=Exclusions)

    def allows(self, genres: Iterable[str], age_rating: str | None, duration: int | None) -> bool:
        """Whether a film breaks none of the stated exclusions."""
        return film_allowed(self.exclusions, genres, age_rating, duration)

    def fitting_people(self, year: int | None, genres: Iterable[str]) -> list[int]:
        """The indexes of the people whose era and moods a film fits."""
        genre_set = frozenset(genres)
        return [index for index, person in enumerate(self.people) if person.fits(year, genre_set)]


def film_allowed(exclusions: Exclusions, genres: Iterable[str], age_rating: str | None, duration: int | None) -> bool:
    """Whether a film breaks none of the exclusions (a runtime cap needs a known runtime)."""
    if exclusions.forbidden_genres and not exclusions.forbidden_genres.isdisjoint(genres):
        return False
    if not age_rating_allowed(age_rating, exclusions.max_age_rating):
        return False
    return exclusions.max_runtime is None or (duration is not None and 0 < duration <= exclusions.max_runtime)


def person_constraints(
    *,
    favorite_movie: str,
    new_vs_classic: str,
    mood_preference: Sequence[str],
    tone_preference: str,
    favorite_movie_why: str | None = None,
) -> PersonConstraints:
    """One person's answers as constraints. Exclusions are read from every free-text answer except
    the favourite's title (a title such as "Horror of Dracula" states nothing)."""
    free_text = [favorite_movie_why or "", new_vs_classic, tone_preference, *mood_preference]
    exclusions = Exclusions()
    for text in free_text:
        exclusions = exclusions.union(stated_exclusions(text))
    wanted = mood_genres(mood_preference) - exclusions.forbidden_genres
    return PersonConstraints(
        years=era_range(new_vs_classic),
        genres=wanted,
        lightness=tone_lightness(tone_preference),
        exclusions=exclusions,
        favorite=favorite_film(favorite_movie),
    )


def quiz_constraints(people: Sequence[PersonConstraints]) -> QuizConstraints:
    """The group's constraints: the union of everyone's exclusions is hard for every pick."""
    exclusions = Exclusions()
    for person in people:
        exclusions = exclusions.union(person.exclusions)
    return QuizConstraints(tuple(people), exclusions)
