"""Streams benchmark: our runtime against every peer, interleaved, on one Redis and one machine.

Systems: ours (popchoice_common.streams, ours.py), BullMQ 5 on Node (bullmq/peer.mjs), and the Python
peers in peers/ (bullmq for Python, taskiq with RedisStreamBroker, streaq, SAQ, arq), which install into
a virtualenv of the bench's own (bench/streams/.venv-peers, from peers/requirements.txt), never into
the product's. Each system runs as a process of its own and prints one JSON line (see harness.py).

Per system and round: throughput (20,000 no-op jobs enqueued in bulk, then one worker at concurrency
50 or the closest setting; the clock stops when the library reports every job completed, and the count
is checked), then latency (a consumer process; jobs published one at a time at 1,000 jobs/s for 10 s;
publish → handler start p50/p99). Rounds alternate the order (round r starts at system r), three rounds
by default; the table gives the median and the range and the ratio ours ÷ peer.

By default a redis-server of the bench's own starts on a free port (no persistence), so the peers meet
neither each other's keys (it is flushed between runs) nor other users of 127.0.0.1:6379; --redis URL
uses an existing server instead (each system then cleans its own keys).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import venv
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
NODE_DIR = HERE / "bullmq"
PEERS_DIR = HERE / "peers"
PEERS_VENV = HERE / ".venv-peers"
REQUIREMENTS = PEERS_DIR / "requirements.txt"

# name → (script, which interpreter); "node" runs bullmq/peer.mjs.
PYTHON_PEERS = {
    "bullmq-py": "bullmq_py.py",
    "taskiq": "taskiq_streams.py",
    "streaq": "streaq_peer.py",
    "saq": "saq_peer.py",
    "arq": "arq_peer.py",
}
SYSTEMS = ["ours", "bullmq-node", *PYTHON_PEERS]


def log(message: str) -> None:
    print(f"[bench-streams {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- set-up -----------------------------------------------------------------------------------------


def peers_python() -> Path:
    """The bench's own virtualenv for the Python peers, created or refreshed from requirements.txt."""
    python = PEERS_VENV / "bin" / "python"
    stamp = PEERS_VENV / ".requirements"
    wanted = REQUIREMENTS.read_text()
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    log(f"installing the Python peers into {PEERS_VENV.relative_to(ROOT)} (pip, from {REQUIREMENTS.name})")
    if not python.exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(PEERS_VENV)
    subprocess.run([python, "-m", "pip", "install", "--quiet", "-r", REQUIREMENTS], check=True, stdout=sys.stderr)
    stamp.write_text(wanted)
    return python


def node_ready() -> bool:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        log("node/npm not found: the BullMQ (Node) peer is skipped")
        return False
    if not (NODE_DIR / "node_modules" / "bullmq").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True, stdout=sys.stderr)
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_redis() -> tuple[subprocess.Popen[bytes], str]:
    server = shutil.which("redis-server")
    if server is None:
        raise SystemExit("redis-server is not on PATH: pass --redis URL")
    port = free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(100):
        if redis_command(url, "PING") == "+PONG":
            return process, url
        time.sleep(0.05)
    process.kill()
    raise SystemExit(f"the bench's redis-server did not answer on port {port}")


def redis_command(url: str, *command: str) -> str:
    """One RESP command over a plain socket (this file runs in any interpreter, without redis-py)."""
    host_port = url.split("//", 1)[1].split("/", 1)[0]
    host, _, port = host_port.rpartition(":")
    payload = f"*{len(command)}\r\n" + "".join(f"${len(part)}\r\n{part}\r\n" for part in command)
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=5) as sock:
            sock.sendall(payload.encode())
            return sock.recv(65536).decode().split("\r\n", 1)[0]
    except OSError:
        return ""


# -- one run ------------------------------------------------------------------------------------------


def command_for(system: str, role: str, args: argparse.Namespace, redis_url: str, python: Path) -> list[str]:
    if system == "bullmq-node":
        node = shutil.which("node") or "node"
        common = ["--redis", redis_url, "--concurrency", str(args.concurrency)]
        if role == "throughput":
            return [node, "peer.mjs", "--jobs", str(args.jobs), *common]
        return [
            node,
            "peer.mjs",
            "--latency",
            "--rate",
            str(args.latency_rate),
            "--seconds",
            str(args.latency_seconds),
            *common,
        ]
    script = HERE / "ours.py" if system == "ours" else PEERS_DIR / PYTHON_PEERS[system]
    interpreter = sys.executable if system == "ours" else str(python)
    options = ["--redis", redis_url, "--concurrency", str(args.concurrency)]
    if role == "throughput":
        options += ["--jobs", str(args.jobs)]
    elif role == "latency":
        options += ["--rate", str(args.latency_rate), "--seconds", str(args.latency_seconds)]
    return [interpreter, str(script), role, *options]


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU a process has used so far (Linux /proc), None when unknown."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_one(
    system: str, role: str, args: argparse.Namespace, redis_url: str, python: Path, redis_pid: int | None = None
) -> dict[str, Any]:
    """Runs one system in one role; never raises: a failure is recorded with its reason.

    With the bench's own Redis, the CPU it spent during the run is recorded (redis_cpu_seconds);
    systems report the CPU their own process spent enqueueing and processing (cpu_seconds).
    """
    command = command_for(system, role, args, redis_url, python)
    redis_before = cpu_seconds(redis_pid)
    env = dict(os.environ)
    if args.ours_prefetch:
        env["BENCH_OURS_PREFETCH"] = str(args.ours_prefetch)
    started = time.perf_counter()
    try:
        completed = subprocess.run(
            command,
            cwd=NODE_DIR if system == "bullmq-node" else ROOT,
            capture_output=True,
            text=True,
            timeout=args.timeout,
            env=env,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {args.timeout} s"}
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if completed.returncode != 0 or not lines:
        tail = " | ".join(completed.stderr.strip().splitlines()[-3:])
        return {"error": f"exit {completed.returncode}: {tail[-400:]}"}
    result: dict[str, Any] = json.loads(lines[-1])
    result["wall_seconds"] = round(time.perf_counter() - started, 2)
    redis_after = cpu_seconds(redis_pid)
    if redis_before is not None and redis_after is not None:
        result["redis_cpu_seconds"] = round(redis_after - redis_before, 3)
    return result


# -- report -------------------------------------------------------------------------------------------


def summary(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def fmt_rate(stat: dict[str, float] | None) -> str:
    if stat is None:
        return "—"
    return f"{stat['median']:,.0f} ({stat['min']:,.0f}–{stat['max']:,.0f})"


def fmt_ms(stat: dict[str, float] | None) -> str:
    if stat is None:
        return "—"
    return f"{stat['median']:.2f} ({stat['min']:.2f}–{stat['max']:.2f})"


def report(
    runs: dict[str, dict[str, list[dict[str, Any]]]], systems: list[str], offered_target: float
) -> dict[str, Any]:
    table: dict[str, dict[str, Any]] = {}
    for system in systems:
        throughput = [run for run in runs[system]["throughput"] if "error" not in run]
        latency = [run for run in runs[system]["latency"] if "error" not in run and "p99_ms" in run]
        table[system] = {
            "enqueue": summary([float(run["enqueue_jobs_per_second"]) for run in throughput]),
            "process": summary([float(run["process_jobs_per_second"]) for run in throughput]),
            "client_cpu_us_per_job": summary(
                [1e6 * float(run["cpu_seconds"]) / int(run["jobs"]) for run in throughput if "cpu_seconds" in run]
            ),
            "redis_cpu_us_per_job": summary(
                [
                    1e6 * float(run["redis_cpu_seconds"]) / int(run["jobs"])
                    for run in throughput
                    if "redis_cpu_seconds" in run
                ]
            ),
            "p50": summary([float(run["p50_ms"]) for run in latency]),
            "p99": summary([float(run["p99_ms"]) for run in latency]),
            "offered": summary([float(run["offered_jobs_per_second"]) for run in latency]),
            "publish_p99": summary([float(run["publish_p99_ms"]) for run in latency if "publish_p99_ms" in run]),
            "errors": [
                run["error"] for kind in ("throughput", "latency") for run in runs[system][kind] if "error" in run
            ],
            "latency_skipped": next((run["skipped"] for run in runs[system]["latency"] if "skipped" in run), None),
        }
    ours = table.get("ours", {})

    def ratio(system: str, metric: str) -> str:
        mine, theirs = ours.get(metric), table[system][metric]
        if not mine or not theirs or system == "ours":
            return "" if system == "ours" else "—"
        return f"{mine['median'] / theirs['median']:.2f}"

    header = (
        f"{'system':<12} {'enqueue jobs/s':>26} {'ours÷':>6} {'processing jobs/s':>26} {'ours÷':>6}"
        f" {'p50 ms':>22} {'p99 ms':>22}"
    )
    print(header)
    print("-" * len(header))
    for system in systems:
        row = table[system]
        p50 = fmt_ms(row["p50"]) if row["latency_skipped"] is None else "n/a"
        p99 = fmt_ms(row["p99"]) if row["latency_skipped"] is None else "n/a"
        print(
            f"{system:<12} {fmt_rate(row['enqueue']):>26} {ratio(system, 'enqueue'):>6} "
            f"{fmt_rate(row['process']):>26} {ratio(system, 'process'):>6} {p50:>22} {p99:>22}"
        )
    print("median (min–max) over the rounds; ours÷ = ours' median ÷ the system's median (above 1: ours is faster)")
    print(f"\n{'CPU per job (throughput runs)':<30} {'the system µs/job':>26} {'redis-server µs/job':>26}")
    for system in systems:
        row = table[system]
        print(f"{system:<30} {fmt_rate(row['client_cpu_us_per_job']):>26} {fmt_rate(row['redis_cpu_us_per_job']):>26}")
    print("CPU time depends far less on a busy machine than rates do: compare these when the load is high")
    for system in systems:
        for error in table[system]["errors"]:
            print(f"  {system}: FAILED run: {error}")
        offered = table[system]["offered"]
        if offered and offered["min"] < 0.95 * offered_target:
            print(f"  {system}: the producer offered only {offered['min']:,.0f} jobs/s in its slowest latency run")

    targets: dict[str, Any] = {}
    peers = [system for system in systems if system != "ours" and table[system]["process"]]
    if ours.get("process") and peers:
        fastest = max(peers, key=lambda system: table[system]["process"]["median"])
        factor = ours["process"]["median"] / table[fastest]["process"]["median"]
        targets["processing_vs_fastest_peer"] = {"fastest": fastest, "ratio": round(factor, 2), "met": factor >= 2}
    if ours.get("enqueue") and peers:
        slower = all(ours["enqueue"]["median"] >= table[system]["enqueue"]["median"] for system in peers)
        targets["enqueue_at_least_every_peer"] = {"met": slower}
    if ours.get("p99"):
        targets["p99_at_most_5_ms"] = {"p99_ms": ours["p99"]["median"], "met": ours["p99"]["median"] <= 5}
    for name, value in targets.items():
        print(f"target {name}: {'MET' if value['met'] else 'MISSED'} {json.dumps(value)}")
    return {"table": table, "targets": targets}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", help="an existing Redis (default: start a redis-server of the bench's own)")
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-rate", type=int, default=1000)
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--systems", default=",".join(SYSTEMS), help=f"comma-separated, of {','.join(SYSTEMS)}")
    parser.add_argument("--skip-peer", action="store_true", help="ours only")
    parser.add_argument("--ours-prefetch", type=int, help="ours: entries held per process (default: the product's)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per system run")
    args = parser.parse_args()

    systems = ["ours"] if args.skip_peer else [name.strip() for name in args.systems.split(",") if name.strip()]
    unknown = set(systems) - set(SYSTEMS)
    if unknown:
        raise SystemExit(f"unknown systems: {', '.join(sorted(unknown))}")
    if "bullmq-node" in systems and not node_ready():
        systems.remove("bullmq-node")
    python = peers_python() if set(systems) & set(PYTHON_PEERS) else Path(sys.executable)

    server: subprocess.Popen[bytes] | None = None
    if args.redis:
        redis_url = args.redis
    else:
        server, redis_url = start_redis()
    conditions = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "redis": redis_url,
        "own_redis_server": server is not None,
        "cpus": os.cpu_count(),
        "load_average_before": os.getloadavg(),
        "python": sys.version.split()[0],
        "jobs": args.jobs,
        "concurrency": args.concurrency,
        "rounds": args.rounds,
        "latency_rate": args.latency_rate,
        "latency_seconds": args.latency_seconds,
    }
    log(f"systems {systems}, {args.rounds} rounds, Redis {redis_url}, load {os.getloadavg()[0]:.2f}")
    notes = {
        system: run_one(system, "describe", args, redis_url, python) for system in systems if system != "bullmq-node"
    }
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {system: {"throughput": [], "latency": []} for system in systems}
    try:
        for round_index in range(args.rounds):
            order = systems[round_index % len(systems) :] + systems[: round_index % len(systems)]
            for system in order:
                for role in ("throughput", "latency"):
                    if role == "latency" and args.skip_latency:
                        continue
                    if server is not None:
                        redis_command(redis_url, "FLUSHALL")
                    result = run_one(system, role, args, redis_url, python, server.pid if server else None)
                    runs[system][role].append(result)
                    shown = {
                        key: result.get(key)
                        for key in (
                            "enqueue_jobs_per_second",
                            "process_jobs_per_second",
                            "p50_ms",
                            "p99_ms",
                            "offered_jobs_per_second",
                            "error",
                            "skipped",
                        )
                        if key in result
                    }
                    log(f"round {round_index + 1} {system} {role}: {shown}")
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
    conditions["load_average_after"] = os.getloadavg()
    summary_ = report(runs, systems, float(args.latency_rate))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    document = {"conditions": conditions, "notes": notes, "runs": runs, **summary_}
    (out / "streams.json").write_text(json.dumps(document, indent=2) + "\n")
    print(json.dumps({"conditions": conditions, **summary_}))


if __name__ == "__main__":
    main()
