#!/usr/bin/env bash
# make demo: the product on embedded defaults. Migrates, seeds movies.txt (local MiniLM embedder unless
# configured otherwise), creates a demo API key and serves the gateway. Without REDIS_URL the gateway runs
# the pipeline itself; with it, the recommender (and, with TMDB_API_KEY, the catalog-seeder) run beside it,
# and the operator console (popchoice-health serve), which prints its generated password once when no
# OPERATOR_AUTH_* is set.
set -euo pipefail
BIN=.venv/bin
"$BIN/popchoice-migrate"
"$BIN/popchoice-seed"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done; wait || true; }
trap cleanup EXIT INT TERM
if [ -n "${REDIS_URL:-}" ]; then
  "$BIN/popchoice-recommender" & pids+=($!)
  if [ -n "${TMDB_API_KEY:-}" ]; then "$BIN/popchoice-catalog-seeder" & pids+=($!); fi
  "$BIN/popchoice-health" serve & pids+=($!)
  echo "Operator console: http://${OPERATOR_CONSOLE_HOST:-127.0.0.1}:${OPERATOR_CONSOLE_PORT:-8090} (its password is printed below when generated)"
fi
key=$("$BIN/popchoice-gateway" create-api-key demo --user-email demo@popchoice.local)
port=${GATEWAY_PORT:-8000}
cat <<MSG

PopChoice is running at http://127.0.0.1:${port}  (API docs: http://127.0.0.1:${port}/docs)
Demo API key (shown once): ${key}
Try:
  curl -s -X POST http://127.0.0.1:${port}/api/recommendations -H "X-API-Key: ${key}" -H 'Content-Type: application/json' \\
    -d '{"favoriteMovie":"The Matrix","newVsClassic":"new","moodPreference":["Action"],"tonePreference":"exciting"}'
  curl -s http://127.0.0.1:${port}/api/recommendations/<id> -H "X-API-Key: ${key}"
Stop with Ctrl-C.

MSG
"$BIN/popchoice-gateway" & pids+=($!)
wait "${pids[-1]}"
