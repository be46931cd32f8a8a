"""What the benchmarks share: a throw-away database on the configured server, and generated films."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from popchoice_common.db.migrations import migrate
from popchoice_common.db.pool import resolve_database_url
from popchoice_common.settings import PopChoiceSettings
from popchoice_common.testing.provision import with_database

ROOT = Path(__file__).resolve().parents[1]
WORDS = (  # noqa: SIM905 - a word list reads best as one string
    "heist detective storm train love war family secret city space robot ghost island journey revenge "
    "comedy wedding music dream memory island desert ocean kingdom village soldier teacher artist "
    "chef thief spy queen brothers sisters summer winter night road friendship betrayal mystery"
).split()
RATINGS = ["G", "PG", "PG-13", "R"]
#: Genres of the generated films (TMDB's names), one to three each, as a real catalog has them.
GENRES = [
    "Action",
    "Adventure",
    "Animation",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Family",
    "Fantasy",
    "History",
    "Horror",
    "Music",
    "Mystery",
    "Romance",
    "Science Fiction",
    "Thriller",
    "War",
    "Western",
]


async def _admin(server_url: str, sql: str) -> None:
    connection = await asyncpg.connect(server_url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@asynccontextmanager
async def fresh_database(name: str, *, model_id: str, dimensions: int) -> AsyncIterator[str]:
    """A migrated database of its own (DATABASE_URL's server or the embedded one), dropped afterwards."""
    server_url = resolve_database_url(PopChoiceSettings())
    await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await _admin(server_url, f'CREATE DATABASE "{name}"')
    url = with_database(server_url, name)
    try:
        await migrate(url, ROOT / "db" / "init", model_id=model_id, dimensions=dimensions)
        yield url
    finally:
        await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def generate_movies_file(path: Path, count: int, seed: int = 7) -> None:
    """count made-up films in the curated movies file format."""
    rng = random.Random(seed)
    entries = []
    for index in range(count):
        title = " ".join(rng.choice(WORDS).title() for _ in range(rng.randint(1, 4))) + f" {index}"
        minutes = rng.randint(75, 190)
        description = " ".join(rng.choice(WORDS) for _ in range(rng.randint(35, 70))).capitalize() + "."
        genres = ", ".join(rng.sample(GENRES, rng.randint(1, 3)))
        entries.append(
            f"{title}: {rng.randint(1930, 2024)} | {rng.choice(RATINGS)} | {minutes // 60}h {minutes % 60}m"
            f" | {rng.randint(40, 95) / 10:.1f} rating\nGenres: {genres}\n{description}"
        )
    path.write_text("\n\n".join(entries) + "\n", encoding="utf-8")
