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
import sys
import tempfile
import time
from pathlib import Path

from popchoice_catalog_seeder.service import seed_movies_file
from popchoice_common.db.pool import create_pool
from popchoice_common.embedders import Embedder, HashEmbedder

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support import ROOT, fresh_database, generate_movies_file  # bench/support.py


async def run_scenario(name: str, embedder: Embedder, count: int) -> dict[str, object]:
    async with fresh_database(
        f"popchoice_bench_{name}", model_id=embedder.model_id, dimensions=embedder.dimensions
    ) as url:
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
    results = [await run_scenario("hash", HashEmbedder(384), args.hash_count)]
    if not args.skip_local:
        from popchoice_common.embedders.local import LocalEmbedder

        results.append(await run_scenario("local", LocalEmbedder(), args.local_count))
    for result in results:
        print(json.dumps(result))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "seed.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
