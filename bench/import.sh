#!/usr/bin/env bash
# `swiftflow import` of a large MLflow database: RUNS runs x 10 params x 5 metrics x 100 steps (by default
# 10,000 runs, 100,000 params, 5,000,000 metric points) into a fresh Swiftflow SQLite store, REPEATS times.
#
#   bench/import.sh [--runs N] [--repeats R] [--binary PATH] [--params P] [--metrics M] [--steps S]
#
#   1. the source: an MLflow 3.17.2 SQLite database written by scripts/mlflow_bulk.py (schema and experiments
#      by MLflow's own SqlAlchemyStore, rows by sqlite3 in bulk, as MLflow's store writes them), checked once
#      against `mlflow server` (one runs/search, one get-history) and cached in ~/.cache/swiftflow-bench/
#      under a name made of its parameters, the MLflow version and the generator's hash, so reruns skip it
#      (generating 10,000 runs takes about a minute);
#   2. each repeat: `swiftflow import --from sqlite:///SOURCE --to sqlite:///TARGET --no-progress` into a
#      new TARGET, timed from start to exit (wall clock; peak RSS from /usr/bin/time when present);
#   3. the times and their median, then the last target's row counts (runs, params, tags, metric points,
#      latest metrics) against what was generated; a wrong count fails the run.
#
# Env: CONFORMANCE_VENV (venv with mlflow 3.17.2; default ~/.cache/conformance-venv), SWIFTFLOW_BENCH_CACHE
# (default ~/.cache/swiftflow-bench), TMPDIR (targets: about 1 GB each at the default size, one at a time).
set -euo pipefail
RUNS=10000
REPEATS=3
PARAMS=10
METRICS=5
STEPS=100
BIN=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS="$2"; shift 2 ;;
    --repeats) REPEATS="$2"; shift 2 ;;
    --params) PARAMS="$2"; shift 2 ;;
    --metrics) METRICS="$2"; shift 2 ;;
    --steps) STEPS="$2"; shift 2 ;;
    --binary) BIN="$(realpath -m "$2")"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")/.."
ROOT="$PWD"
BIN="${BIN:-$ROOT/.build/release/swiftflow}"
VENV="${CONFORMANCE_VENV:-$HOME/.cache/conformance-venv}"
PY="$VENV/bin/python"
CACHE="${SWIFTFLOW_BENCH_CACHE:-$HOME/.cache/swiftflow-bench}"
[ -x "$PY" ] || { echo "no python at $PY (set CONFORMANCE_VENV)" >&2; exit 1; }
"$BIN" import --help >/dev/null 2>&1 || { echo "$BIN has no import command (swift build -c release --product swiftflow)" >&2; exit 1; }

MLFLOW_VERSION="$("$PY" -c 'import mlflow; print(mlflow.__version__)' 2>/dev/null)"
GEN_HASH="$(sha256sum scripts/mlflow_bulk.py | cut -c1-10)"
KEY="mlflow-$MLFLOW_VERSION-runs$RUNS-params$PARAMS-metrics$METRICS-steps$STEPS-gen$GEN_HASH"
SOURCE="$CACHE/$KEY.db"
POINTS=$((RUNS * METRICS * STEPS))

WORK="$(mktemp -d "${TMPDIR:-/tmp}/swiftflow-importbench.XXXXXX")"
trap 'rm -rf "$WORK"; rm -f "$SOURCE.partial"' EXIT

echo "== $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, $RUNS runs x $PARAMS params x $METRICS metrics x $STEPS steps ($POINTS metric points), $REPEATS repeats"
if [ -f "$SOURCE" ]; then
  echo "-- source: $SOURCE (cached)"
else
  echo "-- generating $SOURCE"
  mkdir -p "$CACHE"
  rm -f "$SOURCE.partial"
  MLFLOW_DISABLE_TELEMETRY=true "$PY" scripts/mlflow_bulk.py "$SOURCE.partial" --runs "$RUNS" --params "$PARAMS" \
    --metrics "$METRICS" --steps "$STEPS" --check-official 2>&1 | grep -v ' INFO ' || { echo "generation failed" >&2; exit 1; }
  mv "$SOURCE.partial" "$SOURCE"
fi
echo "   $(du -h "$SOURCE" | cut -f1) on disk"

TIMES=()
for i in $(seq 1 "$REPEATS"); do
  TARGET="$WORK/target-$i.db"
  rm -f "$WORK"/target-*.db*   # one target on disk at a time
  START=$(date +%s.%N)
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f '%M' -o "$WORK/rss" "$BIN" import --from "sqlite:///$SOURCE" --to "sqlite:///$TARGET" --no-progress >"$WORK/out" 2>&1 \
      || { cat "$WORK/out" >&2; echo "import failed" >&2; exit 1; }
    RSS="$(awk '{printf "%.0f MiB", $1 / 1024}' "$WORK/rss")"
  else
    "$BIN" import --from "sqlite:///$SOURCE" --to "sqlite:///$TARGET" --no-progress >"$WORK/out" 2>&1 \
      || { cat "$WORK/out" >&2; echo "import failed" >&2; exit 1; }
    RSS="?"
  fi
  END=$(date +%s.%N)
  SECS=$(awk -v a="$START" -v b="$END" 'BEGIN {printf "%.2f", b - a}')
  TIMES+=("$SECS")
  RATE=$(awk -v p="$POINTS" -v s="$SECS" 'BEGIN {printf "%.0f", p / s}')
  echo "-- import $i: $SECS s ($RATE metric points/s, peak RSS $RSS, target $(du -h "$TARGET" | cut -f1))"
  [ "$i" = 1 ] && sed 's/^/   | /' "$WORK/out"
done
MEDIAN=$(printf '%s\n' "${TIMES[@]}" | sort -g | awk '{a[NR] = $1} END {if (NR % 2) print a[(NR + 1) / 2]; else printf "%.2f", (a[NR / 2] + a[NR / 2 + 1]) / 2}')
echo "== median of $REPEATS: $MEDIAN s ($(awk -v p="$POINTS" -v s="$MEDIAN" 'BEGIN {printf "%.0f", p / s}') metric points/s)"

# The last target against what was generated (our schema's tables: runs, params, tags, metrics, latest_metrics).
"$PY" - "$TARGET" "$RUNS" "$PARAMS" "$METRICS" "$STEPS" <<'EOF'
import sqlite3, sys
path, runs, params, metrics, steps = sys.argv[1], *map(int, sys.argv[2:])
db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
want = {"runs": runs, "params": runs * params, "tags": runs * 4, "metrics": runs * metrics * steps,
        "latest_metrics": runs * metrics}
got = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in want}
experiments = db.execute("SELECT count(*) FROM experiments").fetchone()[0]
ok = got == want and experiments == 2
print("check: " + ", ".join(f"{t} {got[t]:,}" for t in want) + f", experiments {experiments}"
      + (" -- as generated" if ok else f" -- WRONG, expected {want} and 2 experiments"))
sys.exit(0 if ok else 1)
EOF
