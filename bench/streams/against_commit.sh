#!/bin/bash
# Ours at another commit against ours in this tree, one node, interleaved: the throughput role of
# bench/streams/ours.py (20,000 no-op jobs, concurrency 50), three rounds alternating, each on a flushed
# redis-server of its own. The other commit's library and ours.py come from `git archive` into a temp
# directory and run first on PYTHONPATH (with this tree's .venv and its dependencies). Each line ends
# with the CPU the redis-server spent during the run (enqueue and processing), from /proc.
# Usage: bench/streams/against_commit.sh COMMIT [ROUNDS]
set -euo pipefail
COMMIT=${1:?usage: bench/streams/against_commit.sh COMMIT [ROUNDS]}
ROUNDS=${2:-3}
HERE=$(cd "$(dirname "$0")/../.." && pwd)
PYTHON=$HERE/.venv/bin/python
OTHER=$(mktemp -d)
trap 'kill $REDIS_PID 2>/dev/null; rm -rf "$OTHER"' EXIT
git -C "$HERE" archive "$COMMIT" libs/popchoice_common/src bench/streams | tar -x -C "$OTHER"
PORT=$($PYTHON -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
redis-server --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no >/dev/null 2>&1 &
REDIS_PID=$!
sleep 0.5
URL=redis://127.0.0.1:$PORT/0
# The redis-server's CPU (user + system, in clock ticks) from /proc, as run.py reads it.
redis_ticks() { awk '{print $14 + $15}' "/proc/$REDIS_PID/stat"; }
TICK=$(getconf CLK_TCK)
for round in $(seq "$ROUNDS"); do
  for which in "$COMMIT" this-tree; do
    redis-cli -p "$PORT" FLUSHALL >/dev/null
    before=$(redis_ticks)
    if [ "$which" = this-tree ]; then
      line=$(cd "$HERE" && $PYTHON bench/streams/ours.py throughput --redis "$URL" --jobs 20000 --concurrency 50 2>/dev/null | grep '^{')
    else
      line=$(cd "$OTHER" && PYTHONPATH=$OTHER/libs/popchoice_common/src $PYTHON bench/streams/ours.py throughput \
        --redis "$URL" --jobs 20000 --concurrency 50 2>/dev/null | grep '^{')
    fi
    redis_cpu=$(awk -v a="$before" -v b="$(redis_ticks)" -v t="$TICK" 'BEGIN {printf "%.3f", (b - a) / t}')
    echo "round $round $which $line redis_cpu_seconds=$redis_cpu"
  done
done
