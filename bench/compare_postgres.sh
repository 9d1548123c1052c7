#!/usr/bin/env bash
# The shared tracking benchmark (../../shared/bench/bench.py, W1–W6) with both servers on PostgreSQL,
# then Swiftflow's throughput with one and with two replicas behind a round-robin proxy.
#
#   bench/compare_postgres.sh [--quick]
#
# One PostgreSQL cluster (scripts/postgres.sh with PostgreSQL's durable defaults) serves every
# server, each on a database of its own; servers run one after the other, never two at once:
#   1. the official server (mlflow 3.17.2 from $MLFLOW_VENV, `--workers 2` as compare.sh starts it,
#      store `postgresql+psycopg://`), then bench.py W1–W6;
#   2. .build/release/swiftflow on its own database, then bench.py W1–W6; the ratio table;
#   3. one replica behind nginx, then two replicas behind nginx (scripts/proxy.sh), bench.py W1+W2
#      (log-metric and log-batch throughput) through the proxy each time.
# Artifacts go to local folders (no workload touches them).
#
# Env: MLFLOW_VENV (default ~/.cache/mlflow-official-venv), BENCH_RESULTS (folder for the JSON and
#      logs), SWIFTFLOW (binary, default .build/release/swiftflow), BENCH_ARGS (extra bench.py args).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
BENCH="${BENCH_DIR:-$ROOT/../shared/bench}"
QUICK=()
if [ "${1:-}" = "--quick" ]; then QUICK=(--quick); fi
read -r -a EXTRA <<<"${BENCH_ARGS:-}"
MLFLOW_VENV="${MLFLOW_VENV:-$HOME/.cache/mlflow-official-venv}"
SWIFTFLOW="${SWIFTFLOW:-$ROOT/.build/release/swiftflow}"
PY="$MLFLOW_VENV/bin/python"
[ -x "$PY" ] || { echo "no official venv at $MLFLOW_VENV (bench/compare.sh creates it)" >&2; exit 2; }
[ -x "$SWIFTFLOW" ] || { echo "build first: swift build -c release" >&2; exit 2; }
"$PY" -c 'import psycopg' 2>/dev/null || "$PY" -m pip install -q 'psycopg[binary]'

DIR="$(mktemp -d "${TMPDIR:-/tmp}/swiftflow-pgbench.XXXXXX")"
PIDS=()
PROXY_DIR=""
stop_servers() {
  if [ -n "$PROXY_DIR" ]; then scripts/proxy.sh stop "$PROXY_DIR"; PROXY_DIR=""; fi
  for pid in "${PIDS[@]}"; do
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 75); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  PIDS=()
}
cleanup() {
  stop_servers
  scripts/postgres.sh stop || true
  if [ -n "${BENCH_RESULTS:-}" ]; then mkdir -p "$BENCH_RESULTS"; cp "$DIR"/*.json "$DIR"/*.log "$BENCH_RESULTS"/ 2>/dev/null || true; fi
  rm -rf "$DIR"
}
eval "$(SWIFTFLOW_PG_DURABLE=1 scripts/postgres.sh start)"
trap cleanup EXIT
PG_BASE="${SWIFTFLOW_TEST_POSTGRES_URL%/*}"   # postgresql://user:pass@host:port
PG_VERSION="$(PGPASSWORD=swiftflow psql "${PG_BASE}/swiftflow" -Atc 'SHOW server_version')"
echo "PostgreSQL $PG_VERSION at ${PG_BASE##*@} (durable defaults)"
create_db() { PGPASSWORD=swiftflow psql "${PG_BASE}/swiftflow" -qc "CREATE DATABASE $1" >/dev/null; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_ready() {  # PORT LOG
  for _ in $(seq 1 360); do
    curl -fsS "http://127.0.0.1:$1/health" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  echo "server on port $1 did not answer; log:" >&2; tail -30 "$2" >&2; exit 1
}
start() {  # NAME PORT COMMAND...: own process group, so the whole tree is stopped and measured
  local name="$1" port="$2"
  shift 2
  set -m
  ( cd "$DIR" && exec "$@" ) >"$DIR/$name-server.log" 2>&1 &
  PIDS+=($!)
  set +m
  wait_ready "$port" "$DIR/$name-server.log"
}

# 1. Official server on PostgreSQL.
create_db official
PORT="$(free_port)"
echo "== official: mlflow server --backend-store-uri postgresql+psycopg://…/official --workers 2 (port $PORT)"
MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false start official "$PORT" "$MLFLOW_VENV/bin/mlflow" server \
  --backend-store-uri "${PG_BASE/postgresql:/postgresql+psycopg:}/official" \
  --artifacts-destination "$DIR/official-artifacts" --serve-artifacts --host 127.0.0.1 --port "$PORT" --workers 2
sleep 2
"$PY" "$BENCH/bench.py" "http://127.0.0.1:$PORT" --out "$DIR/official.json" --pid "${PIDS[0]}" "${QUICK[@]}" "${EXTRA[@]}"
stop_servers

# 2. Swiftflow on PostgreSQL.
create_db candidate
PORT="$(free_port)"
echo "== swiftflow: server --backend-store-uri postgresql://…/candidate (port $PORT)"
start candidate "$PORT" "$SWIFTFLOW" server --host 127.0.0.1 --port "$PORT" \
  --backend-store-uri "${PG_BASE}/candidate?sslmode=disable" --artifacts-destination "$DIR/candidate-artifacts"
sleep 2
"$PY" "$BENCH/bench.py" "http://127.0.0.1:$PORT" --out "$DIR/candidate.json" --pid "${PIDS[0]}" "${QUICK[@]}" "${EXTRA[@]}"
stop_servers
echo
"$PY" "$BENCH/bench.py" --compare "$DIR/official.json" "$DIR/candidate.json" | tee "$DIR/compare.log"

# 3. Throughput through the proxy: one replica, then two, each on a fresh database.
for replicas in 1 2; do
  create_db replicas$replicas
  ports=()
  for n in $(seq 1 "$replicas"); do
    port="$(free_port)"
    ports+=("$port")
    start "replicas$replicas-$n" "$port" "$SWIFTFLOW" server --host 127.0.0.1 --port "$port" \
      --backend-store-uri "${PG_BASE}/replicas$replicas?sslmode=disable" --artifacts-destination "$DIR/replicas-artifacts"
  done
  PORT="$(free_port)"
  PROXY_DIR="$(scripts/proxy.sh start "$PORT" "${ports[@]}")"
  echo "== $replicas replica(s) behind nginx on port $PORT: W1, W2"
  "$PY" "$BENCH/bench.py" "http://127.0.0.1:$PORT" --workloads 1,2 --out "$DIR/replicas$replicas.json" "${QUICK[@]}" "${EXTRA[@]}"
  echo "requests answered per replica:"; scripts/proxy.sh counts "$PROXY_DIR"
  stop_servers
done
"$PY" - "$DIR/replicas1.json" "$DIR/replicas2.json" <<'PY' | tee "$DIR/replicas.log"
import json, sys
one, two = ({k: f["value"] for k, f in json.load(open(p))["figures"].items()} for p in sys.argv[1:])
print(f"{'figure':32} {'1 replica':>12} {'2 replicas':>12}  ratio")
for key in ("w1_log_metric_rps", "w1_log_metric_p50_ms", "w2_log_batch_points_per_s", "w2_log_batch_p50_ms"):
    a, b = one.get(key), two.get(key)
    if a is None or b is None:
        continue
    print(f"{key:32} {a:12,.1f} {b:12,.1f}  {b / a:5.2f}x")
PY
