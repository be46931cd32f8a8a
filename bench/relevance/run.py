"""Relevance benchmark (#12): do the picks respect the quiz? The product beside RANDOM and FILTER.

A database of its own gets the curated catalog (movies.txt, local all-MiniLM-L6-v2 embedder); a real
gateway and recommender (catalog only: no TMDB, no OpenAI) start against it and the local Redis.
Each quiz of bench/relevance/quizzes.json (or --quizzes) is POSTed and polled until it completes;
its six picks are read from recommendation_movies and checked against the quiz's expectations with
the catalog's own facts (year, genres, age rating, runtime). The same checks score two baselines
computed from the catalog in this process: RANDOM (six random films, 20 seeded draws averaged) and
FILTER (the best-rated films that meet every constraint, favourites left out). Targets are not
asserted: the table and one JSON line are the result.
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import hashlib
import json
import os
import random
import re
import socket
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import redis.asyncio as redis

from popchoice_catalog_seeder.service import seed_movies_file
from popchoice_common.catalog.identity import normalize_title
from popchoice_common.db.migrations import migrate
from popchoice_common.db.pool import create_pool, resolve_database_url
from popchoice_common.embedders import create_embedder
from popchoice_common.logs import configure_logging
from popchoice_common.settings import PopChoiceSettings
from popchoice_common.testing.provision import with_database

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support import ROOT, _admin, fresh_database  # bench/support.py

HERE = Path(__file__).resolve().parent
API_KEY = f"bench-{uuid.uuid4().hex}"
AUTH_HEADERS = {"X-API-Key": API_KEY}
PICKS = 6
RANDOM_DRAWS = 20
RANDOM_SEED = 12
POLL_SECONDS = 0.05
QUIZ_TIMEOUT = 60.0
WARMUP_TIMEOUT = 180.0  # the recommender loads the model on its first quiz
RATING_RANK = {"G": 0, "PG": 1, "PG-13": 2, "R": 3, "NC-17": 4}
RATING_RANK |= {"TV-Y": 0, "TV-Y7": 0, "TV-G": 0, "TV-PG": 1, "TV-14": 2, "TV-MA": 3}
METRICS = [
    "era_fit",
    "mood_fit",
    "exclusions_ok",
    "age_ok",
    "length_ok",
    "all_constraints",
    "exclusions_ok_where_satisfiable",
    "group_fairness",
    "favourite_echo",
    "duplicates",
    "genre_jaccard_to_favourite",
]
PICK_CHECKS = ["era_fit", "mood_fit", "exclusions_ok", "age_ok", "length_ok", "all_constraints"]
YEAR_IN_BRACKETS = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})\)\s*$")


@dataclass(frozen=True)
class Film:
    """A catalog film's facts, as the checks read them."""

    id: int
    name: str
    key: tuple[str, int | None]  # normalised title + year: what a duplicate repeats
    year: int | None
    age_rating: str | None
    duration: int  # minutes, 0 when unknown
    score_rating: float | None
    vote_count: int | None
    genres: frozenset[str]


@dataclass(frozen=True)
class Pick:
    """One pick of a recommendation: its stored name and year, and its catalog row when it has one."""

    name: str
    year: int | None
    film: Film | None


# ---------------------------------------------------------------------------------------- checks


def _era_fits(year: int | None, era: Sequence[int | None] | None) -> bool:
    if era is None:
        return True
    if year is None:
        return False
    start, end = era
    return (start is None or year >= start) and (end is None or year <= end)


def _moods_fit(genres: frozenset[str], wanted: Sequence[str] | None) -> bool:
    return wanted is None or bool(genres.intersection(wanted))


def _age_ok(rating: str | None, cap: str | None) -> bool:
    if cap is None:
        return True
    rank = RATING_RANK.get((rating or "").strip().upper())
    return rank is not None and rank <= RATING_RANK[cap]


def _length_ok(duration: int, cap: int | None) -> bool:
    return cap is None or 0 < duration <= cap


def _person_fits(film: Film, person: dict[str, Any]) -> bool:
    return _era_fits(film.year, person.get("era")) and _moods_fit(film.genres, person.get("genres"))


def _exclusions_ok(film: Film, expect: dict[str, Any]) -> bool:
    return not film.genres.intersection(expect.get("forbidden_genres") or [])


def film_checks(film: Film | None, expect: dict[str, Any]) -> dict[str, bool]:
    """The per-pick checks; a pick without catalog facts fails them all."""
    if film is None:
        return dict.fromkeys(PICK_CHECKS, False)
    people = expect["people"]
    checks = {
        "era_fit": any(_era_fits(film.year, person.get("era")) for person in people),
        "mood_fit": any(_moods_fit(film.genres, person.get("genres")) for person in people),
        "exclusions_ok": _exclusions_ok(film, expect),
        "age_ok": _age_ok(film.age_rating, expect.get("max_age_rating")),
        "length_ok": _length_ok(film.duration, expect.get("max_runtime")),
    }
    checks["all_constraints"] = (
        any(_person_fits(film, person) for person in people)
        and checks["exclusions_ok"]
        and checks["age_ok"]
        and checks["length_ok"]
    )
    return checks


def _jaccard(left: frozenset[str], right: frozenset[str]) -> float:
    union = left | right
    return len(left & right) / len(union) if union else 0.0


@dataclass
class QuizContext:
    """What the checks of one quiz need beyond its picks: its resolved favourites, whether its
    exclusions leave six catalog films, and the FILTER baseline's picks."""

    quiz: dict[str, Any]
    favourites: list[Film | None]
    satisfiable: bool
    filter_picks: list[Pick]


def score(context: QuizContext, picks: Sequence[Pick]) -> dict[str, float | None]:
    """Every metric of one quiz for one list of picks (None: the metric does not apply to the quiz)."""
    expect = context.quiz["expect"]
    people = expect["people"]
    slots: list[Film | None] = [pick.film for pick in picks[:PICKS]]
    slots += [None] * (PICKS - len(slots))
    checks = [film_checks(film, expect) for film in slots]
    result: dict[str, float | None] = {name: sum(check[name] for check in checks) / PICKS for name in PICK_CHECKS}
    result["exclusions_ok_where_satisfiable"] = result["exclusions_ok"] if context.satisfiable else None
    if len(people) > 1:
        needed = 2 if len(people) <= 3 else 1
        fair = [sum(film is not None and _person_fits(film, person) for film in slots) >= needed for person in people]
        result["group_fairness"] = sum(fair) / len(fair)
    else:
        result["group_fairness"] = None
    favourites = {film.id: film for film in context.favourites if film is not None}
    picked_ids = {pick.film.id for pick in picks if pick.film is not None}
    result["favourite_echo"] = float(bool(picked_ids & favourites.keys()))
    keys = [pick.film.key if pick.film else (normalize_title(pick.name), pick.year) for pick in picks]
    result["duplicates"] = float(len(keys) - len(set(keys)))
    if favourites:
        result["genre_jaccard_to_favourite"] = (
            sum(
                max(_jaccard(film.genres, favourite.genres) for favourite in favourites.values())
                for film in slots
                if film is not None
            )
            / PICKS
        )
    else:
        result["genre_jaccard_to_favourite"] = None
    return result


def aggregate(quizzes: Sequence[dict[str, Any]], per_quiz: Sequence[dict[str, float | None]]) -> dict[str, Any]:
    """Means over the quizzes a metric applies to; group_fairness weighs each group by its size, so
    it is the fraction of (quiz, person) pairs."""
    summary: dict[str, Any] = {}
    for name in METRICS:
        values = [
            (value, len(quiz["people"]))
            for quiz, row in zip(quizzes, per_quiz, strict=True)
            if (value := row[name]) is not None
        ]
        if not values:
            summary[name] = {"mean": None, "n": 0}
        elif name == "group_fairness":
            pairs = sum(people for _, people in values)
            summary[name] = {"mean": sum(v * p for v, p in values) / pairs, "n": len(values), "pairs": pairs}
        else:
            summary[name] = {"mean": statistics.fmean(value for value, _ in values), "n": len(values)}
    return summary


# ------------------------------------------------------------------------------- catalog and baselines


async def load_catalog(pool: asyncpg.Pool) -> list[Film]:
    rows = await pool.fetch(
        """
        SELECT m.id, m.name, m.year, m.age_rating, m.duration, m.score_rating, m.vote_count,
               coalesce(array_agg(g.name) FILTER (WHERE g.name IS NOT NULL), '{}') AS genres
        FROM movies m
        LEFT JOIN movie_genres mg ON mg.movie_id = m.id
        LEFT JOIN catalog_genres g ON g.tmdb_id = mg.genre_id
        GROUP BY m.id
        ORDER BY m.id
        """
    )
    return [
        Film(
            id=row["id"],
            name=row["name"],
            key=(normalize_title(row["name"]), row["year"]),
            year=row["year"],
            age_rating=row["age_rating"],
            duration=row["duration"],
            score_rating=float(row["score_rating"]) if row["score_rating"] is not None else None,
            vote_count=row["vote_count"],
            genres=frozenset(row["genres"]),
        )
        for row in rows
    ]


def _partial_titles(key: str, titles: Sequence[str]) -> list[str]:
    """Catalog titles a partial favourite names: its words begin or end the title ("et" → "et the
    extra terrestrial"), or, spaces aside, it is at least six letters that begin or end it
    ("into the spiderverse" → "spider man into the spider verse")."""
    words, squeezed = key.split(), key.replace(" ", "")
    found = []
    for title in titles:
        title_words, title_squeezed = title.split(), title.replace(" ", "")
        whole_words = words in (title_words[: len(words)], title_words[-len(words) :])
        squeezed_end = len(squeezed) >= 6 and (title_squeezed.startswith(squeezed) or title_squeezed.endswith(squeezed))
        if whole_words or squeezed_end:
            found.append(title)
    return found


def resolve_favourite(text: str, in_catalog: bool, by_title: dict[str, list[Film]]) -> Film | None:
    """The catalog film a favourite names: by normalised title, and year when it is given in brackets.
    When that finds nothing but the quiz file says the film is in the catalog: a title the favourite
    begins or ends ("E.T.", "Terminator 2", "Into the Spiderverse"), else the closest normalised
    title (difflib, ≥ 0.8: a typo such as "Spirted Away")."""
    match = YEAR_IN_BRACKETS.match(text)
    title, year = (match["title"], int(match["year"])) if match else (text, None)
    key = normalize_title(title)
    searches: list[Callable[[], list[str]]] = [lambda: [key] if key in by_title else []]
    if in_catalog:
        searches.append(lambda: _partial_titles(key, list(by_title)))
        searches.append(lambda: difflib.get_close_matches(key, list(by_title), n=1, cutoff=0.8))
    for search in searches:
        candidates = [film for title in search() for film in by_title[title] if year is None or film.year == year]
        if candidates:
            return max(candidates, key=lambda film: (film.score_rating or 0.0, film.vote_count or 0))
    return None


def _as_pick(film: Film) -> Pick:
    return Pick(film.name, film.year, film)


def filter_baseline(quiz: dict[str, Any], catalog: Sequence[Film], favourites: Sequence[Film | None]) -> list[Pick]:
    """FILTER: the films meeting every constraint (a group's: exclusions, caps, and one person's era
    and moods), by rating then vote count, the favourites left out; six or fewer."""
    left_out = {film.id for film in favourites if film is not None}
    eligible = [
        film for film in catalog if film.id not in left_out and film_checks(film, quiz["expect"])["all_constraints"]
    ]
    eligible.sort(key=lambda film: (-(film.score_rating or 0.0), -(film.vote_count or 0), film.id))
    return [_as_pick(film) for film in eligible[:PICKS]]


def random_scores(context: QuizContext, catalog: Sequence[Film], seed: int) -> dict[str, float | None]:
    """RANDOM: every metric averaged over RANDOM_DRAWS draws of six distinct catalog films."""
    rng = random.Random(seed)
    draws = [score(context, [_as_pick(film) for film in rng.sample(list(catalog), PICKS)]) for _ in range(RANDOM_DRAWS)]
    return {
        name: None if draws[0][name] is None else statistics.fmean(draw[name] or 0.0 for draw in draws)
        for name in METRICS
    }


# ------------------------------------------------------------------------------------ the services


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def database(name: str, *, model_id: str, dimensions: int, keep: bool) -> AsyncIterator[str]:
    """fresh_database, or with --keep the same database left in place afterwards."""
    if not keep:
        async with fresh_database(name, model_id=model_id, dimensions=dimensions) as url:
            yield url
        return
    server_url = resolve_database_url(PopChoiceSettings())
    await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await _admin(server_url, f'CREATE DATABASE "{name}"')
    url = with_database(server_url, name)
    await migrate(url, ROOT / "db" / "init", model_id=model_id, dimensions=dimensions)
    yield url


async def start_services(url: str, redis_url: str, prefix: str, processes: list[asyncio.subprocess.Process]) -> str:
    port = _free_port()
    env = {
        **{key: value for key, value in os.environ.items() if key not in ("TMDB_API_KEY", "OPENAI_API_KEY")},
        "DATABASE_URL": url,
        "REDIS_URL": redis_url,
        "STREAM_KEY_PREFIX": prefix,
        "EMBEDDING_PROVIDER": "local",
        "HF_HUB_OFFLINE": "1",
        "RATE_LIMIT_PER_MINUTE": "10000000",
        "GATEWAY_PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "json",
    }
    for module in ("popchoice_gateway", "popchoice_recommender"):
        processes.append(
            await asyncio.create_subprocess_exec(
                sys.executable, "-m", module, env=env, stdout=asyncio.subprocess.DEVNULL
            )
        )
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as probe:
        for _ in range(300):
            try:
                async with probe.get(f"{base}/api/health") as response:
                    if response.status == 200:
                        return base
            except aiohttp.ClientError:
                pass
            if any(process.returncode is not None for process in processes):
                break
            await asyncio.sleep(0.2)
    raise RuntimeError("the gateway did not answer /api/health (or a service exited)")


async def recommend(
    session: aiohttp.ClientSession, base: str, people: list[dict[str, Any]], limit: float
) -> tuple[str | None, str, str | None, float]:
    """POSTs a quiz (one person: the object; a group: the list) and polls until it completes or
    fails: (id, status, error, seconds)."""
    started = time.perf_counter()
    body = people[0] if len(people) == 1 else people
    async with session.post(f"{base}/api/recommendations", json=body, headers=AUTH_HEADERS) as response:
        if response.status != 201:
            return None, f"http_{response.status}", (await response.text())[:300], time.perf_counter() - started
        recommendation_id = (await response.json())["id"]
    deadline = started + limit
    while time.perf_counter() < deadline:
        async with session.get(f"{base}/api/recommendations/{recommendation_id}", headers=AUTH_HEADERS) as response:
            state = await response.json()
        if state["status"] in ("completed", "failed"):
            return recommendation_id, state["status"], state.get("error"), time.perf_counter() - started
        await asyncio.sleep(POLL_SECONDS)
    return recommendation_id, "timeout", None, time.perf_counter() - started


async def stored_picks(pool: asyncpg.Pool, recommendation_id: str, films: dict[int, Film]) -> list[Pick]:
    rows = await pool.fetch(
        "SELECT movie_id, name, year FROM recommendation_movies"
        " WHERE recommendation_id = $1 AND batch = 0 ORDER BY position",
        uuid.UUID(recommendation_id),
    )
    return [Pick(row["name"], row["year"], films.get(row["movie_id"])) for row in rows]


# -------------------------------------------------------------------------------------------- run


async def run(quizzes: list[dict[str, Any]], keep: bool) -> dict[str, Any]:
    os.environ["EMBEDDING_PROVIDER"] = "local"
    os.environ["HF_HUB_OFFLINE"] = "1"
    settings = PopChoiceSettings()
    configure_logging("WARNING", settings.log_format, stream=sys.stderr)  # stdout: the table and the JSON
    embedder = create_embedder(settings)
    redis_url = settings.redis_dsn() or "redis://127.0.0.1:6379/0"
    prefix = f"bench-relevance-{uuid.uuid4().hex[:8]}:"
    name = f"popchoice_bench_relevance_{os.getpid()}"
    processes: list[asyncio.subprocess.Process] = []
    product: list[dict[str, Any]] = []
    async with database(name, model_id=embedder.model_id, dimensions=embedder.dimensions, keep=keep) as url:
        pool = await create_pool(url, min_size=1, max_size=4)
        try:
            started = time.perf_counter()
            seeded = await seed_movies_file(pool, embedder, ROOT / "movies.txt")
            seed_seconds = time.perf_counter() - started
            await pool.execute(
                "INSERT INTO api_keys (name, key_digest) VALUES ('bench', $1)",
                hashlib.sha256(API_KEY.encode()).hexdigest(),
            )
            catalog = await load_catalog(pool)
            films = {film.id: film for film in catalog}
            try:
                base = await start_services(url, redis_url, prefix, processes)
                async with aiohttp.ClientSession() as session:
                    warmup = await recommend(session, base, quizzes[0]["people"], WARMUP_TIMEOUT)
                    print(f"warm-up: {warmup[1]} in {warmup[3]:.1f} s", file=sys.stderr)
                    for quiz in quizzes:
                        recommendation_id, status, error, seconds = await recommend(
                            session, base, quiz["people"], QUIZ_TIMEOUT
                        )
                        picks = (
                            await stored_picks(pool, recommendation_id, films)
                            if recommendation_id and status == "completed"
                            else []
                        )
                        product.append(
                            {"id": quiz["id"], "status": status, "error": error, "seconds": seconds, "picks": picks}
                        )
                        if status != "completed":
                            print(f"quiz {quiz['id']}: {status} {error or ''}", file=sys.stderr)
            finally:
                for process in processes:
                    if process.returncode is None:
                        process.terminate()
                for process in processes:
                    await process.wait()
                client = redis.Redis.from_url(redis_url)
                keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=10_000)]
                if keys:
                    await client.delete(*keys)
                await client.aclose()
        finally:
            await pool.close()
    return evaluate(quizzes, catalog, product, seeded.parsed, seed_seconds, name if keep else None)


def evaluate(
    quizzes: list[dict[str, Any]],
    catalog: list[Film],
    product: list[dict[str, Any]],
    parsed: int,
    seed_seconds: float,
    kept_database: str | None,
) -> dict[str, Any]:
    by_title: dict[str, list[Film]] = {}
    for film in catalog:
        by_title.setdefault(film.key[0], []).append(film)
    contexts = []
    resolution_notes = []
    for quiz in quizzes:
        flags = quiz.get("favorite_in_catalog") or [False] * len(quiz["people"])
        favourites = [
            resolve_favourite(person["favoriteMovie"], flag, by_title)
            for person, flag in zip(quiz["people"], flags, strict=True)
        ]
        for person, flag, favourite in zip(quiz["people"], flags, favourites, strict=True):
            if flag != (favourite is not None):
                resolved = _label(_as_pick(favourite)) if favourite else None
                resolution_notes.append(
                    f"{quiz['id']}: {person['favoriteMovie']!r} flagged {flag}, resolved {resolved}"
                )
        forbidden = set(quiz["expect"].get("forbidden_genres") or [])
        satisfiable = sum(not film.genres & forbidden for film in catalog) >= PICKS
        contexts.append(QuizContext(quiz, favourites, satisfiable, filter_baseline(quiz, catalog, favourites)))

    product_rows = [score(context, run["picks"]) for context, run in zip(contexts, product, strict=True)]
    random_rows = [random_scores(context, catalog, RANDOM_SEED + index) for index, context in enumerate(contexts)]
    filter_rows = [score(context, context.filter_picks) for context in contexts]
    seconds = sorted(run["seconds"] for run in product if run["status"] == "completed")
    return {
        "catalog_films": len(catalog),
        "parsed_entries": parsed,
        "seed_seconds": round(seed_seconds, 1),
        "quizzes": len(quizzes),
        "completed": sum(run["status"] == "completed" for run in product),
        "not_completed": [
            {"id": run["id"], "status": run["status"], "error": run["error"]}
            for run in product
            if run["status"] != "completed"
        ],
        "picks_returned_mean": round(statistics.fmean(len(run["picks"]) for run in product), 2),
        "seconds_p50": round(statistics.median(seconds), 2) if seconds else None,
        "seconds_max": round(seconds[-1], 2) if seconds else None,
        "random_draws": RANDOM_DRAWS,
        "favourite_resolution_disagreements": resolution_notes,
        "kept_database": kept_database,
        "summary": {
            "PRODUCT": aggregate(quizzes, product_rows),
            "RANDOM": aggregate(quizzes, random_rows),
            "FILTER": aggregate(quizzes, filter_rows),
        },
        "per_quiz": [
            {
                "id": run["id"],
                "status": run["status"],
                "seconds": round(run["seconds"], 2),
                "picks": [_label(pick) for pick in run["picks"]],
                "filter_picks": [_label(pick) for pick in context.filter_picks],
                "metrics": {name: _round(value) for name, value in row.items()},
            }
            for run, context, row in zip(product, contexts, product_rows, strict=True)
        ],
    }


def _label(pick: Pick) -> str:
    return f"{pick.name} ({pick.year})" if pick.year else pick.name


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def table(result: dict[str, Any]) -> str:
    columns = ["PRODUCT", "RANDOM", "FILTER"]
    lines = [f"{'metric':<34}" + "".join(f"{column:>9}" for column in columns) + "   n"]
    for name in METRICS:
        cells = [result["summary"][column][name] for column in columns]
        text = "".join(f"{cell['mean']:>9.3f}" if cell["mean"] is not None else f"{'-':>9}" for cell in cells)
        count = cells[0].get("pairs", cells[0]["n"])
        lines.append(f"{name:<34}{text}   {count}{' pairs' if 'pairs' in cells[0] else ''}")
    return "\n".join(lines)


def per_quiz_lines(result: dict[str, Any], show: Callable[[str], None]) -> None:
    for row in result["per_quiz"]:
        metrics = row["metrics"]
        show(
            f"{row['id']} [{row['status']}, {row['seconds']} s] all={metrics['all_constraints']}"
            f" era={metrics['era_fit']} mood={metrics['mood_fit']} excl={metrics['exclusions_ok']}"
            f" age={metrics['age_ok']} len={metrics['length_ok']} echo={metrics['favourite_echo']}"
        )
        show("    " + "; ".join(row["picks"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quizzes", type=Path, default=HERE / "quizzes.json", help="a quiz file in this format")
    parser.add_argument("--per-quiz", action="store_true", help="print each quiz's picks and metrics too")
    parser.add_argument("--keep", action="store_true", help="keep the database for inspection")
    args = parser.parse_args()
    quizzes = json.loads(args.quizzes.read_text(encoding="utf-8"))
    result = asyncio.run(run(quizzes, args.keep))
    result["quiz_file"] = str(args.quizzes)
    if args.per_quiz:
        per_quiz_lines(result, print)
        print()
    print(
        f"{result['completed']}/{result['quizzes']} quizzes completed on {result['catalog_films']} catalog films;"
        f" picks per quiz {result['picks_returned_mean']}; seconds p50 {result['seconds_p50']}"
        f" max {result['seconds_max']}; RANDOM = mean of {RANDOM_DRAWS} draws"
    )
    print(table(result))
    if result["kept_database"]:
        print(f"database kept: {result['kept_database']}")
    print(json.dumps(result))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "relevance.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
