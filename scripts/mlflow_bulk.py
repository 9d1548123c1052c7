#!/usr/bin/env python3
"""Writes a large MLflow SQLite database directly, in MLflow's own schema, much faster than its REST API.

    mlflow_bulk.py OUT.db [--runs N] [--params P] [--metrics M] [--steps S] [--experiments E]
                   [--seed SEED] [--check-official]

Run with the conformance venv's Python (it needs mlflow). The schema comes from MLflow itself:
`SqlAlchemyStore(sqlite:///OUT.db, "mlflow-artifacts:/")` runs every migration and inserts the
`Default` experiment (id 0) as `mlflow server` does, and `create_experiment` adds E experiments
(`bulk-0`, `bulk-1`, ... with ids 1..E and artifact locations `mlflow-artifacts:/<id>`, as a server
with `--artifacts-destination` gives them). The runs are then inserted with sqlite3 in bulk, with the
values MLflow's `SqlAlchemyStore.create_run`, `log_batch` and `set_terminated` write:

  runs            run_uuid (uuid4 hex), name, source_type UNKNOWN, source_name '', entry_point_name '',
                  user_id, status FINISHED, start_time, end_time, source_version '', lifecycle_stage
                  active, artifact_uri `<experiment artifact_location>/<run_uuid>/artifacts`,
                  experiment_id, deleted_time NULL
  tags            mlflow.runName (= runs.name), mlflow.user, mlflow.source.name, mlflow.source.type
  params          p0..p{P-1}, values `value-<run>-<i>`
  metrics         m0..m{M-1} at steps 0..S-1, timestamp start_time + step, is_nan 0
  latest_metrics  per key the point with the greatest (step, timestamp, value), as
                  `_update_latest_metrics_if_necessary` keeps it

Runs are spread round-robin over the E experiments; run i starts at 1,700,000,000,000 + 1000 i ms.
Everything derives from the arguments and the seed, so one set of arguments gives the same database.
`--check-official` then starts `mlflow server` on the file and checks one runs/search and one
metrics/get-history against the generated values (the data is valid MLflow data).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

BASE_TIME = 1_700_000_000_000
USER = "bulk-user"
SOURCE = "bulk_generator.py"


def run_id(rng: random.Random) -> str:
    return uuid.UUID(int=rng.getrandbits(128), version=4).hex


def metric_value(run: int, metric: int, step: int) -> float:
    # Deterministic, varied, exactly representable in JSON round trips (repr of a Python float).
    return round(((run * 7 + metric * 13 + step * 17) % 1000) / 997.0 + metric, 6)


def generate(path: str, runs: int, params: int, metrics: int, steps: int, experiments: int,
             seed: int = 1, quiet: bool = False) -> dict:
    """Creates PATH (must not exist) and fills it; returns the counts written."""
    if os.path.exists(path):
        raise SystemExit(f"{path} exists")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import logging

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    t0 = time.time()
    store = SqlAlchemyStore(f"sqlite:///{os.path.abspath(path)}", "mlflow-artifacts:/")
    exp_ids = [store.create_experiment(f"bulk-{e}") for e in range(experiments)]
    locations = {e: store.get_experiment(e).artifact_location for e in exp_ids}
    store.engine.dispose()
    if not quiet:
        print(f"schema and {experiments} experiments in {time.time() - t0:.1f} s", flush=True)

    rng = random.Random(seed)
    ids = [run_id(rng) for _ in range(runs)]
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    db.execute("PRAGMA cache_size = -262144")
    t1 = time.time()

    def run_rows():
        for i, rid in enumerate(ids):
            exp = exp_ids[i % len(exp_ids)]
            start = BASE_TIME + 1000 * i
            yield (rid, f"run-{i:06d}", "UNKNOWN", "", "", USER, "FINISHED", start, start + steps + 500, "",
                   "active", f"{locations[exp]}/{rid}/artifacts", int(exp), None)

    db.executemany(
        "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, "
        "start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id, deleted_time) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", run_rows())

    def tag_rows():
        for i, rid in enumerate(ids):
            yield ("mlflow.runName", f"run-{i:06d}", rid)
            yield ("mlflow.user", USER, rid)
            yield ("mlflow.source.name", SOURCE, rid)
            yield ("mlflow.source.type", "LOCAL", rid)

    db.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)", tag_rows())
    db.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)",
                   ((f"p{p}", f"value-{i}-{p}", rid) for i, rid in enumerate(ids) for p in range(params)))

    def metric_rows():
        for i, rid in enumerate(ids):
            start = BASE_TIME + 1000 * i
            for m in range(metrics):
                key = f"m{m}"
                for s in range(steps):
                    yield (key, metric_value(i, m, s), start + s, rid, s, 0)

    db.executemany("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, ?)",
                   metric_rows())

    def latest_rows():
        for i, rid in enumerate(ids):
            start = BASE_TIME + 1000 * i
            s = steps - 1
            for m in range(metrics):
                if steps:
                    yield (f"m{m}", metric_value(i, m, s), start + s, s, 0, rid)

    db.executemany("INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES (?, ?, ?, ?, ?, ?)",
                   latest_rows())
    db.commit()
    db.execute("PRAGMA journal_mode = DELETE")
    db.close()
    counts = {"experiments": experiments + 1, "runs": runs, "params": runs * params, "tags": runs * 4,
              "metrics": runs * metrics * steps, "latest_metrics": runs * metrics if steps else 0}
    if not quiet:
        print(f"{runs} runs, {counts['params']} params, {counts['metrics']} metric points in "
              f"{time.time() - t1:.1f} s", flush=True)
    return counts


def table_counts(path: str) -> dict:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("experiments", "runs", "params", "tags", "metrics", "latest_metrics")}
    finally:
        db.close()


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _post(url: str, body: dict) -> dict:
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.load(r)


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=120) as r:
        return json.load(r)


def check_official(path: str, runs: int, params: int, metrics: int, steps: int, experiments: int,
                   seed: int = 1) -> None:
    """`mlflow server` on PATH: one runs/search and one get-history, against the generated values."""
    mlflow_cli = os.path.join(os.path.dirname(sys.executable), "mlflow")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="mlflow-bulk-check.") as tmp:
        env = dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false", MLFLOW_DISABLE_TELEMETRY="true",
                   DO_NOT_TRACK="true")
        log = open(os.path.join(tmp, "server.log"), "w")
        proc = subprocess.Popen([mlflow_cli, "server", "--backend-store-uri", f"sqlite:///{os.path.abspath(path)}",
                                 "--artifacts-destination", os.path.join(tmp, "artifacts"), "--host", "127.0.0.1",
                                 "--port", str(port), "--workers", "1"],
                                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            deadline = time.time() + 120
            while True:
                try:
                    urllib.request.urlopen(url + "/health", timeout=2).read()
                    break
                except Exception:
                    if proc.poll() is not None or time.time() > deadline:
                        log.flush()
                        raise SystemExit("official server did not start:\n" + open(log.name).read()[-3000:])
                    time.sleep(0.3)
            rng = random.Random(seed)
            ids = [run_id(rng) for _ in range(runs)]
            # The newest run of experiment 1 comes first in the default order (start_time DESC).
            last_in_exp1 = max(i for i in range(runs) if i % experiments == 0)
            t = time.time()
            page = _post(url + "/api/2.0/mlflow/runs/search",
                         {"experiment_ids": ["1"], "max_results": 100, "filter": "params.p0 LIKE 'value-%'"})
            search_s = time.time() - t
            first = page["runs"][0]
            problems = []
            expected_in_exp1 = len(range(0, runs, experiments))
            if len(page["runs"]) != min(100, expected_in_exp1):
                problems.append(f"runs/search gave {len(page['runs'])} runs, expected {min(100, expected_in_exp1)}")
            if first["info"]["run_id"] != ids[last_in_exp1]:
                problems.append(f"first run {first['info']['run_id']}, expected {ids[last_in_exp1]}")
            latest = {m["key"]: m for m in first["data"].get("metrics", [])}
            for m in range(metrics):
                want = metric_value(last_in_exp1, m, steps - 1)
                got = latest.get(f"m{m}", {}).get("value")
                if steps and got != want:
                    problems.append(f"latest m{m}: {got}, expected {want}")
            got_params = {p["key"]: p["value"] for p in first["data"].get("params", [])}
            if got_params != {f"p{p}": f"value-{last_in_exp1}-{p}" for p in range(params)}:
                problems.append(f"params differ: {sorted(got_params.items())[:3]}...")
            t = time.time()
            hist = _get(f"{url}/api/2.0/mlflow/metrics/get-history?run_id={ids[0]}&metric_key=m0")["metrics"]
            hist_s = time.time() - t
            want_hist = [(s, BASE_TIME + s, metric_value(0, 0, s)) for s in range(steps)]
            got_hist = [(int(p["step"]), int(p["timestamp"]), p["value"]) for p in hist]
            if got_hist != want_hist:
                problems.append(f"get-history of run 0 / m0: {len(got_hist)} points, first {got_hist[:2]}, "
                                f"expected {len(want_hist)}, first {want_hist[:2]}")
            if problems:
                raise SystemExit("official server check FAILED:\n  " + "\n  ".join(problems))
            print(f"official server check: runs/search ({len(page['runs'])} runs, {search_s:.2f} s) and "
                  f"get-history ({len(hist)} points, {hist_s:.2f} s) match the generated data")
        finally:
            os.killpg(proc.pid, 15)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait()
            log.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--params", type=int, default=10)
    ap.add_argument("--metrics", type=int, default=5)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--experiments", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--check-official", action="store_true")
    a = ap.parse_args()
    generate(a.out, a.runs, a.params, a.metrics, a.steps, a.experiments, a.seed)
    if a.check_official:
        check_official(a.out, a.runs, a.params, a.metrics, a.steps, a.experiments, a.seed)


if __name__ == "__main__":
    main()
