"""Seeding benchmark: generated movies files seeded end to end into a fresh database.

Scenarios: 10,000 entries with the hash embedder (target ≥ 2,000 movies/s end to end) and 1,000
with the local MiniLM embedder (target ≤ 15% of wall time outside the embedder). Each scenario
gets its own database on DATABASE_URL's server (or the embedded server under DATA_DIR), which is
dropped afterwards. Results are printed and written to bench/results/seed.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from pathlib import Path

import asyncpg

from popchoice_catalog_seeder.seed import seed_movies_file
from popchoice_common.db.migrations import migrate
from popchoice_common.db.pool import create_pool, resolve_database_url
from popchoice_common.embedders import Embedder, HashEmbedder
from popchoice_common.settings import PopChoiceSettings
from popchoice_common.testing.provision import with_database

ROOT = Path(__file__).resolve().parents[2]
WORDS = (
    "heist detective storm train love war family secret city space robot ghost island journey revenge "
    "comedy wedding music dream memory island desert ocean kingdom village soldier teacher artist "
    "chef thief spy queen brothers sisters summer winter night road friendship betrayal mystery"
).split()
RATINGS = ["G", "PG", "PG-13", "R"]


def generate_movies_file(path: Path, count: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    entries = []
    for index in range(count):
        title = " ".join(rng.choice(WORDS).title() for _ in range(rng.randint(1, 4))) + f" {index}"
        minutes = rng.randint(75, 190)
        description = " ".join(rng.choice(WORDS) for _ in range(rng.randint(35, 70))).capitalize() + "."
        entries.append(
            f"{title}: {rng.randint(1930, 2024)} | {rng.choice(RATINGS)} | {minutes // 60}h {minutes % 60}m"
            f" | {rng.randint(40, 95) / 10:.1f} rating\n{description}"
        )
    path.write_text("\n\n".join(entries) + "\n", encoding="utf-8")


async def _admin(server_url: str, sql: str) -> None:
    connection = await asyncpg.connect(server_url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def run_scenario(server_url: str, name: str, embedder: Embedder, count: int) -> dict[str, object]:
    database = f"popchoice_bench_{name}"
    await _admin(server_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    await _admin(server_url, f'CREATE DATABASE "{database}"')
    url = with_database(server_url, database)
    try:
        await migrate(url, ROOT / "db" / "init", model_id=embedder.model_id, dimensions=embedder.dimensions)
        pool = await create_pool(url, min_size=1, max_size=2)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "movies.txt"
            generate_movies_file(path, count)
            load_started = time.perf_counter()
            warm_up = getattr(embedder, "warm_up", None)
            if warm_up is not None:
                await warm_up()
            load_seconds = time.perf_counter() - load_started
            summary = await seed_movies_file(pool, embedder, path)
        await pool.close()
    finally:
        await _admin(server_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    outside = summary.seconds - summary.embed_seconds
    return {
        "scenario": name,
        "embedder": embedder.model_id,
        "entries": count,
        "inserted": summary.inserted,
        "seconds": round(summary.seconds, 3),
        "movies_per_second": round(summary.inserted / summary.seconds, 1),
        "embed_seconds": round(summary.embed_seconds, 3),
        "outside_embedder_share": round(outside / summary.seconds, 4),
        "model_load_seconds": round(load_seconds, 3),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hash-count", type=int, default=10_000)
    parser.add_argument("--local-count", type=int, default=1_000)
    parser.add_argument("--skip-local", action="store_true")
    args = parser.parse_args()
    server_url = resolve_database_url(PopChoiceSettings())
    results = [await run_scenario(server_url, "hash", HashEmbedder(384), args.hash_count)]
    if not args.skip_local:
        from popchoice_common.embedders.local import LocalEmbedder

        results.append(await run_scenario(server_url, "local", LocalEmbedder(), args.local_count))
    for result in results:
        print(json.dumps(result))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "seed.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
