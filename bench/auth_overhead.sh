#!/usr/bin/env bash
# What the basic-auth app costs on the hot path: W1 of ../shared/bench (POST runs/log-metric, wrk -t2
# -c16, round robin over 4 runs) against one release server without authentication, then against one
# with --app-name basic-auth, as the admin and as a user holding EDIT on the experiment (whose every
# request resolves the run's experiment and the user's grants).
#
#   bench/auth_overhead.sh [--duration S]      (needs wrk; release binary at .build/release/swiftflow)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
DURATION=10
[ "${1:-}" = "--duration" ] && DURATION="$2"
LUA="$ROOT/../shared/bench/bench.lua"
BIN="$ROOT/.build/release/swiftflow"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/swiftflow-authbench.XXXXXX")"
PID=""
cleanup() { [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT"
ADMIN="admin:bench-admin-password"
USER="writer:bench-writer-password"

start() {
  rm -rf "$WORK/data"; mkdir -p "$WORK/data"
  printf '[mlflow]\ndefault_permission = READ\ndatabase_uri = sqlite:///%s/data/basic_auth.db\nadmin_username = admin\nadmin_password = bench-admin-password\n' \
    "$WORK" >"$WORK/basic_auth.ini"
  MLFLOW_AUTH_CONFIG_PATH="$WORK/basic_auth.ini" "$BIN" server --port "$PORT" "$@" \
    --backend-store-uri "sqlite:///$WORK/data/mlflow.db" --artifacts-destination "$WORK/data/a" >"$WORK/server.log" 2>&1 &
  PID=$!
  until curl -sf "$URL/health" >/dev/null; do sleep 0.1; done
}
stop() { kill -TERM "$PID"; wait "$PID" 2>/dev/null || true; PID=""; }
api() { curl -sf -u "$1" -H 'Content-Type: application/json' -X "$2" "$URL/api/$3" -d "$4"; }
# runs CREDENTIALS: an experiment with 4 runs, printed as run ids.
runs() {
  local exp
  exp=$(api "$1" POST 2.0/mlflow/experiments/create "{\"name\": \"bench-$RANDOM$RANDOM\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["experiment_id"])')
  [ -n "${2:-}" ] && api "$1" POST 3.0/mlflow/users/permissions/grant \
    "{\"username\": \"$2\", \"resource_type\": \"experiment\", \"resource_id\": \"$exp\", \"permission\": \"EDIT\"}" >/dev/null
  for _ in 1 2 3 4; do
    api "$1" POST 2.0/mlflow/runs/create "{\"experiment_id\": \"$exp\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["run"]["info"]["run_id"])'
  done
}
# load LABEL CREDENTIALS RUN_IDS...
load() {
  local label="$1" auth="$2"
  shift 2
  local header=()
  [ -n "$auth" ] && header=(-H "Authorization: Basic $(printf %s "$auth" | base64)")
  wrk -t2 -c16 -d2s -s "$LUA" "${header[@]}" "$URL/api/2.0/mlflow" -- metric "$@" >/dev/null
  wrk -t2 -c16 -d"${DURATION}s" --latency -s "$LUA" "${header[@]}" "$URL/api/2.0/mlflow" -- metric "$@" >"$WORK/wrk.txt"
  local rps p50 p99 non2xx
  rps=$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk.txt")
  p50=$(awk '$1 == "50%" {print $2}' "$WORK/wrk.txt")
  p99=$(awk '$1 == "99%" {print $2}' "$WORK/wrk.txt")
  non2xx=$(awk '/Non-2xx/ {print $4}' "$WORK/wrk.txt")
  printf '| %s | %s | %s | %s | %s |\n' "$label" "$rps" "$p50" "$p99" "${non2xx:-0}"
}

echo "| W1 log-metric, ${DURATION} s | req/s | p50 | p99 | non-2xx |"
echo "|---|---:|---:|---:|---:|"
start
mapfile -t ids < <(runs "$ADMIN")
load "no authentication" "" "${ids[@]}"
stop
start --app-name basic-auth
api "$ADMIN" POST 2.0/mlflow/users/create '{"username": "writer", "password": "bench-writer-password"}' >/dev/null
mapfile -t ids < <(runs "$ADMIN" writer)
load "basic-auth, admin" "$ADMIN" "${ids[@]}"
load "basic-auth, user with EDIT" "$USER" "${ids[@]}"
stop
