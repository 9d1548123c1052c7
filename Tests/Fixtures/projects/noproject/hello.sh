#!/usr/bin/env bash
# Entry point of a folder without MLproject: run as `$SHELL hello.sh` (bash when SHELL is unset).
# Prints what the runner passed, so a comparison sees the ids and the working directory.
echo "hello.sh: args=$# cwd=$(basename "$PWD")"
echo "MLFLOW_RUN_ID=${MLFLOW_RUN_ID:-}"
echo "MLFLOW_EXPERIMENT_ID=${MLFLOW_EXPERIMENT_ID:-}"
echo "MLFLOW_TRACKING_URI=${MLFLOW_TRACKING_URI:-}"
