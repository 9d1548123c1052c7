#!/usr/bin/env python3
"""Runs whose artifacts live in S3 and are written by the client itself (the server does not proxy).

    s3_direct.py URL

The server runs with `--no-serve-artifacts --default-artifact-root s3://bucket/prefix`; this process
has MLFLOW_S3_ENDPOINT_URL and AWS credentials for the same S3-compatible server. With the official
client (and boto3): a new run's artifact URI is in the bucket; log_artifact/log_artifacts write
there directly; the client lists and downloads them back; the server's artifact endpoints (list and
get-artifact, which the web UI uses) read the same files from the bucket.
"""
import os
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import json

import mlflow
from mlflow import MlflowClient


def main():
    url = sys.argv[1]
    mlflow.set_tracking_uri(url)
    client = MlflowClient(url)
    experiment_id = client.create_experiment(f"s3-direct-{time.time_ns()}")
    experiment = client.get_experiment(experiment_id)
    assert experiment.artifact_location.startswith("s3://"), experiment.artifact_location
    problems = []

    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "model.txt"), "wb") as f:
            f.write(b"weights \xe2\x9c\x93\n" * 1000)
        os.makedirs(os.path.join(tmp, "plots", "deep"))
        for name, body in (("a.csv", b"x,y\n1,2\n"), ("deep/b.json", b'{"k": 1}')):
            with open(os.path.join(tmp, "plots", name), "wb") as f:
                f.write(body)

        with mlflow.start_run(experiment_id=experiment_id) as run:
            mlflow.log_artifact(os.path.join(tmp, "model.txt"))
            mlflow.log_artifacts(os.path.join(tmp, "plots"), artifact_path="plots")
        run_id = run.info.run_id
        artifact_uri = client.get_run(run_id).info.artifact_uri
        if not artifact_uri.startswith(experiment.artifact_location + "/"):
            problems.append(f"run artifact URI {artifact_uri} is not under {experiment.artifact_location}")

        # The client reads the bucket itself.
        listed = sorted(f.path for f in client.list_artifacts(run_id))
        if listed != ["model.txt", "plots"]:
            problems.append(f"client listing: {listed}")
        out = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="plots/deep/b.json", dst_path=tmp + "/dl")
        if open(out, "rb").read() != b'{"k": 1}':
            problems.append("client download of plots/deep/b.json differs")

        # The server reads the same objects (its list and get-artifact endpoints).
        query = urllib.parse.urlencode({"run_id": run_id, "path": "plots"})
        with urllib.request.urlopen(f"{url}/api/2.0/mlflow/artifacts/list?{query}") as response:
            files = json.load(response)
        server_listed = sorted((f["path"], f["is_dir"], f.get("file_size")) for f in files.get("files", []))
        expected = [("plots/a.csv", False, 8), ("plots/deep", True, None)]
        if server_listed != expected:
            problems.append(f"server listing of plots: {server_listed}, expected {expected}")
        query = urllib.parse.urlencode({"run_id": run_id, "path": "model.txt"})
        with urllib.request.urlopen(f"{url}/get-artifact?{query}") as response:
            body = response.read()
        if body != b"weights \xe2\x9c\x93\n" * 1000:
            problems.append(f"server get-artifact of model.txt: {len(body)} bytes differ")

    if problems:
        print("s3 direct: FAILED", file=sys.stderr)
        for problem in problems:
            print("  " + problem, file=sys.stderr)
        sys.exit(1)
    print(f"s3 direct: run artifacts at {artifact_uri}, written and read by the client, read by the server")


if __name__ == "__main__":
    main()
