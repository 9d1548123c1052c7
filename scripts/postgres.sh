#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests, on a free loopback port in a temporary folder.
#
#   scripts/postgres.sh start   starts it; prints `export SWIFTFLOW_TEST_POSTGRES_URL=...` and
#                               `export SWIFTFLOW_POSTGRES_DIR=...` (eval the output)
#   scripts/postgres.sh stop    stops the cluster named by SWIFTFLOW_POSTGRES_DIR and removes it
#   scripts/postgres.sh halt    stops that cluster's server (a clean, fast shutdown) and keeps its data
#   scripts/postgres.sh resume  starts it again on the same port
#
# Uses Debian's server binaries (package `postgresql`). The cluster runs as the `postgres` user when
# started by root (PostgreSQL refuses to run as root), with a password user and database `swiftflow`.
# The tests' cluster trades durability for speed (fsync off); SWIFTFLOW_PG_DURABLE=1 keeps PostgreSQL's
# defaults, as benchmarks should.
set -euo pipefail

find_bin() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/initdb" ] && { echo "$dir"; return; }
  done
  command -v initdb >/dev/null && { dirname "$(command -v initdb)"; return; }
  echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2
  exit 1
}

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
start)
  BIN="$(find_bin)"
  DIR="$(mktemp -d "${TMPDIR:-/tmp}/swiftflow-pg.XXXXXX")"
  PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  PASSWORD="swiftflow"
  [ "$(id -u)" = 0 ] && chown postgres "$DIR"
  printf '%s\n' "$PASSWORD" >"$DIR/pwfile"
  [ "$(id -u)" = 0 ] && chown postgres "$DIR/pwfile"
  as_owner "$BIN/initdb" -D "$DIR/data" -U swiftflow --pwfile="$DIR/pwfile" -A scram-sha-256 -E UTF8 \
    --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; exit 1; }
  # Throwaway data: no fsync; room for the tests' parallel pools.
  OPTIONS="-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$DIR -c max_connections=300"
  if [ "${SWIFTFLOW_PG_DURABLE:-0}" != 1 ]; then
    OPTIONS="$OPTIONS -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  fi
  printf '%s\n' "$OPTIONS" >"$DIR/options"
  as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -o "$(cat "$DIR/options")" start >/dev/null \
    || { cat "$DIR/server.log" >&2; exit 1; }
  PGPASSWORD="$PASSWORD" "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U swiftflow -d postgres -qc "CREATE DATABASE swiftflow" >/dev/null
  echo "export SWIFTFLOW_POSTGRES_DIR=$DIR"
  echo "export SWIFTFLOW_TEST_POSTGRES_URL=postgresql://swiftflow:$PASSWORD@127.0.0.1:$PORT/swiftflow?sslmode=disable"
  ;;
stop)
  DIR="${SWIFTFLOW_POSTGRES_DIR:?SWIFTFLOW_POSTGRES_DIR is not set}"
  BIN="$(find_bin)"
  [ -d "$DIR/data" ] && as_owner "$BIN/pg_ctl" -D "$DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$DIR"
  ;;
halt)
  DIR="${SWIFTFLOW_POSTGRES_DIR:?SWIFTFLOW_POSTGRES_DIR is not set}"
  as_owner "$(find_bin)/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null
  ;;
resume)
  DIR="${SWIFTFLOW_POSTGRES_DIR:?SWIFTFLOW_POSTGRES_DIR is not set}"
  as_owner "$(find_bin)/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -o "$(cat "$DIR/options")" start >/dev/null \
    || { tail -20 "$DIR/server.log" >&2; exit 1; }
  ;;
*)
  echo "usage: $0 start|stop|halt|resume" >&2
  exit 2
  ;;
esac
