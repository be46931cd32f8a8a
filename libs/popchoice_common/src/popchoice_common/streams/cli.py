"""``popchoice-jobs``: queue statistics, dead letters, pause and resume, and the key layout upgrade.

dead list/show/retry/purge manage dead letters; migrate-keys moves jobs from the old key names.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
from collections.abc import Sequence

import redis.asyncio as redis

from popchoice_common.errors import ConfigurationError
from popchoice_common.settings import PopChoiceSettings
from popchoice_common.streams.admin import StreamsAdmin, StreamStats
from popchoice_common.streams.runtime import create_admin, create_redis
from popchoice_common.streams.upgrade import KeyMigration


def _format_stats(stats: Sequence[StreamStats]) -> str:
    lines = []
    for item in stats:
        state = "paused" if item.paused else "running"
        counters = " ".join(f"{name}={value}" for name, value in sorted(item.counters.items())) or "-"
        lines.append(
            f"{item.stream}: {state}, length {item.length}, dead {item.dead_letters}, "
            f"delayed {item.delayed}; {counters}"
        )
        for group in item.groups:
            oldest = f"{group.oldest_pending_age_ms / 1000:.1f}s" if group.oldest_pending_age_ms is not None else "-"
            lines.append(f"  group {group.name}: pending {group.pending}, lag {group.lag}, oldest pending {oldest}")
            for consumer in group.consumers:
                lines.append(f"    {consumer.name}: pending {consumer.pending}, idle {consumer.idle_ms / 1000:.1f}s")
    return "\n".join(lines)


async def _migrate_keys(client: redis.Redis, prefix: str) -> int:
    reports = await KeyMigration(client, prefix).run()
    for report in reports:
        print(
            f"{report.stream}: queued {report.queued}, retrying {report.retrying}, dead {report.dead}, "
            f"completed {report.completed}"
        )
    print(f"moved {sum(report.moved for report in reports)} jobs to the new key layout")
    return 0


async def _run(admin: StreamsAdmin, args: argparse.Namespace) -> int:
    if args.command == "migrate-keys":
        return await _migrate_keys(admin.client, admin.keys.prefix)
    if args.command == "stats":
        stats = await admin.stats([args.stream] if args.stream else None)
        print(json.dumps([item.as_dict() for item in stats]) if args.json else _format_stats(stats))
        return 0
    if args.command in ("pause", "resume"):
        await (admin.pause if args.command == "pause" else admin.resume)(args.stream)
        print(f"{args.stream}: {args.command}d")
        return 0
    # dead-letter commands
    if args.action == "list":
        for letter in await admin.dead_letters(args.stream, count=args.count):
            print(f"{letter.id}  {letter.job_id}  attempts={letter.attempts}  {letter.error[:120]}")
        return 0
    if args.action == "show":
        found = await admin.dead_letter(args.stream, args.id)
        if found is None:
            print(f"no dead letter {args.id} on {args.stream}", file=sys.stderr)
            return 1
        print(json.dumps(dataclasses.asdict(found), indent=2))
        return 0
    if args.action == "retry":
        if args.all:
            print(f"retried {await admin.retry_all_dead(args.stream)}")
            return 0
        new_id = await admin.retry_dead(args.stream, args.id)
        print(f"retried as {new_id}" if new_id else f"no dead letter {args.id}")
        return 0 if new_id else 1
    if args.all:
        print(f"purged {await admin.purge_dead(args.stream)}")
        return 0
    deleted = await admin.delete_dead(args.stream, args.id)
    print("deleted" if deleted else f"no dead letter {args.id}")
    return 0 if deleted else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="popchoice-jobs", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    stats = commands.add_parser("stats", help="per stream: length, groups, consumers, pending, lag, counters")
    stats.add_argument("stream", nargs="?")
    stats.add_argument("--json", action="store_true")
    for name in ("pause", "resume"):
        commands.add_parser(name, help=f"{name} consumption of a stream").add_argument("stream")
    commands.add_parser(
        "migrate-keys",
        help="upgrade: move queued, retrying, dead and completed jobs from the old key names "
        "(popchoice:<stream>, popchoice:job:<id>) to the hash-tagged ones; stop the old workers first",
    )
    dead = commands.add_parser("dead", help="dead letters").add_subparsers(dest="action", required=True)
    listing = dead.add_parser("list")
    listing.add_argument("stream")
    listing.add_argument("--count", type=int, default=50)
    show = dead.add_parser("show")
    show.add_argument("stream")
    show.add_argument("id")
    for name in ("retry", "purge"):
        action = dead.add_parser(name)
        action.add_argument("stream")
        target = action.add_mutually_exclusive_group(required=True)
        target.add_argument("id", nargs="?")
        target.add_argument("--all", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = PopChoiceSettings()
    try:
        client = create_redis(settings)
    except ConfigurationError as exc:
        print(str(exc), file=sys.stderr)
        return 2

    async def run() -> int:
        try:
            return await _run(create_admin(client, settings), args)
        except KeyError as exc:
            print(exc.args[0], file=sys.stderr)
            return 2
        except ConfigurationError as exc:
            print(str(exc), file=sys.stderr)
            return 2
        finally:
            await client.aclose()

    return asyncio.run(run())
