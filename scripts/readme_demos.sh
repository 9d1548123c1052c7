#!/usr/bin/env bash
# Runs the README's demo blocks as written (from the repository root; they use ports 5000 and 5001)
# and checks each one's outcome: "Serving models" must answer predictions, "Projects" must end its run
# succeeded, "Swift SDK" must fit the line and register it. The Python is the test venv's; model downloads and environments go to a throwaway cache.
#
#   scripts/readme_demos.sh
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${CONFORMANCE_VENV:-$HOME/.cache/conformance-venv}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/swiftflow-readme.XXXXXX")"
# The blocks start a server in this folder: never over a developer's own data.
if [ -e mlflow.db ] || [ -e mlartifacts ]; then
  echo "readme_demos: ./mlflow.db or ./mlartifacts exists; move it away first" >&2
  exit 1
fi
DEMO_PID=""
cleanup() {
  [ -n "$DEMO_PID" ] && kill -KILL -- "-$DEMO_PID" 2>/dev/null || true
  rm -rf mlflow.db mlflow.db-wal mlflow.db-shm mlartifacts "$WORK"
}
trap cleanup EXIT

# run_demo MARKER PATTERN: the fenced block after <!-- MARKER --> must print PATTERN.
run_demo() {
  local marker="$1" pattern="$2"
  awk -v m="<!-- $marker -->" '$0 == m {on=1; next} on && /^```sh/ {inside=1; next} inside && /^```/ {exit} inside {print}' \
    README.md >"$WORK/$marker.sh"
  [ -s "$WORK/$marker.sh" ] || { echo "readme_demos: no block after <!-- $marker -->" >&2; exit 1; }
  PATH="$VENV/bin:$PATH" SWIFTFLOW_CACHE_DIR="$WORK/cache" setsid bash -e "$WORK/$marker.sh" >"$WORK/$marker.log" 2>&1 &
  DEMO_PID=$!
  for _ in $(seq 1 360); do
    kill -0 "$DEMO_PID" 2>/dev/null || break
    sleep 0.5
  done
  local found
  found="$(grep -o -E "$pattern" "$WORK/$marker.log" | head -n 1 || true)"
  kill -KILL -- "-$DEMO_PID" 2>/dev/null || true
  DEMO_PID=""
  rm -rf mlflow.db mlflow.db-wal mlflow.db-shm mlartifacts
  if [ -z "$found" ]; then
    echo "readme_demos: the $marker block did not print /$pattern/; output:" >&2
    tail -n 40 "$WORK/$marker.log" >&2
    exit 1
  fi
  echo "README $marker: $found"
}

run_demo models-demo '\{"predictions": .*\}'
run_demo projects-demo "=== Run \(ID '[0-9a-f]+'\) succeeded ==="
run_demo sdk-demo "Run [0-9a-f]{32} finished: w=2\.99[0-9] b=2\.0[0-9]+ mse=0\.0[0-9]+; registered linear-regression version 1"
