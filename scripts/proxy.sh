#!/usr/bin/env bash
# A round-robin HTTP proxy on loopback (Debian's nginx) in front of several servers, for tests and benchmarks.
#
#   scripts/proxy.sh start PORT UPSTREAM_PORT...   starts nginx on 127.0.0.1:PORT; prints its folder
#   scripts/proxy.sh counts DIR                    requests each upstream answered (from the access log)
#   scripts/proxy.sh stop DIR                      stops it and removes the folder
#
# Bodies stream both ways (no buffering, no size limit), as artifact uploads and downloads need.
set -euo pipefail

case "${1:-}" in
start)
  PORT="${2:?port}"
  shift 2
  [ "$#" -gt 0 ] || { echo "usage: $0 start PORT UPSTREAM_PORT..." >&2; exit 2; }
  NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
  [ -x "$NGINX" ] || { echo "nginx not found (apt-get install nginx-light)" >&2; exit 1; }
  DIR="$(mktemp -d "${TMPDIR:-/tmp}/swiftflow-proxy.XXXXXX")"
  mkdir -p "$DIR/tmp"
  chmod 0777 "$DIR" "$DIR/tmp"  # nginx's workers run as an unprivileged user when started by root
  {
    echo "worker_processes 1;"
    echo "pid $DIR/nginx.pid;"
    echo "error_log $DIR/error.log warn;"
    echo "events { worker_connections 1024; }"
    echo "http {"
    echo "  log_format upstream '\$upstream_addr \$status';"
    echo "  access_log $DIR/access.log upstream;"
    echo "  client_body_temp_path $DIR/tmp/body; proxy_temp_path $DIR/tmp/proxy;"
    echo "  fastcgi_temp_path $DIR/tmp/fastcgi; uwsgi_temp_path $DIR/tmp/uwsgi; scgi_temp_path $DIR/tmp/scgi;"
    echo "  client_max_body_size 0; proxy_request_buffering off; proxy_buffering off;"
    echo "  proxy_read_timeout 300s; proxy_send_timeout 300s;"
    echo "  upstream swiftflow {"
    for upstream in "$@"; do echo "    server 127.0.0.1:$upstream;"; done
    echo "    keepalive 64;"
    echo "  }"
    echo "  server {"
    echo "    listen 127.0.0.1:$PORT;"
    echo "    location / {"
    echo "      proxy_pass http://swiftflow;"
    echo "      proxy_http_version 1.1;"
    echo "      proxy_set_header Connection \"\";"
    echo "      proxy_set_header Host \$http_host;"
    echo "    }"
    echo "  }"
    echo "}"
  } >"$DIR/nginx.conf"
  "$NGINX" -p "$DIR" -c "$DIR/nginx.conf" -e "$DIR/error.log" || { cat "$DIR/error.log" >&2; exit 1; }
  echo "$DIR"
  ;;
counts)
  DIR="${2:?folder}"
  awk '{ n[$1]++ } END { for (u in n) printf "%s %d\n", u, n[u] }' "$DIR/access.log" | sort
  ;;
stop)
  DIR="${2:?folder}"
  if [ -f "$DIR/nginx.pid" ]; then
    PID="$(cat "$DIR/nginx.pid")"
    kill -QUIT "$PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$PID" 2>/dev/null || true
  fi
  rm -rf "$DIR"
  ;;
*)
  echo "usage: $0 start PORT UPSTREAM_PORT... | counts DIR | stop DIR" >&2
  exit 2
  ;;
esac
