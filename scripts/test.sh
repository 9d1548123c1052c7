#!/usr/bin/env bash
# Runs every test: the Swift unit tests, then MLflow's official client against a freshly started
# release server (the conformance suite beside this repository, ../shared/conformance), the model
# URI check, `models serve` against `mlflow models serve`, the web UI in headless Chromium, and the
# side-by-side search comparison.
#
#   scripts/test.sh            unit tests + conformance
#   SKIP_CONFORMANCE=1 scripts/test.sh
#   SKIP_SEARCH_DIFF=1 scripts/test.sh   conformance without the side-by-side search comparison
#   SKIP_UI=1 scripts/test.sh            without the headless-Chromium UI tests
#   SKIP_POSTGRES=1 scripts/test.sh      store tests on SQLite only (else a throwaway PostgreSQL cluster
#                                        is started by scripts/postgres.sh and named in SWIFTFLOW_TEST_POSTGRES_URL)
#   SKIP_S3=1 scripts/test.sh            without the S3 artifact tests (moto on loopback, scripts/s3.sh)
#   SKIP_AUTH=1 scripts/test.sh          without the basic-auth tests (scripts/auth_test.py, auth_extras.py)
#   SKIP_IMPORT=1 scripts/test.sh        without the import tests (scripts/import_old_schemas.py, import_compare.py)
# With both, the whole conformance suite also runs against two replicas behind a round-robin proxy
# (nginx, scripts/proxy.sh), on PostgreSQL with artifacts in S3, followed by the PostgreSQL outage test
# (scripts/pg_outage.py).
#
# One release build serves both: the unit tests and the server under test use the same objects.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
CONFORMANCE_DIR="${CONFORMANCE_DIR:-$ROOT/../shared/conformance}"
CONFORMANCE_FILES=(tests/test_experiments.py tests/test_runs.py tests/test_metrics_history.py
  tests/test_fluent.py tests/test_errors.py tests/test_search_runs.py tests/test_artifacts.py
  tests/test_registry.py tests/test_models_pyfunc.py)

echo "== swift build -c release --build-tests"
swift build -c release --build-tests

POSTGRES_STARTED=0
stop_postgres() {
  if [ "$POSTGRES_STARTED" = 1 ]; then scripts/postgres.sh stop || true; POSTGRES_STARTED=0; fi
}
if [ "${SKIP_POSTGRES:-0}" != 1 ] && [ -z "${SWIFTFLOW_TEST_POSTGRES_URL:-}" ]; then
  echo "== starting a throwaway PostgreSQL cluster"
  eval "$(scripts/postgres.sh start)"
  POSTGRES_STARTED=1
  echo "PostgreSQL at ${SWIFTFLOW_TEST_POSTGRES_URL%%:*}://…@${SWIFTFLOW_TEST_POSTGRES_URL##*@}"
fi
# A local S3-compatible server (moto) for the live S3 tests and the conformance run with S3 artifacts.
S3_ENDPOINT=""
S3_STARTED=0
if [ "${SKIP_S3:-0}" != 1 ]; then
  S3_STATE="${S3_STATE_DIR:-${TMPDIR:-/tmp}/swiftflow-s3}"
  if ! { [ -f "$S3_STATE/pid" ] && kill -0 "$(cat "$S3_STATE/pid")" 2>/dev/null; }; then S3_STARTED=1; fi
  echo "== starting a local S3-compatible server (scripts/s3.sh)"
  S3_ENDPOINT="$(scripts/s3.sh start)"
  echo "S3 endpoint: $S3_ENDPOINT"
  export SWIFTFLOW_TEST_S3_ENDPOINT="$S3_ENDPOINT" SWIFTFLOW_TEST_S3_BUCKET="${S3_BUCKET:-swiftflow-test}"
  export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-testing}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-testing}"
  export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
fi
stop_s3() { if [ "$S3_STARTED" = 1 ]; then scripts/s3.sh stop || true; fi; }
trap 'stop_postgres; stop_s3' EXIT

echo "== swift test -c release"
swift test -c release --skip-build

echo "== SwiftflowClient documentation (DocC, warnings as errors)"
scripts/docs_check.sh

if [ "${SKIP_CONFORMANCE:-0}" = 1 ]; then exit 0; fi
if [ ! -x "$CONFORMANCE_DIR/run.sh" ]; then
  echo "conformance suite not found at $CONFORMANCE_DIR" >&2
  exit 1
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# wait_healthy PID PORT LOG: until /health answers; the log is shown if the server exits first.
wait_healthy() {
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$2/health" >/dev/null 2>&1 && return 0
    kill -0 "$1" 2>/dev/null || { echo "server exited early:" >&2; cat "$3" >&2; exit 1; }
    sleep 0.1
  done
}
# start_server DIR PORT ARGS...: `swiftflow server` on PORT in DIR (log DIR/server.log), in the background;
# sets STARTED_PID. Pair it with wait_healthy.
start_server() {
  local dir="$1" port="$2"
  shift 2
  mkdir -p "$dir"
  (cd "$dir" && exec "$ROOT/.build/release/swiftflow" server --host 127.0.0.1 --port "$port" "$@") >"$dir/server.log" 2>&1 &
  STARTED_PID=$!
}

DATA_DIR="$(mktemp -d "${TMPDIR:-/tmp}/swiftflow-test.XXXXXX")"
PORT="$(free_port)"
SERVER_PID=""
REF_PID=""
REPLICA_PIDS=()
PROXY_DIR=""
stop_team() {
  if [ -n "$PROXY_DIR" ]; then scripts/proxy.sh stop "$PROXY_DIR" || true; PROXY_DIR=""; fi
  for pid in "${REPLICA_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  REPLICA_PIDS=()
}
cleanup() {
  stop_postgres
  if [ -n "$REF_PID" ]; then kill -TERM "$REF_PID" 2>/dev/null || true; fi
  if [ -n "${UI_PID:-}" ]; then kill -TERM "$UI_PID" 2>/dev/null || true; fi
  if [ -n "${DIRECT_PID:-}" ]; then kill -TERM "$DIRECT_PID" 2>/dev/null || true; fi
  if [ -n "${AUTH_PID:-}" ]; then kill -TERM "$AUTH_PID" 2>/dev/null || true; fi
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  stop_team
  stop_s3
  if [ "${KEEP_DATA:-0}" = 1 ]; then echo "server data kept in $DATA_DIR"; else rm -rf "$DATA_DIR"; fi
}
trap cleanup EXIT

echo "== starting .build/release/swiftflow server on port $PORT (data in $DATA_DIR)"
start_server "$DATA_DIR" "$PORT" --backend-store-uri "sqlite:///$DATA_DIR/mlflow.db" --artifacts-destination "$DATA_DIR/mlartifacts"
SERVER_PID=$STARTED_PID
wait_healthy "$SERVER_PID" "$PORT" "$DATA_DIR/server.log"

echo "== conformance: official mlflow client against http://127.0.0.1:$PORT"
set +e
"$CONFORMANCE_DIR/run.sh" "http://127.0.0.1:$PORT" "${CONFORMANCE_FILES[@]}"
rc=$?
set -e
if [ "$rc" != 0 ]; then
  echo "== server log (last 50 lines)"; tail -n 50 "$DATA_DIR/server.log"
  exit "$rc"
fi

# The conformance suite again against the team setup: two replicas behind a round-robin proxy
# (nginx), on PostgreSQL (when a cluster runs) with proxied artifacts in S3 (moto). Then the
# PostgreSQL outage test against the same replicas.
if [ -n "$S3_ENDPOINT" ]; then
  TEAM_STORE="sqlite:///$DATA_DIR/team/mlflow.db"
  TEAM_FILES=(tests/test_artifacts.py)
  REPLICAS=1
  if [ -n "${SWIFTFLOW_TEST_POSTGRES_URL:-}" ]; then
    TEAM_STORE="$SWIFTFLOW_TEST_POSTGRES_URL"
    TEAM_FILES=("${CONFORMANCE_FILES[@]}")
    REPLICAS=2
  fi
  S3_DESTINATION="s3://${SWIFTFLOW_TEST_S3_BUCKET}/conformance-$(date +%s)-$$"
  REPLICA_PORTS=()
  for n in $(seq 1 "$REPLICAS"); do
    REPLICA_PORTS+=("$(free_port)")
    echo "== starting replica $n on port ${REPLICA_PORTS[-1]}: store ${TEAM_STORE%%:*}, --artifacts-destination $S3_DESTINATION"
    MLFLOW_S3_ENDPOINT_URL="$S3_ENDPOINT" start_server "$DATA_DIR/team/$n" "${REPLICA_PORTS[-1]}" \
      --backend-store-uri "$TEAM_STORE" --artifacts-destination "$S3_DESTINATION"
    REPLICA_PIDS+=("$STARTED_PID")
  done
  for n in $(seq 1 "$REPLICAS"); do
    wait_healthy "${REPLICA_PIDS[$((n - 1))]}" "${REPLICA_PORTS[$((n - 1))]}" "$DATA_DIR/team/$n/server.log"
  done
  TEAM_PORT="${REPLICA_PORTS[0]}"
  if [ "$REPLICAS" -gt 1 ]; then
    TEAM_PORT="$(free_port)"
    PROXY_DIR="$(scripts/proxy.sh start "$TEAM_PORT" "${REPLICA_PORTS[@]}")"
    echo "== round-robin proxy (nginx) on port $TEAM_PORT in front of ports ${REPLICA_PORTS[*]}"
  fi
  team_logs() {
    for n in $(seq 1 "$REPLICAS"); do echo "== replica $n log (last 30 lines)"; tail -n 30 "$DATA_DIR/team/$n/server.log"; done
  }
  echo "== conformance: ${#TEAM_FILES[@]} file(s) through http://127.0.0.1:$TEAM_PORT, store ${TEAM_STORE%%:*}, artifacts in S3"
  set +e
  "$CONFORMANCE_DIR/run.sh" "http://127.0.0.1:$TEAM_PORT" "${TEAM_FILES[@]}"
  rc=$?
  set -e
  if [ "$rc" != 0 ]; then team_logs; exit "$rc"; fi
  echo "== multipart upload by the official client through http://127.0.0.1:$TEAM_PORT into S3 (presigned part URLs)"
  "${CONFORMANCE_VENV:-$HOME/.cache/conformance-venv}/bin/python" "$ROOT/scripts/s3_multipart.py" "http://127.0.0.1:$TEAM_PORT" \
    >"$DATA_DIR/s3_multipart.log" 2>&1 || { tail -n 30 "$DATA_DIR/s3_multipart.log"; team_logs; exit 1; }
  tail -n 1 "$DATA_DIR/s3_multipart.log"
  if [ -n "${PROXY_DIR:-}" ]; then
    echo "requests answered per replica:"; scripts/proxy.sh counts "$PROXY_DIR"
    echo "== PostgreSQL outage while clients log through the replicas"
    set +e
    python3 "$ROOT/scripts/pg_outage.py" "http://127.0.0.1:$TEAM_PORT" \
      --halt "$ROOT/scripts/postgres.sh halt" --resume "$ROOT/scripts/postgres.sh resume" \
      $(printf -- '--pid %s ' "${REPLICA_PIDS[@]}")
    rc=$?
    set -e
    if [ "$rc" != 0 ]; then team_logs; exit "$rc"; fi
  fi
  stop_team
fi

# Every model URI form the official client resolves through a server, loaded and run.
echo "== model URIs through http://127.0.0.1:$PORT"
"${CONFORMANCE_VENV:-$HOME/.cache/conformance-venv}/bin/python" "$ROOT/scripts/model_uris.py" "http://127.0.0.1:$PORT" \
  >"$DATA_DIR/model_uris.log" 2>&1 || { tail -n 30 "$DATA_DIR/model_uris.log"; exit 1; }
tail -n 1 "$DATA_DIR/model_uris.log"

VENV="${CONFORMANCE_VENV:-$HOME/.cache/conformance-venv}"

# `swiftflow models serve` against the official `mlflow models serve` on the same logged models: the same
# requests, byte-identical answers; then crashing and hanging workers, and `models predict`. Models are
# downloaded into a cache of this run only.
echo "== models serve: official mlflow models serve against ours"
export SWIFTFLOW_CACHE_DIR="$DATA_DIR/swiftflow-cache"
"$VENV/bin/python" "$ROOT/scripts/models_compare.py" --tracking-uri "http://127.0.0.1:$PORT" \
  --swiftflow "$ROOT/.build/release/swiftflow"
echo "== models serve: worker crashes and hangs, models predict"
"$VENV/bin/python" "$ROOT/scripts/models_workers.py" --tracking-uri "http://127.0.0.1:$PORT" \
  --swiftflow "$ROOT/.build/release/swiftflow"
echo "== swiftflow run against mlflow run: the same projects, the same params, tags and metrics"
"$VENV/bin/python" "$ROOT/scripts/projects_compare.py" --tracking-uri "http://127.0.0.1:$PORT" \
  --swiftflow "$ROOT/.build/release/swiftflow"
echo "== swiftflow run: a virtualenv project, Ctrl-C, type errors, Docker"
"$VENV/bin/python" "$ROOT/scripts/projects_run.py" --tracking-uri "http://127.0.0.1:$PORT" \
  --swiftflow "$ROOT/.build/release/swiftflow"
# The Swift SDK against the official server: the same scenario against `mlflow server` and ours must give
# identical transcripts (ClientSDKTests.sameAnswersAsMLflow; skipped in the first `swift test` above,
# which has no mlflow to start).
echo "== Swift SDK: the same calls against mlflow server and swiftflow server"
if ! SWIFTFLOW_TEST_MLFLOW="$VENV/bin/mlflow" swift test -c release --skip-build --filter sameAnswersAsMLflow \
  >"$DATA_DIR/sdk_compare.log" 2>&1; then
  tail -n 60 "$DATA_DIR/sdk_compare.log"
  exit 1
fi
# It must have run, not been skipped.
grep -E '^✔ Test "the SDK gets the same answers' "$DATA_DIR/sdk_compare.log" || { tail -n 20 "$DATA_DIR/sdk_compare.log"; exit 1; }
echo "== README: the serving, projects and Swift SDK demos as written"
scripts/readme_demos.sh

# Runs whose artifact root is in S3 and whose client writes there itself (no proxy).
if [ -n "$S3_ENDPOINT" ]; then
  "$VENV/bin/python" -c 'import boto3' 2>/dev/null || "$VENV/bin/pip" install -q boto3
  DIRECT_PORT="$(free_port)"
  MLFLOW_S3_ENDPOINT_URL="$S3_ENDPOINT" start_server "$DATA_DIR/direct" "$DIRECT_PORT" \
    --backend-store-uri "sqlite:///$DATA_DIR/direct/mlflow.db" \
    --no-serve-artifacts --default-artifact-root "s3://${SWIFTFLOW_TEST_S3_BUCKET}/direct-$(date +%s)-$$"
  DIRECT_PID=$STARTED_PID
  wait_healthy "$DIRECT_PID" "$DIRECT_PORT" "$DATA_DIR/direct/server.log"
  echo "== artifacts in S3 written by the client (--no-serve-artifacts --default-artifact-root s3://…)"
  set +e
  MLFLOW_S3_ENDPOINT_URL="$S3_ENDPOINT" "$VENV/bin/python" "$ROOT/scripts/s3_direct.py" "http://127.0.0.1:$DIRECT_PORT"
  rc=$?
  set -e
  kill -TERM "$DIRECT_PID" 2>/dev/null || true
  if [ "$rc" != 0 ]; then echo "== server log (last 30 lines)"; tail -n 30 "$DATA_DIR/direct/server.log"; exit "$rc"; fi
fi

# The basic-auth app (`--app-name basic-auth`): MLflow's permission matrix under both default permissions
# (scripts/auth_matrix.json, recorded against `mlflow server --app-name basic-auth` by
# scripts/auth_reference.sh), the whole conformance suite as the admin, then what Swiftflow adds
# (throttling, the UI's filtering, no secret in answers or logs: scripts/auth_extras.py).
if [ "${SKIP_AUTH:-0}" != 1 ]; then
  AUTH_ADMIN=admin
  AUTH_PASSWORD="admin-$(date +%s)-$$"
  # start_auth_server NAME DEFAULT_PERMISSION MAX_FAILED LOCKOUT_SECONDS [ARGS...]: sets AUTH_PORT, AUTH_PID.
  start_auth_server() {
    local dir="$DATA_DIR/auth-$1"
    mkdir -p "$dir"
    printf '[mlflow]\ndefault_permission = %s\ndatabase_uri = sqlite:///%s/basic_auth.db\nadmin_username = %s\nadmin_password = %s\n[swiftflow]\nmax_failed_logins = %s\nlockout_seconds = %s\n' \
      "$2" "$dir" "$AUTH_ADMIN" "$AUTH_PASSWORD" "$3" "$4" >"$dir/basic_auth.ini"
    AUTH_PORT="$(free_port)"
    local name="$1"
    shift 4
    MLFLOW_AUTH_CONFIG_PATH="$dir/basic_auth.ini" start_server "$dir" "$AUTH_PORT" --app-name basic-auth \
      --backend-store-uri "sqlite:///$dir/mlflow.db" --artifacts-destination "$dir/mlartifacts" "$@"
    AUTH_PID=$STARTED_PID
    wait_healthy "$AUTH_PID" "$AUTH_PORT" "$dir/server.log"
    echo "== basic-auth server ($name) on port $AUTH_PORT"
  }
  auth_fail() { echo "== auth server log (last 30 lines)"; tail -n 30 "$DATA_DIR/auth-$1/server.log"; exit 1; }
  for default in READ NO_PERMISSIONS; do
    start_auth_server "$default" "$default" 1000 30
    echo "== basic-auth: the permission matrix (default_permission=$default) against MLflow's recorded answers"
    "$VENV/bin/python" "$ROOT/scripts/auth_test.py" "http://127.0.0.1:$AUTH_PORT" \
      --admin-user "$AUTH_ADMIN" --admin-password "$AUTH_PASSWORD" >"$DATA_DIR/auth-$default.log" 2>&1 \
      || { grep -v '^  ' "$DATA_DIR/auth-$default.log" | tail -n 40; auth_fail "$default"; }
    tail -n 1 "$DATA_DIR/auth-$default.log"
    if [ "$default" = READ ]; then
      echo "== conformance as the admin through basic-auth"
      MLFLOW_TRACKING_USERNAME="$AUTH_ADMIN" MLFLOW_TRACKING_PASSWORD="$AUTH_PASSWORD" \
        "$CONFORMANCE_DIR/run.sh" "http://127.0.0.1:$AUTH_PORT" "${CONFORMANCE_FILES[@]}" || auth_fail "$default"
    fi
    kill -TERM "$AUTH_PID" 2>/dev/null || true
  done
  start_auth_server extras READ 3 2 --log-level trace
  echo "== basic-auth: throttling, the UI, no secret in answers or logs"
  "$VENV/bin/python" "$ROOT/scripts/auth_extras.py" "http://127.0.0.1:$AUTH_PORT" --admin-user "$AUTH_ADMIN" \
    --admin-password "$AUTH_PASSWORD" --max-failed 3 --lockout-seconds 2 --log "$DATA_DIR/auth-extras/server.log" \
    || auth_fail extras
  kill -TERM "$AUTH_PID" 2>/dev/null || true
fi

# swiftflow import: MLflow databases at older schema heads (built with MLflow's own migrations), then
# MLflow's stores filled by the official client, imported and read back through both servers, with
# reruns, kills mid-import and refusals (scripts/import_compare.py).
if [ "${SKIP_IMPORT:-0}" != 1 ]; then
  "$VENV/bin/python" -c 'import flask_wtf' 2>/dev/null || "$VENV/bin/pip" install -q flask-wtf
  IMPORT_ARGS=()
  if [ -n "${SWIFTFLOW_TEST_POSTGRES_URL:-}" ]; then
    "$VENV/bin/python" -c 'import psycopg' 2>/dev/null || "$VENV/bin/pip" install -q 'psycopg[binary]'
    IMPORT_ARGS=(--pg-url "$SWIFTFLOW_TEST_POSTGRES_URL")
  fi
  echo "== import: MLflow databases at older schema heads"
  "$VENV/bin/python" "$ROOT/scripts/import_old_schemas.py" --binary "$ROOT/.build/release/swiftflow"
  echo "== import: MLflow's stores read back through both servers"
  "$VENV/bin/python" "$ROOT/scripts/import_compare.py" "$ROOT/.build/release/swiftflow" "${IMPORT_ARGS[@]}"
fi

# The web UI in headless Chromium, against a second server with data of its own (the checks count rows).
if [ "${SKIP_UI:-0}" != 1 ]; then
  "$VENV/bin/python" -c 'import websocket' 2>/dev/null || "$VENV/bin/pip" install -q websocket-client
  UI_PORT="$(free_port)"
  start_server "$DATA_DIR/ui" "$UI_PORT" \
    --backend-store-uri "sqlite:///$DATA_DIR/ui/mlflow.db" --artifacts-destination "$DATA_DIR/ui/mlartifacts"
  UI_PID=$STARTED_PID
  wait_healthy "$UI_PID" "$UI_PORT" "$DATA_DIR/ui/server.log"
  echo "== UI tests: headless Chromium against http://127.0.0.1:$UI_PORT"
  set +e
  "$VENV/bin/python" "$ROOT/scripts/ui_test.py" "http://127.0.0.1:$UI_PORT" --screenshots "$DATA_DIR/ui/screenshots"
  rc=$?
  set -e
  kill -TERM "$UI_PID" 2>/dev/null || true
  if [ "$rc" != 0 ]; then echo "== UI server log (last 30 lines)"; tail -n 30 "$DATA_DIR/ui/server.log"; exit "$rc"; fi
fi

# The same searches against the official server and ours, answers compared cell by cell.
if [ "${SKIP_SEARCH_DIFF:-0}" != 1 ]; then
  REF_PORT="$(free_port)"
  mkdir -p "$DATA_DIR/official"
  echo "== search diff: official mlflow server on port $REF_PORT against ours"
  (cd "$DATA_DIR/official" && MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false exec "$VENV/bin/mlflow" server \
    --backend-store-uri "sqlite:///$DATA_DIR/official/mlflow.db" --artifacts-destination "$DATA_DIR/official/a" \
    --host 127.0.0.1 --port "$REF_PORT" --workers 1) >"$DATA_DIR/official.log" 2>&1 &
  REF_PID=$!
  for _ in $(seq 1 120); do
    curl -fsS "http://127.0.0.1:$REF_PORT/health" >/dev/null 2>&1 && break
    kill -0 "$REF_PID" 2>/dev/null || { echo "official server exited:" >&2; tail -20 "$DATA_DIR/official.log" >&2; exit 1; }
    sleep 0.5
  done
  set +e
  "$VENV/bin/python" "$ROOT/scripts/search_diff.py" "http://127.0.0.1:$REF_PORT" "http://127.0.0.1:$PORT" \
    >"$DATA_DIR/search_diff.log" 2>&1
  rc=$?
  set -e
  grep -v "View run\|View experiment" "$DATA_DIR/search_diff.log" | tail -n 60
fi
exit "$rc"
