#!/usr/bin/env bash
# A local S3-compatible server (moto) for the S3 artifact tests, on a free loopback port.
#
#   scripts/s3.sh start    creates the venv if missing (~/.cache/moto-venv, or $MOTO_VENV), starts moto,
#                          creates the bucket ($S3_BUCKET, default swiftflow-test) and prints the endpoint
#   scripts/s3.sh stop     stops the server started by `start`
#
# State (pid, endpoint, log) lives in $S3_STATE_DIR (default ${TMPDIR:-/tmp}/swiftflow-s3).
set -euo pipefail
VENV="${MOTO_VENV:-$HOME/.cache/moto-venv}"
STATE="${S3_STATE_DIR:-${TMPDIR:-/tmp}/swiftflow-s3}"
BUCKET="${S3_BUCKET:-swiftflow-test}"

case "${1:-}" in
start)
  if [ ! -x "$VENV/bin/moto_server" ]; then
    python3 -m venv "$VENV" >&2
    "$VENV/bin/pip" install -q 'moto[server]' >&2
  fi
  mkdir -p "$STATE"
  if [ -f "$STATE/pid" ] && kill -0 "$(cat "$STATE/pid")" 2>/dev/null; then
    cat "$STATE/endpoint"
    exit 0
  fi
  PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  "$VENV/bin/moto_server" -H 127.0.0.1 -p "$PORT" >"$STATE/moto.log" 2>&1 &
  echo $! >"$STATE/pid"
  ENDPOINT="http://127.0.0.1:$PORT"
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "$ENDPOINT/" 2>/dev/null && break
    kill -0 "$(cat "$STATE/pid")" 2>/dev/null || { echo "moto exited:" >&2; cat "$STATE/moto.log" >&2; exit 1; }
    sleep 0.2
  done
  # moto checks no signatures by default, so a plain request creates the bucket.
  curl -fsS -o /dev/null -X PUT "$ENDPOINT/$BUCKET"
  echo "$ENDPOINT" >"$STATE/endpoint"
  echo "$ENDPOINT"
  ;;
stop)
  if [ -f "$STATE/pid" ]; then
    PID="$(cat "$STATE/pid")"
    kill -TERM "$PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$PID" 2>/dev/null || true
    rm -f "$STATE/pid" "$STATE/endpoint"
  fi
  ;;
*)
  echo "usage: $0 start|stop" >&2
  exit 2
  ;;
esac
