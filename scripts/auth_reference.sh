#!/usr/bin/env bash
# Runs scripts/auth_test.py against the official MLflow basic-auth server (mlflow server
# --app-name basic-auth), started on a free loopback port in a throwaway folder, once per
# default_permission (READ, then NO_PERMISSIONS). Extra arguments go to auth_test.py, e.g.
#
#   scripts/auth_reference.sh                                    compare with auth_matrix.json
#   scripts/auth_reference.sh --record scripts/auth_matrix.json  (re)record the expected cells
#
# Each default gets two servers:
#   * one with MLflow's default settings, for the "authentication" step (malformed Authorization
#     headers: with the credential cache on, 3.17.2 answers "Bearer x" with a 500 instead of 401);
#   * one with auth_cache_ttl_seconds set, for every other step. Without the cache every request
#     re-runs the scrypt password check several times (about 0.5 s a request).
# The admin is admin / admin-password-1234: 3.17.2 ships no default admin password and refuses
# the old default "password1234" (both for bootstrapping and for logging in).
#
# The Python is $AUTH_VENV, else $CONFORMANCE_VENV, else ~/.cache/conformance-venv; Flask-WTF is
# installed into it when missing (the basic-auth app needs it).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${AUTH_VENV:-${CONFORMANCE_VENV:-$HOME/.cache/conformance-venv}}"
PY="$VENV/bin/python"
ADMIN_USER=admin
ADMIN_PASSWORD=admin-password-1234
ALL_STEPS="users,permissions,ownership,non_admin,matrix,secrets"

[ -x "$PY" ] || { echo "auth_reference: no python at $PY" >&2; exit 1; }
"$PY" -c 'import flask_wtf' 2>/dev/null || "$PY" -m pip install -q flask-wtf

WORK="$(mktemp -d "${TMPDIR:-/tmp}/swiftflow-authref.XXXXXX")"
SERVER_PID=""
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill -TERM -- "-$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}
cleanup() { stop_server; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() {
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_server NAME DEFAULT_PERMISSION CACHE_TTL: a fresh server in $WORK/NAME; sets PORT.
start_server() {
  local dir="$WORK/$1"
  mkdir -p "$dir"
  cat >"$dir/basic_auth.ini" <<EOF
[mlflow]
default_permission = $2
database_uri = sqlite:///$dir/basic_auth.db
admin_username = $ADMIN_USER
admin_password = $ADMIN_PASSWORD
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
auth_cache_ttl_seconds = $3
EOF
  PORT="$(free_port)"
  MLFLOW_AUTH_CONFIG_PATH="$dir/basic_auth.ini" \
    MLFLOW_FLASK_SERVER_SECRET_KEY="auth-reference-secret" \
    MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false \
    MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true \
    setsid "$VENV/bin/mlflow" server --app-name basic-auth --host 127.0.0.1 --port "$PORT" \
    --workers 1 --backend-store-uri "sqlite:///$dir/mlflow.db" \
    --artifacts-destination "$dir/artifacts" >"$dir/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 240); do
    if curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1; then return 0; fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.25
  done
  echo "auth_reference: the official server did not come up; its log:" >&2
  tail -n 40 "$dir/server.log" >&2
  exit 1
}

status=0
total_passed=0
total_failed=0
for default in READ NO_PERMISSIONS; do
  for pass in authentication rest; do
    if [ "$pass" = authentication ]; then
      start_server "$default-$pass" "$default" 0
      steps=authentication
    else
      start_server "$default-$pass" "$default" 600
      steps="$ALL_STEPS"
    fi
    echo "auth_reference: default_permission=$default, steps $steps, port $PORT"
    "$PY" "$ROOT/scripts/auth_test.py" "http://127.0.0.1:$PORT" \
      --admin-user "$ADMIN_USER" --admin-password "$ADMIN_PASSWORD" --steps "$steps" "$@" \
      | tee "$WORK/pass.log" || status=1
    passed="" failed=""
    read -r passed failed < <(awk '/^[0-9]+ passed, [0-9]+ failed$/ {print $1, $3}' \
      "$WORK/pass.log" | tail -n 1) || true
    total_passed=$((total_passed + ${passed:-0}))
    total_failed=$((total_failed + ${failed:-1}))
    stop_server
  done
done
echo "auth_reference: all passes: $total_passed passed, $total_failed failed"
exit "$status"
