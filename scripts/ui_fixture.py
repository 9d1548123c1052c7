#!/usr/bin/env python3
"""Fills a tracking server with what the UI tests look at, through the official mlflow client.

    ui_fixture.py http://127.0.0.1:PORT  ->  prints a JSON summary (ids the tests navigate to)

Hostile strings go everywhere user data can: experiment, run, param, metric, tag and artifact
names, descriptions and registered models. Each carries a marker (`window.__sf_xss`) that the UI
tests check was never set, and a `<script>`/`onerror` payload that would set it.
"""
import io
import json
import math
import os
import struct
import sys
import tempfile
import time
import zlib

XSS = "<img src=x onerror=\"window.__sf_xss=1\"><script>window.__sf_xss=1</script>'\"&"


def png(width=4, height=3):
    """A tiny valid PNG (red pixels), written by hand to need no imaging library."""
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def main(url):
    os.environ["MLFLOW_TRACKING_URI"] = url
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient(url)
    summary = {}

    # A plain experiment with a few comparable runs, one with a long metric history.
    exp = client.create_experiment("ui-demo")
    summary["experiment_id"] = exp
    runs = []
    for i, (lr, model) in enumerate([(0.1, "tree"), (0.01, "cnn"), (0.001, "cnn")]):
        run = client.create_run(exp, run_name=f"run-{i}", tags={"team": "vision" if i else "tabular"})
        rid = run.info.run_id
        client.log_param(rid, "lr", str(lr))
        client.log_param(rid, "model", model)
        metrics = []
        now = int(time.time() * 1000)
        for step in range(200):
            metrics.append(mlflow.entities.Metric("loss", math.exp(-step * lr * 5) + 0.01 * i, now + step * 1000, step))
            metrics.append(mlflow.entities.Metric("acc", 1 - math.exp(-step * lr * 3), now + step * 1000, step))
        for start in range(0, len(metrics), 1000):
            client.log_batch(rid, metrics=metrics[start:start + 1000])
        client.set_terminated(rid, "FINISHED" if i < 2 else "FAILED")
        runs.append(rid)
    summary["runs"] = runs

    # One run with every artifact type the browser previews.
    rid = runs[0]
    with tempfile.TemporaryDirectory() as d:
        files = {
            "notes.txt": b"plain text artifact\nsecond line\n",
            "metrics.json": json.dumps({"auc": 0.91, "classes": ["a", "b"]}).encode(),
            "config.yaml": b"lr: 0.1\nlayers: [32, 16]\n",
            "table.csv": b"name,score\nalpha,1\n\"beta, quoted\",2\n",
            "plot.png": png(),
            "shape.svg": b"<svg xmlns='http://www.w3.org/2000/svg' width='20' height='20'><rect width='20' height='20' fill='blue'/><script>window.__sf_xss=1</script></svg>",
            "model/MLmodel": b"artifact_path: model\nflavors:\n  python_function:\n    loader_module: mlflow.sklearn\n",
            XSS.replace("/", "_") + ".txt": b"hostile file name",
        }
        for name, content in files.items():
            path = os.path.join(d, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(content)
        client.log_artifacts(rid, d)
    client.set_tag(rid, "mlflow.note.content",
                   "# Notes\nSome **bold** and a [link](https://example.com) and [bad](javascript:alert(1)).\n\n" + XSS)

    # Child run.
    child = client.create_run(exp, run_name="child-run", tags={"mlflow.parentRunId": rid})
    client.set_terminated(child.info.run_id)
    summary["child_run"] = child.info.run_id

    # A hostile experiment and run: names, params, metrics, tags.
    bad_exp = client.create_experiment("evil " + XSS)
    summary["hostile_experiment_id"] = bad_exp
    bad = client.create_run(bad_exp, run_name="run " + XSS, tags={"tag-xss": XSS})
    # Keys are limited to safe characters by the API; values are not.
    client.log_param(bad.info.run_id, "p_xss", XSS)
    client.log_metric(bad.info.run_id, "m_xss", 1.0)
    client.set_tag(bad.info.run_id, "mlflow.note.content", XSS)
    client.set_terminated(bad.info.run_id)
    summary["hostile_run"] = bad.info.run_id

    # A running run for live refresh.
    live = client.create_run(exp, run_name="live-run")
    client.log_metric(live.info.run_id, "loss", 1.0, step=0)
    summary["live_run"] = live.info.run_id

    # Registry: a model with versions, stages, aliases and tags; a hostile model name.
    client.create_registered_model("ui-model", tags={"owner": "team-a"}, description="A **model**.")
    for n, r in enumerate(runs, start=1):
        client.create_model_version("ui-model", f"runs:/{r}/model", run_id=r, tags={"n": str(n)})
    client.transition_model_version_stage("ui-model", "2", "Production")
    client.set_registered_model_alias("ui-model", "champion", "2")
    hostile_model = "model " + XSS.replace("/", "_")
    client.create_registered_model(hostile_model, description=XSS)
    client.create_model_version(hostile_model, f"runs:/{bad.info.run_id}/model", run_id=bad.info.run_id,
                                description=XSS)
    summary["model"] = "ui-model"
    summary["hostile_model"] = hostile_model
    print(json.dumps(summary))


if __name__ == "__main__":
    main(sys.argv[1])
