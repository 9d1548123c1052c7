"""Logs into the run the project runner created (MLFLOW_RUN_ID), deterministically."""
import argparse
import os

import mlflow

parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float, default=0.5)
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--label", default="")
# Params given with -P that the entry point does not declare arrive as `--name value`.
args, extra = parser.parse_known_args()

print(f"train: alpha={args.alpha} epochs={args.epochs} label={args.label!r} extra={extra}")
print(f"train: MLFLOW_RUN_ID set: {bool(os.environ.get('MLFLOW_RUN_ID'))}")

with mlflow.start_run() as run:
    mlflow.log_param("label_seen", args.label)
    if extra:
        mlflow.log_param("extra_seen", " ".join(extra))
    for epoch in range(args.epochs):
        loss = args.alpha / (epoch + 1)
        mlflow.log_metric("loss", loss, step=epoch)
        print(f"train: epoch {epoch} loss {loss}")
    mlflow.set_tag("fixture", "python")
    print(f"train: run {run.info.run_id} done")
