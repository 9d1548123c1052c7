#!/usr/bin/env bash
# Echoes its argument and whether it got a run, and writes the argument under $TMPDIR (not into
# the project folder, which is a checked-in fixture).
set -eu
echo "run.sh: greeting=[$1] args=$#"
echo "run.sh: run_id set: ${MLFLOW_RUN_ID:+yes}"
mkdir -p "${TMPDIR:-/tmp}/swiftflow-shell-fixture"
printf '%s\n' "$1" > "${TMPDIR:-/tmp}/swiftflow-shell-fixture/greeting.txt"
