#!/usr/bin/env bash
# `models serve`: the official `mlflow models serve` and `swiftflow models serve` on one scikit-learn
# model, side by side: throughput and latency of /invocations under wrk, and the memory of each
# server's process tree.
#
#   bench/models_serve.sh [--duration 10] [--swiftflow PATH] [--out DIR]
#
#   1. a Swiftflow tracking server over a temp folder; the official client logs and registers a
#      Pipeline(StandardScaler(), LogisticRegression()) on 4 double columns (bench/models_serve.py);
#   2. each server in turn (never both at once: they would share the cores) serves models:/NAME/1
#      with --env-manager local and its default single worker; after /ping answers: idle memory,
#      one 1,000-row request whose predictions are kept (both servers must agree), then for 1 row
#      and for 1,000 rows a warm-up and a measured `wrk -t2 -c16 --latency` run of POST
#      /invocations (dataframe_split JSON), memory of the process tree read after each run;
#   3. results.json and results.md into DIR (default docs/bench/<date>-models); the table is printed.
# Any non-2xx answer fails the run.
#
# --swiftflow mlflow makes "ours" the official server too (a dry run of the whole flow); the
# tracking server is then .build/release/swiftflow.
# Env: CONFORMANCE_VENV (venv with mlflow 3.17.2, scikit-learn, pandas; default
#      ~/.cache/conformance-venv), SWIFTFLOW (same as --swiftflow), WARMUP (seconds, default 3),
#      OURS_ARGS (extra flags for our server only, e.g. "--batching off").
set -euo pipefail
DURATION=10
SWIFTFLOW="${SWIFTFLOW:-}"
OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION="${2%s}"; shift 2 ;;
    --swiftflow) SWIFTFLOW="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
# Paths given on the command line are relative to the caller's folder, defaults to the repository.
[ -n "$OUT" ] && OUT="$(realpath -m "$OUT")"
[ -n "$SWIFTFLOW" ] && [ "$SWIFTFLOW" != mlflow ] && SWIFTFLOW="$(realpath -m "$SWIFTFLOW")"
cd "$(dirname "$0")/.."
ROOT="$PWD"
OUT="${OUT:-$ROOT/docs/bench/$(date +%F)-models}"
SWIFTFLOW="${SWIFTFLOW:-$ROOT/.build/release/swiftflow}"
WARMUP="${WARMUP:-3}"
VENV="${CONFORMANCE_VENV:-$HOME/.cache/conformance-venv}"
PY="$VENV/bin/python"
HELPER="$ROOT/bench/models_serve.py"
NAME=bench-sklearn-pipeline
[ -x "$VENV/bin/mlflow" ] || { echo "no venv with mlflow at $VENV (set CONFORMANCE_VENV)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk is not installed" >&2; exit 2; }
if [ "$SWIFTFLOW" = mlflow ]; then
  TRACKING="$ROOT/.build/release/swiftflow"
  OURS="$VENV/bin/mlflow"
else
  TRACKING="$SWIFTFLOW"
  OURS="$SWIFTFLOW"
  # An unknown subcommand's --help prints the top-level help and exits 0: look for our option instead.
  "$OURS" models serve --help 2>&1 | grep -- --env-manager >/dev/null || { echo "$OURS has no \`models serve\` (build it, or --swiftflow mlflow for a dry run)" >&2; exit 2; }
fi
[ -x "$TRACKING" ] || { echo "no Swiftflow binary at $TRACKING: swift build -c release" >&2; exit 2; }
export PATH="$VENV/bin:$PATH"  # the servers' Python (and its scikit-learn) is the venv's

TMP="$(mktemp -d "${TMPDIR:-/tmp}/swiftflow-models-bench.XXXXXX")"
export TMPDIR="$TMP"  # `mlflow models serve` downloads the model into a temp folder it leaves behind
LOADAVG="$(cut -d' ' -f1-3 /proc/loadavg)"  # at start: other work on the machine skews the figures
PIDS=()
tree_pids() {  # PID and every descendant
  ps -e -o pid=,ppid= | awk -v root="$1" '{ parent[$1] = $2 }
    END { t[root] = 1; do { n = 0; for (p in parent) if (!(p in t) && (parent[p] in t)) { t[p] = 1; n++ } } while (n)
          for (p in t) print p }'
}
stop_tree() {  # PID: its group and its descendants, in case one left the group
  local tree alive
  tree="$(tree_pids "$1")"
  kill -TERM -- "-$1" 2>/dev/null || true
  kill -TERM $tree 2>/dev/null || true
  for _ in $(seq 1 75); do
    alive=0
    for p in $tree; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && return 0
    sleep 0.2
  done
  kill -KILL -- "-$1" 2>/dev/null || true
  kill -KILL $tree 2>/dev/null || true
}
cleanup() {
  local rc=$?
  for pid in "${PIDS[@]}"; do stop_tree "$pid"; done
  if [ "$rc" = 0 ]; then rm -rf "$TMP"; else echo "failed; logs and wrk outputs kept in $TMP" >&2; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() { echo "$*" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
start() {  # LOG COMMAND...: own process group, so the whole tree is found and stopped
  local log="$1"
  shift
  set -m
  ( cd "$TMP" && exec "$@" ) >"$log" 2>&1 &
  PIDS+=($!)
  set +m
}
wait_ok() {  # URL PID LOG SECONDS: until URL answers 200, or the server died
  local deadline=$((SECONDS + $4))
  while [ "$SECONDS" -lt "$deadline" ]; do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$1" 2>/dev/null)" = 200 ] && return 0
    kill -0 "$2" 2>/dev/null || { tail -30 "$3" >&2; fail "server died before $1 answered"; }
    sleep 0.5
  done
  tail -30 "$3" >&2
  fail "$1 did not answer 200 within $4 s"
}

# 1. Tracking server and model.
PORT="$(free_port)"
echo "== tracking server: $TRACKING server (port $PORT)"
start "$TMP/tracking.log" "$TRACKING" server --host 127.0.0.1 --port "$PORT" \
  --backend-store-uri "sqlite:///$TMP/db.sqlite" --artifacts-destination "$TMP/art"
wait_ok "http://127.0.0.1:$PORT/health" "${PIDS[0]}" "$TMP/tracking.log" 60
export MLFLOW_TRACKING_URI="http://127.0.0.1:$PORT"
"$PY" "$HELPER" log "$MLFLOW_TRACKING_URI" "$NAME" "$TMP"

cat >"$TMP/post.lua" <<'LUA'
-- POST the file named by WRK_BODY as JSON.
local f = assert(io.open(os.getenv("WRK_BODY"), "rb"))
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = f:read("*a")
f:close()
LUA
load_run() {  # URL ROWS SECONDS OUTPUT
  # --timeout: a slow answer is measured rather than dropped (wrk's default is 2 s).
  WRK_BODY="$TMP/body-$2.json" wrk -t2 -c16 -d"$3s" --timeout 30s --latency -s "$TMP/post.lua" "$1/invocations" >"$4"
  "$PY" "$HELPER" wrk "$4"
}

# 2. Each server in turn, on the same registered model.
serve() {  # SIDE BINARY
  local side="$1" bin="$2" port pid url code
  port="$(free_port)"
  url="http://127.0.0.1:$port"
  local extra=()
  # OURS_ARGS: extra flags for our server only (e.g. --batching off).
  if [ "$side" = ours ] && [ -n "${OURS_ARGS:-}" ]; then read -r -a extra <<<"$OURS_ARGS"; fi
  echo "== $side: $(basename "$bin") models serve -m models:/$NAME/1 -p $port --env-manager local ${extra[*]}"
  start "$TMP/$side.log" "$bin" models serve -m "models:/$NAME/1" -p "$port" --env-manager local "${extra[@]}"
  pid="${PIDS[-1]}"
  wait_ok "$url/ping" "$pid" "$TMP/$side.log" 120
  sleep 1  # let the server settle before the idle reading
  "$PY" "$HELPER" mem "$pid" >"$TMP/$side-idle.mem.json"
  code="$(curl -s -o "$TMP/$side-predictions.json" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary "@$TMP/body-1000.json" "$url/invocations")"
  [ "$code" = 200 ] || { cat "$TMP/$side-predictions.json" >&2; fail "$side: /invocations answered $code"; }
  for rows in 1 1000; do
    echo " - $rows row(s): ${WARMUP} s warm-up, ${DURATION} s measured"
    load_run "$url" "$rows" "$WARMUP" "$TMP/$side-$rows.warmup.wrk" >/dev/null
    load_run "$url" "$rows" "$DURATION" "$TMP/$side-$rows.wrk"
    "$PY" "$HELPER" mem "$pid" >"$TMP/$side-$rows.mem.json"
  done
  stop_tree "$pid"
  unset 'PIDS[-1]'
}
serve official "$VENV/bin/mlflow"
serve ours "$OURS"

# 3. Results.
"$PY" - "$TMP/meta.json" <<PY
import json, os, sys
from importlib.metadata import version
json.dump({
    "date": "$(date -Iseconds)", "cpus": os.cpu_count(), "kernel": os.uname().release, "loadavg_at_start": "$LOADAVG",
    "git_commit": "$(git rev-parse --short HEAD 2>/dev/null || true)",
    "mlflow_version": version("mlflow"), "sklearn_version": version("scikit-learn"),
    "model_name": "$NAME", "duration_s": $DURATION, "warmup_s": $WARMUP, "connections": 16, "wrk_threads": 2,
    "ours_is_official": "$SWIFTFLOW" == "mlflow",
    "commands": {"official": "mlflow models serve -m models:/$NAME/1 -p PORT --env-manager local",
                 "ours": "$(basename "$OURS") models serve -m models:/$NAME/1 -p PORT --env-manager local ${OURS_ARGS:-}"},
}, open(sys.argv[1], "w"), indent=2)
PY
echo
"$PY" "$HELPER" report "$TMP" "$OUT"
echo "results in $OUT"
