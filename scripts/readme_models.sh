#!/usr/bin/env bash
# Runs the README's "Serving models" lines as written (from the repository root, ports 5000 and 5001)
# and checks that the model answered. The Python is the test venv's; model downloads and environments go
# to a throwaway cache.
#
#   scripts/readme_models.sh
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${CONFORMANCE_VENV:-$HOME/.cache/conformance-venv}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/swiftflow-readme.XXXXXX")"
# The lines start a server in this folder: never over a developer's own data.
if [ -e mlflow.db ] || [ -e mlartifacts ]; then
  echo "readme_models: ./mlflow.db or ./mlartifacts exists; move it away first" >&2
  exit 1
fi
awk '/<!-- models-demo -->/ {on=1; next} on && /^```sh/ {inside=1; next} inside && /^```/ {exit} inside {print}' README.md \
  >"$WORK/demo.sh"
[ "$(wc -l <"$WORK/demo.sh")" -eq 5 ] || { echo "readme_models: expected five lines:" >&2; cat "$WORK/demo.sh" >&2; exit 1; }

cleanup() {
  [ -n "${DEMO_PID:-}" ] && kill -KILL -- "-$DEMO_PID" 2>/dev/null || true
  rm -rf mlflow.db mlflow.db-wal mlflow.db-shm mlartifacts "$WORK"
}
trap cleanup EXIT

PATH="$VENV/bin:$PATH" SWIFTFLOW_CACHE_DIR="$WORK/cache" setsid bash -e "$WORK/demo.sh" >"$WORK/out.log" 2>&1 &
DEMO_PID=$!
for _ in $(seq 1 240); do
  kill -0 "$DEMO_PID" 2>/dev/null || break
  sleep 0.5
done
answer="$(grep -o '{"predictions": .*}' "$WORK/out.log" || true)"
if [ -z "$answer" ]; then
  echo "readme_models: no predictions; output:" >&2
  tail -n 40 "$WORK/out.log" >&2
  exit 1
fi
echo "README models demo answered: $answer"
