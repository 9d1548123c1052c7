#!/usr/bin/env bash
# Metric points through the Swift SDK's fluent layer: `Swiftflow.withRun` logging POINTS points of one
# metric (one per step) in a tight loop, timed from the first `log` to the run's end (every point sent,
# the run FINISHED), REPEATS times, each checked against the server's history. Against a release
# `swiftflow server` on the embedded store; with --reference also against the official `mlflow server`
# (the conformance venv's), same client, same workload.
#
#   bench/sdk_metrics.sh [--points N] [--repeats R] [--reference]
#   (release build first: swift build -c release)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
POINTS=100000
REPEATS=5
REFERENCE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --points) POINTS="$2"; shift 2 ;;
    --repeats) REPEATS="$2"; shift 2 ;;
    --reference) REFERENCE=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
VENV="${CONFORMANCE_VENV:-$HOME/.cache/conformance-venv}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/swiftflow-sdkbench.XXXXXX")"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 1 600); do curl -sf "$1/health" >/dev/null && return 0; sleep 0.2; done; echo "no server at $1" >&2; exit 1; }

echo "== $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, $POINTS points x $REPEATS"
PORT=$(free_port)
mkdir -p "$WORK/ours"
setsid "$ROOT/.build/release/swiftflow" server --port "$PORT" --backend-store-uri "sqlite:///$WORK/ours/mlflow.db" \
  --artifacts-destination "$WORK/ours/a" >"$WORK/ours.log" 2>&1 &
PIDS+=($!)
wait_up "http://127.0.0.1:$PORT"
echo "-- swiftflow server"
MLFLOW_TRACKING_URI="http://127.0.0.1:$PORT" "$ROOT/.build/release/swiftflow-sdk-bench" "$POINTS" "$REPEATS"

if [ "$REFERENCE" = 1 ]; then
  REF_PORT=$(free_port)
  mkdir -p "$WORK/ref"
  setsid "$VENV/bin/mlflow" server --host 127.0.0.1 --port "$REF_PORT" --workers 1 \
    --backend-store-uri "sqlite:///$WORK/ref/mlflow.db" --artifacts-destination "$WORK/ref/a" >"$WORK/ref.log" 2>&1 &
  PIDS+=($!)
  wait_up "http://127.0.0.1:$REF_PORT"
  echo "-- mlflow server $("$VENV/bin/python" -c 'import mlflow; print(mlflow.__version__)')"
  MLFLOW_TRACKING_URI="http://127.0.0.1:$REF_PORT" "$ROOT/.build/release/swiftflow-sdk-bench" "$POINTS" "$REPEATS"
fi
