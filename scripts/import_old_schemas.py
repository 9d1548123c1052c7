#!/usr/bin/env python3
"""`swiftflow import` reads MLflow databases left at older schema heads.

For each revision below, this builds a fresh SQLite database with MLflow's own alembic migrations
stopped at that revision (the initial tables, then `alembic upgrade REV`, as MLflow's
`_initialize_tables` does before upgrading to head), fills it with raw SQL using only the columns
that exist at that revision, imports it with `swiftflow import`, starts `swiftflow server` on the
result and checks every imported entity over the REST API against the inserted rows (with MLflow's
defaults where a column or table does not exist yet). It then imports the same database a second
time and checks nothing changed, and finally that a deleted model version's number stays taken.

Runs with the conformance venv (MLflow 3.x, which ships every migration):

    ${CONFORMANCE_VENV:-$HOME/.cache/conformance-venv}/bin/python scripts/import_old_schemas.py \
        [--binary .build/release/swiftflow] [--keep]

Exits non-zero with a diff on the first revision that does not match; prints PASS per revision.
"""

import argparse
import hashlib
import json
import logging
import math
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (alembic revision, why it was chosen). Upgraded in this order, one database copied at each stop.
# Release attributions (~) are approximate, from the migrations' dates; each revision is the last
# migration before the next schema change.
REVISIONS = [
    ("bd07f7e963c5",
     "create index on run_uuid: the head of MLflow ~1.25-1.27. No runs.deleted_time, no "
     "experiments.creation_time/last_update_time, no aliases, no datasets; runs.name left empty by "
     "MLflow of that age (the name is the mlflow.runName tag)"),
    ("cc1f77228345",
     "param value length 500: the head of MLflow ~1.28. runs.deleted_time exists, "
     "experiments.creation_time does not yet"),
    ("97727af70f4d",
     "experiments creation_time/last_update_time: the head of MLflow ~1.29 through 2.2 (incl. 2.0). "
     "No registered_model_aliases, no datasets/inputs"),
    ("3500859a5d39",
     "model aliases table: the first head with registered_model_aliases (MLflow ~2.3), still no "
     "datasets"),
    ("7f2a7d5fae7d",
     "datasets, inputs, input_tags: the first head with dataset inputs (MLflow ~2.4); inputs has no "
     "step column, no model_versions.storage_location"),
    ("6953534de441",
     "step on inputs: the MLflow ~3.0 head, with logged_models (+ params/tags/metrics) and "
     "inputs.step; before traces' V3 columns and assessments"),
    ("head",
     "the current head of the installed MLflow: workspace columns on experiments and the registry "
     "(rows outside the 'default' workspace must not be imported)"),
]

T0 = 1_700_000_000_000  # ms


class Mismatch(Exception):
    pass


# --------------------------------------------------------------------------------------------
# Building a database at a revision


def build_databases(workdir):
    """Upgrades one database revision by revision; returns {revision: path of a copy at it}."""
    try:
        import sqlalchemy
        from alembic import command
        from mlflow.store.db.utils import _get_alembic_config
        from mlflow.store.tracking.dbmodels.initial_models import Base as InitialBase
    except ImportError as e:
        sys.exit(f"{e}: run with the conformance venv's python "
                 "(${CONFORMANCE_VENV:-$HOME/.cache/conformance-venv}/bin/python), which has MLflow")

    logging.getLogger("alembic").setLevel(logging.WARNING)
    base = os.path.join(workdir, "building.db")
    url = f"sqlite:///{base}"
    engine = sqlalchemy.create_engine(url)
    InitialBase.metadata.create_all(engine)
    paths = {}
    for revision, _ in REVISIONS:
        config = _get_alembic_config(url)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
        path = os.path.join(workdir, f"mlflow-{revision}.db")
        engine.dispose()
        shutil.copy(base, path)
        paths[revision] = path
    engine.dispose()
    return paths


class Source:
    """Raw SQL inserts into an MLflow database, restricted to the columns that exist."""

    def __init__(self, path):
        self.conn = sqlite3.connect(path)
        self.tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        self.columns = {}
        for table in self.tables:
            self.columns[table] = {r[1] for r in self.conn.execute(f'PRAGMA table_info("{table}")')}
        self.revision = self.conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]

    def has(self, table, column=None):
        if column is None:
            return table in self.tables
        return column in self.columns.get(table, ())

    def insert(self, table, **row):
        row = {k: v for k, v in row.items() if self.has(table, k)}
        names = ", ".join(f'"{k}"' for k in row)
        marks = ", ".join("?" for _ in row)
        self.conn.execute(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', list(row.values()))


def rid(revision, name):
    return hashlib.md5(f"{revision}/{name}".encode()).hexdigest()


def fill(src, revision):
    """Inserts the fixture and returns what the API must show after the import."""
    exp = {}      # experiment_id -> expected experiment
    runs = {}     # run_id -> expected run
    history = {}  # (run_id, key) -> expected points
    absent_experiments, absent_runs = [], []

    def experiment(eid, name, stage, created, tags, workspace="default"):
        src.insert("experiments", experiment_id=eid, name=name, artifact_location=f"/srv/mlruns/{eid}",
                   lifecycle_stage=stage, creation_time=created, last_update_time=created + 500,
                   workspace=workspace)
        for k, v in tags.items():
            src.insert("experiment_tags", experiment_id=eid, key=k, value=v)
        has_times = src.has("experiments", "creation_time")
        return {"experiment_id": str(eid), "name": name, "artifact_location": f"/srv/mlruns/{eid}",
                "lifecycle_stage": stage,
                "creation_time": created if has_times else 0,
                "last_update_time": created + 500 if has_times else 0,
                "tags": dict(tags)}

    exp["0"] = experiment(0, "Default", "active", T0 - 10_000, {})
    exp["1"] = experiment(1, "churn", "active", T0, {"team": "growth", "mlflow.note.content": "churn model"})
    exp["2"] = experiment(2, "old-churn", "deleted", T0 + 1000, {"team": "legacy"})

    # A run as the MLflow of this revision leaves it. Older MLflow leaves runs.name empty.
    modern_names = src.has("experiments", "creation_time")

    def run(key, eid, name, stage, start, params, tags, metrics, deleted_time=None, stored_name=None):
        run_id = rid(revision, key)
        if stored_name is None:
            stored_name = name if modern_names else ""
        src.insert("runs", run_uuid=run_id, name=stored_name, source_type="LOCAL", source_name="train.py",
                   entry_point_name="", user_id="alice", status="FINISHED", start_time=start,
                   end_time=start + 60_000, source_version="abc123", lifecycle_stage=stage,
                   artifact_uri=f"/srv/mlruns/{eid}/{run_id}/artifacts", experiment_id=eid,
                   deleted_time=deleted_time)
        all_tags = {"mlflow.runName": name, "mlflow.user": "alice", "mlflow.source.name": "train.py", **tags}
        for k, v in params.items():
            src.insert("params", run_uuid=run_id, key=k, value=v)
        for k, v in all_tags.items():
            src.insert("tags", run_uuid=run_id, key=k, value=v)
        latest = {}
        for mkey, points in metrics.items():
            for (step, ts, value) in points:
                nan = isinstance(value, float) and math.isnan(value)
                src.insert("metrics", run_uuid=run_id, key=mkey, value=0.0 if nan else value, timestamp=ts,
                           step=step, is_nan=1 if nan else 0)
            # MLflow's latest: the greatest (step, timestamp, value); fixtures keep it a number.
            step, ts, value = max(points, key=lambda p: (p[0], p[1], p[2]))
            latest[mkey] = {"key": mkey, "value": value, "timestamp": ts, "step": step}
            if src.has("latest_metrics"):
                src.insert("latest_metrics", run_uuid=run_id, key=mkey, value=value, timestamp=ts, step=step,
                           is_nan=0)
            history[(run_id, mkey)] = [{"key": mkey, "value": v, "timestamp": t, "step": s}
                                       for (s, t, v) in points]
        runs[run_id] = {
            "info": {"run_id": run_id, "run_name": name, "experiment_id": str(eid), "user_id": "alice",
                     "status": "FINISHED", "start_time": start, "end_time": start + 60_000,
                     "artifact_uri": f"/srv/mlruns/{eid}/{run_id}/artifacts", "lifecycle_stage": stage},
            "params": dict(params), "tags": all_tags, "metrics": latest,
            "dataset_inputs": [], "model_inputs": [], "model_outputs": [],
            "deleted_time": deleted_time if src.has("runs", "deleted_time") else None,
        }
        return run_id

    nan = float("nan")
    r1 = run("r1", 1, "brave-owl-1", "active", T0 + 2000,
             {"lr": "0.01", "epochs": "5", "optimizer": "adam"}, {"stage": "dev"},
             {"loss": [(0, T0 + 2100, 0.9), (1, T0 + 2200, 0.7), (1, T0 + 2250, 0.69), (2, T0 + 2300, nan),
                       (3, T0 + 2400, 0.4), (4, T0 + 2500, 0.25)],
              "acc": [(0, T0 + 2100, 0.5), (1, T0 + 2200, 0.75), (2, T0 + 2300, 0.875)]})
    # An empty runs.name in any revision: the name comes from the mlflow.runName tag.
    r2 = run("r2", 1, "calm-fox-2", "deleted", T0 + 3000, {"lr": "0.1"}, {},
             {"loss": [(0, T0 + 3100, 2.5)]}, deleted_time=T0 + 9000, stored_name="")
    r3 = run("r3", 2, "dark-elk-3", "deleted", T0 + 4000, {"lr": "0.5"}, {"stage": "legacy"},
             {"loss": [(0, T0 + 4100, 1.5), (1, T0 + 4200, 1.25)]}, deleted_time=T0 + 9500)

    if src.has("datasets") and src.has("inputs"):
        ds = rid(revision, "dataset")
        src.insert("datasets", dataset_uuid=ds, experiment_id=1, name="churn-train", digest="d1g35t",
                   dataset_source_type="local", dataset_source='{"uri": "/data/churn.parquet"}',
                   dataset_schema='{"mlflow_colspec": [{"type": "double", "name": "x"}]}',
                   dataset_profile='{"num_rows": 1000}')
        inp = rid(revision, "input")
        src.insert("inputs", input_uuid=inp, source_type="DATASET", source_id=ds, destination_type="RUN",
                   destination_id=r1)
        if src.has("input_tags"):
            src.insert("input_tags", input_uuid=inp, name="mlflow.data.context", value="training")
        runs[r1]["dataset_inputs"].append({
            "dataset": {"name": "churn-train", "digest": "d1g35t", "source_type": "local",
                        "source": '{"uri": "/data/churn.parquet"}',
                        "schema": '{"mlflow_colspec": [{"type": "double", "name": "x"}]}',
                        "profile": '{"num_rows": 1000}'},
            "tags": {"mlflow.data.context": "training"} if src.has("input_tags") else {}})

    logged = {}
    if src.has("logged_models"):
        mid = "m-" + rid(revision, "logged-model")
        src.insert("logged_models", model_id=mid, experiment_id=1, name="churn-model",
                   artifact_location=f"/srv/mlruns/1/models/{mid}/artifacts", creation_timestamp_ms=T0 + 2600,
                   last_updated_timestamp_ms=T0 + 2700, status=2, lifecycle_stage="active", model_type="sklearn",
                   source_run_id=r1, status_message=None)
        src.insert("logged_model_params", model_id=mid, experiment_id=1, param_key="C", param_value="1.0")
        src.insert("logged_model_tags", model_id=mid, experiment_id=1, tag_key="mlflow.source.type",
                   tag_value="LOCAL")
        src.insert("logged_model_metrics", model_id=mid, metric_name="auc", metric_timestamp_ms=T0 + 2650,
                   metric_step=4, metric_value=0.91, experiment_id=1, run_id=r1)
        src.insert("inputs", input_uuid=rid(revision, "model-output"), source_type="RUN_OUTPUT", source_id=r1,
                   destination_type="MODEL_OUTPUT", destination_id=mid, step=4)
        src.insert("inputs", input_uuid=rid(revision, "model-input"), source_type="RUN_INPUT", source_id=r2,
                   destination_type="MODEL_INPUT", destination_id=mid)
        runs[r1]["model_outputs"].append({"model_id": mid, "step": 4 if src.has("inputs", "step") else 0})
        runs[r2]["model_inputs"].append({"model_id": mid})
        logged[mid] = {"model_id": mid, "experiment_id": "1", "name": "churn-model",
                       "artifact_uri": f"/srv/mlruns/1/models/{mid}/artifacts",
                       "creation_timestamp_ms": T0 + 2600, "last_updated_timestamp_ms": T0 + 2700,
                       "status": "LOGGED_MODEL_READY", "model_type": "sklearn", "source_run_id": r1,
                       "params": {"C": "1.0"}, "tags": {"mlflow.source.type": "LOCAL"},
                       "metrics": [{"key": "auc", "value": 0.91, "timestamp": T0 + 2650, "step": 4, "run_id": r1}]}

    # The registry: version 1 live, version 2 deleted (MLflow keeps its row, and its tags).
    model = "churn-classifier"
    src.insert("registered_models", name=model, creation_time=T0 + 5000, last_updated_time=T0 + 7000,
               description="predicts churn", workspace="default")
    src.insert("registered_model_tags", name=model, key="owner", value="growth", workspace="default")
    src.insert("model_versions", name=model, version=1, creation_time=T0 + 5000, last_updated_time=T0 + 6000,
               description="first", user_id="alice", current_stage="Production",
               source=f"/srv/mlruns/1/{r1}/artifacts/model", run_id=r1, status="READY", status_message=None,
               run_link="", storage_location=f"/srv/mlruns/1/{r1}/artifacts/model", workspace="default")
    src.insert("model_versions", name=model, version=2, creation_time=T0 + 5500, last_updated_time=T0 + 7000,
               description=None, user_id=None, current_stage="Deleted_Internal", source="REDACTED-SOURCE-PATH",
               run_id="REDACTED-RUN-ID", status="READY", status_message=None, run_link="REDACTED-RUN-LINK",
               workspace="default")
    src.insert("model_version_tags", name=model, version=1, key="validated", value="yes", workspace="default")
    src.insert("model_version_tags", name=model, version=2, key="validated", value="no", workspace="default")
    aliases = {}
    if src.has("registered_model_aliases"):
        src.insert("registered_model_aliases", name=model, alias="champion", version=1, workspace="default")
        aliases = {"champion": "1"}
    registry = {
        "name": model, "description": "predicts churn", "creation_timestamp": T0 + 5000,
        "last_updated_timestamp": T0 + 7000, "tags": {"owner": "growth"}, "aliases": aliases,
        "versions": {"1": {"name": model, "version": "1", "creation_timestamp": T0 + 5000,
                           "last_updated_timestamp": T0 + 6000, "description": "first", "user_id": "alice",
                           "current_stage": "Production", "source": f"/srv/mlruns/1/{r1}/artifacts/model",
                           "run_id": r1, "status": "READY", "run_link": "", "tags": {"validated": "yes"},
                           "aliases": sorted(aliases)}},
        "deleted_versions": ["2"],
    }

    # At heads with workspaces: another workspace's experiment, run and a same-named model stay out.
    if src.has("experiments", "workspace"):
        experiment(3, "churn", "active", T0 + 100, {"team": "other"}, workspace="team-b")
        other = rid(revision, "other-run")
        src.insert("runs", run_uuid=other, name="other", status="FINISHED", start_time=T0, lifecycle_stage="active",
                   artifact_uri="/srv/other", experiment_id=3, user_id="bob")
        absent_experiments.append("3")
        absent_runs.append(other)
        src.insert("registered_models", name=model, creation_time=T0, last_updated_time=T0, description="other",
                   workspace="team-b")
        for v in (1, 2, 3):
            src.insert("model_versions", name=model, version=v, creation_time=T0, last_updated_time=T0,
                       current_stage="None", source="/srv/other", status="READY", workspace="team-b")
        src.insert("model_version_tags", name=model, version=1, key="validated", value="other", workspace="team-b")
        src.insert("registered_model_tags", name=model, key="owner", value="team-b", workspace="team-b")
        src.insert("registered_model_aliases", name=model, alias="champion", version=3, workspace="team-b")
        src.insert("registered_model_aliases", name=model, alias="other-alias", version=2, workspace="team-b")

    src.conn.commit()
    src.conn.close()
    return {"experiments": exp, "runs": runs, "history": history, "registry": registry, "logged": logged,
            "absent_experiments": absent_experiments, "absent_runs": absent_runs}


# --------------------------------------------------------------------------------------------
# The server and its API


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, binary, db, workdir, tag):
        self.port = free_port()
        self.log_path = os.path.join(workdir, f"server-{tag}.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [binary, "server", "--backend-store-uri", f"sqlite:///{db}", "--host", "127.0.0.1",
             "--port", str(self.port), "--default-artifact-root", os.path.join(workdir, "artifacts")],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=workdir)
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + 30
        while True:
            if self.proc.poll() is not None:
                raise Mismatch(f"server exited with {self.proc.returncode}:\n{open(self.log_path).read()}")
            try:
                with urllib.request.urlopen(self.base + "/health", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if time.time() > deadline:
                self.stop()
                raise Mismatch("server did not answer /health within 30s")
            time.sleep(0.05)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def call(self, method, path, params=None, body=None, expect_error=None):
        url = f"{self.base}/api/2.0/mlflow/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"} if data else {})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                payload = json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            text = e.read().decode(errors="replace")
            try:
                payload = json.loads(text)
            except ValueError:
                payload = {"raw": text}
            if expect_error and payload.get("error_code") == expect_error:
                return payload
            raise Mismatch(f"{method} {path} {params or body or ''} -> HTTP {e.code}: {text}")
        if expect_error:
            raise Mismatch(f"{method} {path} {params or body or ''}: expected {expect_error}, got {payload}")
        return payload

    def get(self, path, expect_error=None, **params):
        return self.call("GET", path, params=params, expect_error=expect_error)

    def post(self, path, body):
        return self.call("POST", path, body=body)


def kv(items):
    return {t["key"]: t.get("value", "") for t in items or []}


def num(v):
    """A metric value as the API writes it: a JSON number, or "NaN"/"Infinity" strings."""
    if isinstance(v, str):
        return float(v)
    return v


def same_number(a, b):
    try:
        a, b = num(a), num(b)
    except (TypeError, ValueError):
        return False
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return a == b


class Checker:
    def __init__(self, revision):
        self.revision = revision
        self.problems = []

    def eq(self, what, expected, actual):
        if isinstance(expected, float) or (isinstance(actual, float) and isinstance(expected, int)):
            ok = same_number(expected, actual)
        else:
            ok = expected == actual
        if not ok:
            self.problems.append(f"{what}:\n    expected {expected!r}\n    got      {actual!r}")

    def fail_if_any(self):
        if self.problems:
            raise Mismatch(f"{len(self.problems)} mismatch(es) at revision {self.revision}:\n  "
                           + "\n  ".join(self.problems))


def search_runs(server, experiment_ids, view_type):
    ids, token = [], None
    while True:
        body = {"experiment_ids": experiment_ids, "run_view_type": view_type, "max_results": 1000}
        if token:
            body["page_token"] = token
        page = server.post("runs/search", body)
        ids += [r["info"]["run_id"] for r in page.get("runs", [])]
        token = page.get("next_page_token")
        if not token:
            return sorted(ids)


def snapshot(server, expected):
    """Everything the API shows of the fixture, normalized for comparison."""
    snap = {"experiments": {}, "runs": {}, "history": {}}
    for eid in expected["experiments"]:
        e = server.get("experiments/get", experiment_id=eid)["experiment"]
        snap["experiments"][eid] = {
            "experiment_id": e.get("experiment_id"), "name": e.get("name"),
            "artifact_location": e.get("artifact_location", ""), "lifecycle_stage": e.get("lifecycle_stage"),
            "creation_time": int(e.get("creation_time", 0)), "last_update_time": int(e.get("last_update_time", 0)),
            "tags": kv(e.get("tags"))}
    searched = server.post("experiments/search", {"view_type": "ALL", "max_results": 1000})
    snap["experiment_ids"] = sorted(e["experiment_id"] for e in searched.get("experiments", []))
    all_exp = sorted(expected["experiments"])
    snap["run_ids_all"] = search_runs(server, all_exp, "ALL")
    snap["run_ids_active"] = search_runs(server, all_exp, "ACTIVE_ONLY")
    snap["run_ids_deleted"] = search_runs(server, all_exp, "DELETED_ONLY")
    for run_id in expected["runs"]:
        r = server.get("runs/get", run_id=run_id)["run"]
        info, data = r["info"], r.get("data", {})
        inputs, outputs = r.get("inputs", {}), r.get("outputs", {})
        snap["runs"][run_id] = {
            "info": {k: info.get(k, "") for k in ("run_id", "run_name", "experiment_id", "user_id", "status",
                                                   "artifact_uri", "lifecycle_stage")}
            | {k: int(info[k]) if k in info else None for k in ("start_time", "end_time")},
            "params": kv(data.get("params")), "tags": kv(data.get("tags")),
            "metrics": {m["key"]: {"key": m["key"], "value": num(m.get("value", 0)),
                                   "timestamp": int(m.get("timestamp", 0)), "step": int(m.get("step", 0))}
                        for m in data.get("metrics", [])},
            "dataset_inputs": [{"dataset": {k: d["dataset"].get(k) for k in
                                            ("name", "digest", "source_type", "source", "schema", "profile")},
                                "tags": kv(d.get("tags"))} for d in inputs.get("dataset_inputs", [])],
            "model_inputs": [{"model_id": m.get("model_id")} for m in inputs.get("model_inputs", [])],
            "model_outputs": [{"model_id": m.get("model_id"), "step": int(m.get("step", 0))}
                              for m in outputs.get("model_outputs", [])],
        }
    for (run_id, key) in expected["history"]:
        points = server.get("metrics/get-history", run_id=run_id, metric_key=key, max_results=25000)
        snap["history"][f"{run_id}/{key}"] = sorted(
            ({"key": p["key"], "value": num(p.get("value", 0)), "timestamp": int(p.get("timestamp", 0)),
              "step": int(p.get("step", 0))} for p in points.get("metrics", [])),
            key=lambda p: (p["step"], p["timestamp"]))

    reg = expected["registry"]
    m = server.get("registered-models/get", name=reg["name"])["registered_model"]
    snap["model"] = {
        "name": m.get("name"), "description": m.get("description", ""),
        "creation_timestamp": int(m.get("creation_timestamp", 0)),
        "last_updated_timestamp": int(m.get("last_updated_timestamp", 0)), "tags": kv(m.get("tags")),
        "aliases": {a["alias"]: a["version"] for a in m.get("aliases", [])},
        "latest_versions": sorted((v["version"], v.get("current_stage")) for v in m.get("latest_versions", []))}
    snap["versions"] = {}
    for version in reg["versions"]:
        v = server.get("model-versions/get", name=reg["name"], version=version)["model_version"]
        snap["versions"][version] = {
            "name": v.get("name"), "version": v.get("version"),
            "creation_timestamp": int(v.get("creation_timestamp", 0)),
            "last_updated_timestamp": int(v.get("last_updated_timestamp", 0)),
            "description": v.get("description", ""), "user_id": v.get("user_id", ""),
            "current_stage": v.get("current_stage"), "source": v.get("source", ""), "run_id": v.get("run_id", ""),
            "status": v.get("status"), "run_link": v.get("run_link", ""), "tags": kv(v.get("tags")),
            "aliases": sorted(v.get("aliases", []))}
    snap["deleted_versions"] = {
        version: server.get("model-versions/get", name=reg["name"], version=version,
                            expect_error="RESOURCE_DOES_NOT_EXIST")["error_code"]
        for version in reg["deleted_versions"]}
    snap["alias_lookup"] = {
        alias: server.get("registered-models/alias", name=reg["name"], alias=alias)["model_version"]["version"]
        for alias in reg["aliases"]}
    found = server.get("model-versions/search", filter=f"name='{reg['name']}'", max_results=1000)
    snap["searched_versions"] = sorted(v["version"] for v in found.get("model_versions", []))
    snap["model_names"] = sorted(
        r["name"] for r in server.get("registered-models/search", max_results=1000).get("registered_models", []))

    snap["logged"] = {}
    for mid in expected["logged"]:
        lm = server.get(f"logged-models/{mid}")["model"]
        info, data = lm["info"], lm.get("data", {})
        snap["logged"][mid] = {
            **{k: info.get(k) for k in ("model_id", "experiment_id", "name", "artifact_uri", "status", "model_type",
                                        "source_run_id")},
            "creation_timestamp_ms": int(info.get("creation_timestamp_ms", 0)),
            "last_updated_timestamp_ms": int(info.get("last_updated_timestamp_ms", 0)),
            "params": kv(data.get("params")), "tags": kv(info.get("tags")),
            "metrics": [{"key": x.get("key"), "value": x.get("value"), "timestamp": int(x.get("timestamp", 0)),
                         "step": int(x.get("step", 0)), "run_id": x.get("run_id")} for x in data.get("metrics", [])]}
    snap["absent"] = {
        **{f"experiment {e}": server.get("experiments/get", experiment_id=e,
                                         expect_error="RESOURCE_DOES_NOT_EXIST")["error_code"]
           for e in expected["absent_experiments"]},
        **{f"run {r}": server.get("runs/get", run_id=r, expect_error="RESOURCE_DOES_NOT_EXIST")["error_code"]
           for r in expected["absent_runs"]}}
    return snap


def verify(check, snap, expected, target_db):
    for eid, e in expected["experiments"].items():
        for k, v in e.items():
            check.eq(f"experiment {eid} {k}", v, snap["experiments"][eid][k])
    check.eq("experiments/search ALL ids", sorted(expected["experiments"]), snap["experiment_ids"])
    runs = expected["runs"]
    check.eq("runs/search ALL ids", sorted(runs), snap["run_ids_all"])
    check.eq("runs/search ACTIVE_ONLY ids",
             sorted(r for r, x in runs.items() if x["info"]["lifecycle_stage"] == "active"), snap["run_ids_active"])
    check.eq("runs/search DELETED_ONLY ids",
             sorted(r for r, x in runs.items() if x["info"]["lifecycle_stage"] == "deleted"), snap["run_ids_deleted"])
    for run_id, r in runs.items():
        got = snap["runs"][run_id]
        for k, v in r["info"].items():
            check.eq(f"run {run_id} info.{k}", v, got["info"][k])
        check.eq(f"run {run_id} params", r["params"], got["params"])
        check.eq(f"run {run_id} tags", r["tags"], got["tags"])
        check.eq(f"run {run_id} latest metrics keys", sorted(r["metrics"]), sorted(got["metrics"]))
        for mkey, m in r["metrics"].items():
            for k, v in m.items():
                check.eq(f"run {run_id} latest {mkey}.{k}", v, got["metrics"].get(mkey, {}).get(k))
        for k in ("dataset_inputs", "model_inputs", "model_outputs"):
            check.eq(f"run {run_id} {k}", r[k], got[k])
    for (run_id, key), points in expected["history"].items():
        got = snap["history"][f"{run_id}/{key}"]
        check.eq(f"history {run_id}/{key} length", len(points), len(got))
        for p, q in zip(sorted(points, key=lambda p: (p["step"], p["timestamp"])), got):
            for k in p:
                check.eq(f"history {run_id}/{key} step {p['step']} ts {p['timestamp']} {k}", p[k], q[k])

    reg = expected["registry"]
    m = snap["model"]
    for k in ("name", "description", "creation_timestamp", "last_updated_timestamp", "tags", "aliases"):
        check.eq(f"registered model {k}", reg[k], m[k])
    check.eq("registered model latest_versions",
             sorted((v, x["current_stage"]) for v, x in reg["versions"].items()), m["latest_versions"])
    for version, v in reg["versions"].items():
        for k, val in v.items():
            check.eq(f"model version {version} {k}", val, snap["versions"][version][k])
    for version in reg["deleted_versions"]:
        check.eq(f"deleted model version {version}", "RESOURCE_DOES_NOT_EXIST", snap["deleted_versions"][version])
    check.eq("registered-models/alias", reg["aliases"], snap["alias_lookup"])
    check.eq("model-versions/search versions", sorted(reg["versions"]), snap["searched_versions"])
    check.eq("registered-models/search names", [reg["name"]], snap["model_names"])
    for mid, lm in expected["logged"].items():
        for k, v in lm.items():
            check.eq(f"logged model {mid} {k}", v, snap["logged"][mid][k])

    # runs.deleted_time is not on the wire; read it from the target (read-only).
    conn = sqlite3.connect(f"file:{target_db}?mode=ro", uri=True)
    try:
        for run_id, r in runs.items():
            row = conn.execute("SELECT deleted_time FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            check.eq(f"run {run_id} deleted_time (target db)", r["deleted_time"], row[0] if row else "<no row>")
    finally:
        conn.close()


# --------------------------------------------------------------------------------------------


def run_import(binary, source, target, workdir, label):
    cmd = [binary, "import", "--from", f"sqlite:///{source}", "--to", f"sqlite:///{target}", "--no-progress"]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=workdir, timeout=120)
    if p.returncode != 0:
        raise Mismatch(f"{label}: `{' '.join(cmd)}` exited {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p.stdout + p.stderr


def diff_snapshots(a, b, path=""):
    out = []
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if k not in a or k not in b:
                out.append(f"{path}/{k}: {'missing before' if k not in a else 'missing after'}")
            else:
                out += diff_snapshots(a[k], b[k], f"{path}/{k}")
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            out += diff_snapshots(x, y, f"{path}[{i}]")
    elif not (a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))):
        out.append(f"{path}: before {a!r}, after {b!r}")
    return out


def check_revision(binary, revision, source, workdir):
    src = Source(source)
    actual_revision = src.revision
    expected = fill(src, revision)
    target = os.path.join(workdir, f"swiftflow-{revision}.db")
    first = run_import(binary, source, target, workdir, f"{revision}: first import")

    server = Server(binary, target, workdir, f"{revision}-1")
    try:
        before = snapshot(server, expected)
    finally:
        server.stop()
    check = Checker(f"{revision} (alembic_version {actual_revision})")
    verify(check, before, expected, target)
    if check.problems:
        check.problems.append(f"import output:\n{first}")
    check.fail_if_any()

    second = run_import(binary, source, target, workdir, f"{revision}: second import")
    server = Server(binary, target, workdir, f"{revision}-2")
    try:
        after = snapshot(server, expected)
        changes = diff_snapshots(before, after)
        if changes:
            raise Mismatch(f"revision {revision}: importing again changed what the API shows:\n  "
                           + "\n  ".join(changes) + f"\nsecond import output:\n{second}")
        # The deleted version's number stays taken: the next version is 3, not 2.
        reg = expected["registry"]
        run_id = next(iter(expected["runs"]))
        artifact_uri = expected["runs"][run_id]["info"]["artifact_uri"]
        created = server.post("model-versions/create", {
            "name": reg["name"], "source": f"{artifact_uri}/model", "run_id": run_id})["model_version"]
        if created.get("version") != "3":
            raise Mismatch(f"revision {revision}: a new version of {reg['name']} after the import is "
                           f"{created.get('version')!r}; expected '3' (version 2 was deleted in MLflow, its "
                           "number stays taken)")
    finally:
        server.stop()
    return actual_revision


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", default=os.path.join(REPO, ".build", "release", "swiftflow"))
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)
    if not os.access(binary, os.X_OK):
        sys.exit(f"no swiftflow binary at {binary} (swift build -c release --product swiftflow)")

    started = time.time()
    workdir = tempfile.mkdtemp(prefix="import-old-schemas-")
    failed = False
    try:
        sources = build_databases(workdir)
        print(f"built {len(sources)} MLflow databases in {time.time() - started:.1f}s ({workdir})")
        for revision, why in REVISIONS:
            t = time.time()
            try:
                actual = check_revision(binary, revision, sources[revision], workdir)
            except Mismatch as e:
                failed = True
                print(f"FAIL {revision}: {why}\n{e}\n", flush=True)
                continue
            label = revision if revision == actual else f"{revision} ({actual})"
            print(f"PASS {label} [{time.time() - t:.1f}s]: {why}", flush=True)
    finally:
        if args.keep or failed:
            print(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"{'FAILED' if failed else 'all passed'} in {time.time() - started:.1f}s")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
