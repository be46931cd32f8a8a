"""Vector search benchmark: match_movies over a large catalog, latency and recall against exact search.

For each dimension (384 and 3,072 by default) a database of its own gets N films with clustered
synthetic embeddings (a mixture of Gaussians, like real embeddings and unlike uniform noise), the
model's HNSW index (vector for 384, halfvec for 3,072), then Q queries near the data. Each query runs
match_movies (the index) and an exact scan (the index disabled); recall@6 is the share of the exact
top 6 that match_movies returned. Latency is match_movies' wall time measured by the client.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

import asyncpg
import numpy as np

from popchoice_common.db.pool import create_pool

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support import ROOT, fresh_database  # bench/support.py


def clustered(rng: np.random.Generator, count: int, dimensions: int, clusters: int) -> np.ndarray:
    centres = rng.standard_normal((clusters, dimensions)).astype(np.float32)
    labels = rng.integers(0, clusters, count)
    points = centres[labels] + 0.6 * rng.standard_normal((count, dimensions)).astype(np.float32)
    return points / np.linalg.norm(points, axis=1, keepdims=True)


async def load(url: str, model: str, vectors: np.ndarray) -> float:
    """Inserts the films with their embeddings (index dropped first, rebuilt after); returns build seconds."""
    connection = await asyncpg.connect(url)
    try:
        from pgvector.asyncpg import register_vector

        await register_vector(connection)
        await connection.execute("SELECT drop_embedding_index($1)", model)
        records = [
            (f"Film {index}", f"film {index}", 1950 + index % 70, "PG", "Synthetic.", 100, 7.0, vector, model)
            for index, vector in enumerate(vectors)
        ]
        await connection.copy_records_to_table(
            "movies",
            records=records,
            columns=[
                "name",
                "normalized_name",
                "year",
                "age_rating",
                "description",
                "duration",
                "score_rating",
                "embedding",
                "embedding_model",
            ],
        )
        started = time.perf_counter()
        await connection.execute("SET maintenance_work_mem = '1GB'")
        await connection.execute("SELECT ensure_embedding_index($1, $2)", model, vectors.shape[1])
        build = time.perf_counter() - started
        await connection.execute("ANALYZE movies")
        return build
    finally:
        await connection.close()


async def measure(url: str, queries: np.ndarray, dimensions: int) -> dict[str, float]:
    pool = await create_pool(url, min_size=1, max_size=2)
    search_type = f"halfvec({dimensions})" if dimensions > 2000 else f"vector({dimensions})"
    latencies, recalls = [], []
    try:
        async with pool.acquire() as connection:
            for query in queries[:5]:  # warm the index pages
                await connection.fetch("SELECT id FROM match_movies($1, -1, 6)", query)
            for query in queries:
                started = time.perf_counter()
                found = await connection.fetch("SELECT id FROM match_movies($1, -1, 6)", query)
                latencies.append((time.perf_counter() - started) * 1000)
                async with connection.transaction():
                    await connection.execute("SET LOCAL enable_indexscan = off")
                    exact = await connection.fetch(
                        f"SELECT id FROM movies ORDER BY embedding::{search_type} <=> $1::{search_type} LIMIT 6",
                        query,
                    )
                truth = {row["id"] for row in exact}
                recalls.append(len(truth & {row["id"] for row in found}) / len(truth))
    finally:
        await pool.close()
    latencies.sort()
    return {
        "queries": len(queries),
        "p50_ms": round(statistics.median(latencies), 3),
        "p95_ms": round(latencies[int(len(latencies) * 0.95) - 1], 3),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 3),
        "recall_at_6": round(statistics.mean(recalls), 4),
    }


async def run(dimensions: int, films: int, queries: int, seed: int) -> dict[str, object]:
    model = f"bench-{dimensions}"
    async with fresh_database(
        f"popchoice_bench_vector_{dimensions}_{os.getpid()}", model_id=model, dimensions=dimensions
    ) as url:
        rng = np.random.default_rng(seed)
        data = clustered(rng, films + queries, dimensions, clusters=max(films // 200, 10))
        build = await load(url, model, data[:films])
        result = await measure(url, data[films:], dimensions)
    return {"dimensions": dimensions, "films": films, "index_build_seconds": round(build, 1), **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--films", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--dimensions", type=int, nargs="+", default=[384, 3072])
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    results = []
    for dimensions in args.dimensions:
        result = asyncio.run(run(dimensions, args.films, args.queries, args.seed))
        print(json.dumps(result), flush=True)
        results.append(result)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "vector.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
