#!/usr/bin/env python3
"""Acceptance test of `swiftflow import`: MLflow's data, read back through both servers, must be the same.

    scripts/import_compare.py [BINARY] [--pg-url URL] [--keep] [--cases sqlite,file,auth,resume,refusal,postgres]
                              [--self-test] [--resume-runs N] [--kills K] [--seed S]

BINARY defaults to .build/release/swiftflow. Run it with the conformance venv's Python
(${CONFORMANCE_VENV:-~/.cache/conformance-venv}; the script re-runs itself with it when `mlflow` cannot
be imported). Takes about three minutes on two cores.

Cases (each prints PASS or FAIL; the exit status is 1 when any failed):

  sqlite    `mlflow server` (3.17.2) on a fresh SQLite store with --artifacts-destination A is filled through
            the official client (see `populate`), stopped, and `swiftflow import --from sqlite:///… --to
            sqlite:///…` copies it. `swiftflow server` on the result with --artifacts-destination A and the
            official server restarted on the original answer the same REST requests (see `build_plan`), compared
            field by field. Then the import again into the same target (exit 0, the comparison holds again:
            nothing duplicated); `--dry-run` into a fresh target (exit 0, no run written); and with
            `--copy-artifacts --artifacts-to B` into a third target, served from B: the artifact answers and
            every file's bytes match.
  file      The same with the official server on a file store (`--backend-store-uri /path/mlruns`, which
            MLflow 3.17.2 refuses unless MLFLOW_ALLOW_FILE_STORE=true) and `--from /path/mlruns`; the
            population adds a metric point logged twice with the same timestamp, step and value.
  postgres  With --pg-url (a PostgreSQL server whose user may create databases, e.g. the URL printed by
            scripts/postgres.sh start): the official server on a new database, imported into another one.
  auth      The official server with --app-name basic-auth (its users and permissions in a SQLite file of
            their own): users (one admin by update-admin, one with a changed password, one deleted), per-user
            grants on experiments and registered models (some made by creating them as the user, which gives
            MANAGE), a role with pattern grants assigned to a user. Imported with --auth-from/--auth-to, our
            server started with --app-name basic-auth on the result; users, roles, grants and effective
            permissions compared through the auth API as the admin, then each user signs in with the password
            set on the official server and their answers (own user, visible experiments and models, a
            denied read) are compared.
  resume    A bigger store written directly in MLflow's schema (scripts/mlflow_bulk.py, checked first against
            the official server), imported once into a scratch target to learn how long it takes, then into the
            real target while being SIGKILLed after a random delay several times (--kills), then to
            completion, then once more. Every run's search answer, and a sample of runs with the full history
            of every metric, must match the official server's.
  refusal   A target holding an experiment named like one of the source's but with another id, then a target
            holding the source's experiment id under another name: the import must exit non-zero, name the
            experiment in its message, and leave every row of the target as it was.

--self-test proves the harness without the import: "our" server is the official one on a copy of the store
(the file copied, the folder copied, the database cloned with CREATE DATABASE … TEMPLATE), so every comparison
must pass; cases that need the importer itself (idempotence, dry run, copy-artifacts, resume, refusal) are
skipped.

What is compared, and what is not (each exclusion and its reason):
  * Every REST answer in the plan, as parsed JSON, strictly (NaN compared equal to NaN). Errors (lookups of
    deleted or renamed things) too: HTTP status and body.
  * `next_page_token` is never compared as text: each server's own token is followed, and the number of pages,
    their sizes and their items are compared. Tokens are opaque; Swiftflow's add the last row's sort key to
    MLflow's offset (README), so the strings differ by design.
  * Order within collections that MLflow does not order: `tags`, `params`, the latest `metrics` of a run or a
    logged model, `aliases`, `latest_versions`, dataset input `tags`, `dataset_inputs`, `model_inputs`,
    `model_outputs`, the `model_versions` of get-latest-versions, the `dataset_summaries` of
    search-datasets. MLflow's SQL store loads them through ORM relationships or a query without ORDER BY
    (the database's order), its file store from directory listings and Python sets (a copied mlruns folder
    answers in another order). They are compared as sorted lists; when only the order differs, a NOTE is
    printed and the case does not fail.
  * File-store source only, where MLflow's file store answers differently from MLflow's own SQL store for
    the same data (our server keeps an SQL store, so it answers as MLflow's SQL store does):
    - a metric history is compared sorted by (timestamp, step, value) with identical points collapsed: the
      file store returns the lines in the order they were appended and keeps a point logged twice; an SQL
      store answers ordered by timestamp, step, value and keeps one row per identical point (its primary key
      includes the value);
    - `run_id` is dropped from a run's metric objects (latest metrics, history points): the file store adds
      it, MLflow's SQL store does not (logged models' metrics, which carry `model_id`, keep it);
    - +-Infinity and +-1.7976931348623157e308 are read as the same value: MLflow's SQL store keeps an
      infinite metric as the largest double and answers that, the file store keeps "inf";
    - error answers are compared by status and error_code, not message: the file store words its errors
      differently ("Could not find experiment with ID 5" against "No Experiment with id=5 exists");
    - `aliases` of a model version inside `latest_versions` and model-versions/search answers are dropped: the
      file store fills them there, MLflow's SQL store does not (aliases are still compared through
      registered-models/get, model-versions/get and registered-models/alias).
  Nothing else is normalised: ids, names, times, artifact URIs, statuses, lifecycle stages, sources, run links,
  user ids must all be equal.

(`mlflow migrate-filestore`, MLflow's own file-store-to-SQLite tool, would be a natural reference for the file
case, but 3.17.2 stops with an IntegrityError on a metric point logged twice, which the file store allows.)
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("CONFORMANCE_VENV", str(Path.home() / ".cache/conformance-venv")))

try:
    import mlflow  # noqa: F401
    import requests
except ImportError:
    venv_python = VENV / "bin/python"
    if venv_python.exists() and Path(sys.executable).resolve() != venv_python.resolve():
        os.execv(str(venv_python), [str(venv_python), *sys.argv])
    raise

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
os.environ.setdefault("MLFLOW_SKIP_PIP_REQUIREMENTS_CHECK", "true")
import logging  # noqa: E402
import warnings  # noqa: E402

warnings.filterwarnings("ignore")
os.environ.setdefault("PYTHONWARNINGS", "ignore")
logging.getLogger("mlflow").setLevel(logging.ERROR)

import mlflow.pyfunc  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric, Param, RunTag  # noqa: E402

sys.path.insert(0, str(ROOT / "scripts"))
import mlflow_bulk  # noqa: E402

MLFLOW = VENV / "bin/mlflow"
API = "/api/2.0/mlflow"
AJAX = "/ajax-api/2.0/mlflow"
ADMIN = ("admin", "import-admin-password-1")
T0 = 1_700_000_000_000


# ------------------------------------------------------------------------------------------ processes

def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    """A server process in its own session, its output in a log file; stop() ends its whole group."""

    running: list["Server"] = []

    def __init__(self, name: str, argv: list[str], env: dict, log: Path, port: int):
        self.name, self.argv, self.env, self.log, self.port = name, argv, env, log, port
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 180) -> "Server":
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.log, "ab")
        self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT, env=self.env,
                                     start_new_session=True, cwd=self.log.parent)
        out.close()
        Server.running.append(self)
        deadline = time.time() + timeout
        while True:
            try:
                if requests.get(self.url + "/health", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                tail = self.log.read_text(errors="replace")[-4000:]
                self.stop()
                raise RuntimeError(f"{self.name} did not start ({' '.join(self.argv)}):\n{tail}")
            time.sleep(0.25)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self in Server.running:
            Server.running.remove(self)
        self.proc = None


def official_server(name: str, store: str, artifacts: Path, log: Path, env: dict | None = None,
                    args: list[str] | None = None) -> Server:
    port = free_port()
    e = dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false", MLFLOW_DISABLE_TELEMETRY="true",
             DO_NOT_TRACK="true", **(env or {}))
    argv = [str(MLFLOW), "server", "--backend-store-uri", store, "--artifacts-destination", str(artifacts),
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1", *(args or [])]
    return Server(name, argv, e, log, port)


class Ctx:
    def __init__(self, args, work: Path):
        self.binary = str(Path(args.binary).resolve())
        self.self_test = args.self_test
        self.pg_url = args.pg_url
        self.work = work
        self.seed = args.seed
        self.resume_runs = args.resume_runs
        self.kills = args.kills
        self.inject_fault = args.inject_fault
        self.pg_dbs: list[str] = []  # databases this run created on --pg-url's server

    def ours(self, name: str, store: str, artifacts: Path, log: Path, env: dict | None = None,
             args: list[str] | None = None, file_store: bool = False) -> Server:
        """Our server on the imported store; with --self-test, the official server on the copy."""
        if self.self_test:
            extra = {"MLFLOW_ALLOW_FILE_STORE": "true"} if file_store else {}
            return official_server(name, official_uri(store), artifacts, log, {**extra, **(env or {})}, args)
        port = free_port()
        argv = [self.binary, "server", "--backend-store-uri", store, "--artifacts-destination", str(artifacts),
                "--host", "127.0.0.1", "--port", str(port), *(args or [])]
        return Server(name, argv, dict(os.environ, **(env or {})), log, port)

    def run_import(self, args: list[str], expect_ok: bool = True, timeout: float = 900,
                   quiet: bool = False) -> subprocess.CompletedProcess:
        argv = [self.binary, "import", *args]
        t = time.time()
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        took = time.time() - t
        if not quiet or (p.returncode == 0) != expect_ok:
            print(f"    $ swiftflow import {' '.join(args)}   -> exit {p.returncode} in {took:.1f} s")
            out = (p.stdout + p.stderr).strip().splitlines()
            for line in out[:60]:
                print(f"    | {line}")
            if len(out) > 60:
                print(f"    | … {len(out) - 60} more lines")
        p.took = took
        return p


def official_uri(store: str) -> str:
    """MLflow's spelling of a store URI: SQLAlchemy needs a driver for PostgreSQL."""
    if store.startswith("postgresql://"):
        return "postgresql+psycopg://" + store[len("postgresql://"):]
    return store


# ------------------------------------------------------------------------------------------ the data

class EchoModel(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input


def populate(url: str, work: Path, duplicate_point: bool = False) -> dict:
    """Fills an official server through the official client; returns a few names for extra probes."""
    mlflow.set_tracking_uri(url)
    c = MlflowClient(url)
    facts: dict = {}

    alpha = c.create_experiment("import-alpha", tags={"team": "red", "note": "café ☕", "path/with space": "x"})
    beta = c.create_experiment("import-beta-old", tags={"stage": "dev"})
    c.rename_experiment(beta, "import-beta")
    c.set_experiment_tag(beta, "stage", "prod")
    gamma = c.create_experiment("import-gamma")
    doomed = c.create_experiment("import-deleted", tags={"why": "deleted below"})
    c.set_experiment_tag("0", "default-tag", "on Default")
    facts["old_experiment_name"] = "import-beta-old"

    files = work / "upload"
    files.mkdir(parents=True, exist_ok=True)
    (files / "data.bin").write_bytes(bytes(range(256)) * 16)

    def artifacts(run_id: str, label: str) -> None:
        c.log_text(run_id, f"hello from {label}\n", "notes/hello.txt")
        c.log_dict(run_id, {"label": label, "n": [1, 2, 3]}, "config/params.json")

    # A finished run with everything.
    r = c.create_run(alpha, run_name="finished", tags={"team": "red", "dir/sub key:x": "ü ☃", "empty": ""},
                     start_time=T0)
    fin = r.info.run_id
    c.log_param(fin, "lr", "0.01")
    c.log_param(fin, "long", "x" * 5000)
    c.log_param(fin, "dir/sub key:x", "ü ☃ 'quoted' \"double\"")
    for step in range(20):
        c.log_metric(fin, "loss", 1.0 / (step + 1), timestamp=T0 + 10 * step, step=step)
    for step, value in enumerate([0.1, math.nan, math.inf, -math.inf, 0.5, 1e-300, -123456789.123456789]):
        c.log_metric(fin, "acc", value, timestamp=T0 + 100 + step, step=step)
    c.log_metric(fin, "same_step", 1.0, timestamp=T0, step=1)
    c.log_metric(fin, "same_step", 2.0, timestamp=T0 + 5, step=1)
    c.log_metric(fin, "same_step", 0.5, timestamp=T0 + 5, step=1)  # same step and time, other value
    c.log_metric(fin, "big_step", 3.0, timestamp=T0, step=2**40)
    c.log_metric(fin, "only_nan", math.nan, timestamp=T0, step=0)
    c.log_metric(fin, "ends_inf", 1.0, timestamp=T0, step=0)
    c.log_metric(fin, "ends_inf", math.inf, timestamp=T0 + 1, step=1)
    c.log_batch(fin, metrics=[Metric("batch", float(i) / 7, T0 + 1000 + i, i) for i in range(150)],
                params=[Param(f"bp{i}", f"v{i}") for i in range(30)],
                tags=[RunTag(f"bt{i}", f"t{i}") for i in range(10)])
    if duplicate_point:  # the file store appends it twice; a SQL store keeps one row
        c.log_metric(fin, "dup", 7.0, timestamp=T0 + 7, step=7)
        c.log_metric(fin, "dup", 7.0, timestamp=T0 + 7, step=7)
    df = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 0.25, 0.125], "y": [0, 1, 0]})
    train = mlflow.data.from_pandas(df, source="/data/train.csv", name="train", targets="y")
    with mlflow.start_run(run_id=fin):
        mlflow.log_input(train, context="training", tags={"split": "a"})
        mlflow.log_input(mlflow.data.from_pandas(df.head(2), source="/data/val.csv", name="val"),
                         context="validation")
    artifacts(fin, "finished")
    c.log_artifact(fin, str(files / "data.bin"), "bin")
    c.set_terminated(fin, "FINISHED", end_time=T0 + 60_000)
    facts["binary_run"] = fin

    # Other statuses, a deleted run, a run in the experiment that gets deleted.
    for name, status in (("failed", "FAILED"), ("killed", "KILLED"), ("running", None), ("deleted", "FINISHED")):
        r = c.create_run(alpha, run_name=name, tags={"kind": name}, start_time=T0 + 1000)
        rid = r.info.run_id
        c.log_metric(rid, "loss", 0.5, timestamp=T0 + 1001, step=0)
        c.log_param(rid, "lr", "0.1" if name != "killed" else "0.2")
        artifacts(rid, name)
        if status:
            c.set_terminated(rid, status, end_time=T0 + 2000)
        if name == "deleted":
            c.delete_run(rid)
    orphan = c.create_run(doomed, run_name="orphan", start_time=T0 + 5)
    c.log_metric(orphan.info.run_id, "m", 1.0, timestamp=T0 + 6, step=0)
    artifacts(orphan.info.run_id, "orphan")
    c.delete_experiment(doomed)

    # Nested runs and a numpy dataset, through the fluent API.
    with mlflow.start_run(experiment_id=beta, run_name="parent") as parent:
        mlflow.log_param("depth", "0")
        mlflow.log_metric("score", 1.0, step=0, timestamp=T0 + 1)
        ds = mlflow.data.from_numpy(np.arange(10, dtype=np.float64).reshape(5, 2), source="/data/np.npy",
                                    name="np-ds")
        mlflow.log_input(ds, context="eval", tags={"origin": "numpy"})
        for i in range(2):
            with mlflow.start_run(experiment_id=beta, run_name=f"child-{i}", nested=True) as child:
                mlflow.log_param("depth", "1")
                mlflow.log_metric("score", float(i), step=i, timestamp=T0 + 2 + i)
                mlflow.log_input(ds, context="eval")
                artifacts(child.info.run_id, f"child-{i}")
        artifacts(parent.info.run_id, "parent")

    # Logged models: a pyfunc model logged in a run (artifacts, model outputs), with params, tags and a
    # metric linked to it; an external model; a deleted one.
    with mlflow.start_run(experiment_id=gamma, run_name="with-model") as run:
        info = mlflow.pyfunc.log_model(name="model", python_model=EchoModel(), pip_requirements=["mlflow"])
        mlflow.log_metric("model_acc", 0.9, step=0, timestamp=T0 + 3, model_id=info.model_id)
        mlflow.log_model_params({"alpha": "0.5", "depth": "3"}, model_id=info.model_id)
        mlflow.set_logged_model_tags(info.model_id, {"flavor": "pyfunc", "owner": "import-test"})
        artifacts(run.info.run_id, "with-model")
        model_run = run.info.run_id
        model_run_artifacts = run.info.artifact_uri
    facts["model_id"] = info.model_id
    ext = mlflow.create_external_model(name="ext-model", tags={"kind": "external"}, params={"p": "1"},
                                       model_type="agent", experiment_id=gamma)
    facts["external_model_id"] = ext.model_id
    gone = c.create_logged_model(gamma, name="gone-model", tags={"x": "y"})
    c.delete_logged_model(gone.model_id)
    facts["deleted_model_id"] = gone.model_id

    # The registry.
    c.create_registered_model("import-model-a", tags={"owner": "ml", "team": "red"}, description="model A")
    c.create_model_version("import-model-a", info.model_uri, run_id=model_run, model_id=info.model_id,
                           description="first", tags={"k": "v"})
    c.create_model_version("import-model-a", f"{model_run_artifacts}/model-2", run_id=model_run)
    c.create_model_version("import-model-a", f"{model_run_artifacts}/model-3", run_id=model_run,
                           tags={"validated": "true"}, description="third")
    c.create_model_version("import-model-a", f"{model_run_artifacts}/model-4", run_id=model_run)
    c.transition_model_version_stage("import-model-a", "1", "Production")
    c.transition_model_version_stage("import-model-a", "2", "Archived")
    c.transition_model_version_stage("import-model-a", "3", "Staging")
    c.delete_model_version("import-model-a", "4")
    c.set_registered_model_alias("import-model-a", "champion", "1")
    c.set_registered_model_alias("import-model-a", "challenger", "3")
    c.set_model_version_tag("import-model-a", "1", "approved_by", "someone")
    c.update_model_version("import-model-a", "3", description="third, updated")
    facts["deleted_version"] = ("import-model-a", "4")

    c.create_registered_model("import-model-b-old", description="model B")
    c.create_model_version("import-model-b-old", f"{model_run_artifacts}/model-b", run_id=model_run)
    c.set_registered_model_alias("import-model-b-old", "current", "1")
    c.rename_registered_model("import-model-b-old", "import-model-b")
    c.update_registered_model("import-model-b", description="model B, renamed")
    c.set_registered_model_tag("import-model-b", "temp", "1")
    c.set_registered_model_tag("import-model-b", "kept", "2")
    c.delete_registered_model_tag("import-model-b", "temp")
    facts["old_model_name"] = "import-model-b-old"

    c.create_registered_model("import-model-gone")
    c.create_model_version("import-model-gone", f"{model_run_artifacts}/gone", run_id=model_run)
    c.delete_registered_model("import-model-gone")
    facts["deleted_model_name"] = "import-model-gone"
    return facts


# ------------------------------------------------------------------------------------------ REST answers

class Probe:
    """One REST request (followed page by page when `items` names the list of a paged answer)."""

    def __init__(self, label: str, method: str, path: str, params: dict | None = None, items: str | None = None,
                 raw: bool = False, history: bool = False, unordered: frozenset = frozenset()):
        self.label, self.method, self.path, self.params = label, method, path, params or {}
        self.items, self.raw, self.history, self.unordered = items, raw, history, unordered

    def fetch(self, session: requests.Session, base: str):
        if self.raw:
            r = session.get(base + self.path, params=self.params, timeout=120)
            return {"status": r.status_code, "bytes": r.content if r.status_code == 200 else r.text}
        if self.items is None:
            return self._one(session, base, self.params)
        pages, items, params = [], [], dict(self.params)
        for _ in range(10_000):
            answer = self._one(session, base, params)
            if answer["status"] != 200:
                return {"pages": pages, "items": items, "error": answer}
            body = answer["body"]
            token = body.pop("next_page_token", None)
            page = body.pop(self.items, [])
            if body:
                pages.append({"size": len(page), "other": body})
            else:
                pages.append({"size": len(page)})
            items.extend(page)
            if not token:
                return {"pages": pages, "items": items}
            params = dict(params, page_token=token)
        raise RuntimeError(f"{self.label}: more than 10,000 pages")

    def _one(self, session: requests.Session, base: str, params: dict):
        if self.method == "GET":
            r = session.get(base + self.path, params=params, timeout=120)
        else:
            r = session.request(self.method, base + self.path, json=params, timeout=120)
        try:
            body = r.json()
        except ValueError:
            body = {"<not JSON>": r.text[:500]}
        return {"status": r.status_code, "body": body}


UNORDERED = {"tags", "params", "aliases", "latest_versions", "dataset_inputs", "model_inputs", "model_outputs",
             "dataset_summaries"}
NAN = "<NaN>"


def nan_safe(value):
    if isinstance(value, float) and math.isnan(value):
        return NAN
    if isinstance(value, dict):
        return {k: nan_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [nan_safe(v) for v in value]
    return value


def _sort_key(value) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _identity_key(value) -> tuple:
    """Sort key for unordered lists: an item's identity first (key, alias, version, …), so that an item that
    differs stays beside its counterpart in the diff."""
    if isinstance(value, dict):
        for field in ("key", "alias", "version", "name", "experiment_id", "model_id"):
            if field in value:
                v = value[field]
                return (field, f"{int(v):020d}" if str(v).isdigit() else str(v), _sort_key(value))
    return ("", "", _sort_key(value))


def canonical(value, key: str | None = None, top: bool = True, extra: frozenset = frozenset()):
    """Unordered collections sorted (see the module docstring); `metrics` too below the top level
    (a run's or a logged model's latest metrics), never a history's top-level list; `extra` names more
    unordered keys for one probe."""
    if isinstance(value, dict):
        return {k: canonical(v, k, top and k in ("body", "items"), extra) for k, v in value.items()}
    if isinstance(value, list):
        items = [canonical(v, None, False, extra) for v in value]
        if key in UNORDERED or key in extra or (key == "metrics" and not top):
            items.sort(key=_identity_key)
        return items
    return value


MAX_DOUBLE = 1.7976931348623157e308


def file_store_view(value, key: str | None = None, in_version_list: bool = False):
    """The file-store source's answers put side by side with an SQL store's (module docstring): `run_id`
    dropped from run metric objects (not from a logged model's, which carry `model_id`), +-Infinity and +-max double read as the same, error messages dropped
    (status and error_code kept), per-version `aliases` dropped from version lists."""
    if isinstance(value, dict):
        out = {}
        is_metric = {"key", "value", "timestamp", "step"} <= set(value)
        is_error = isinstance(value.get("status"), int) and value["status"] != 200 and isinstance(value.get("body"), dict)
        for k, v in value.items():
            if is_metric and k == "run_id" and "model_id" not in value:
                continue
            if is_metric and k == "value" and v in (MAX_DOUBLE, -MAX_DOUBLE):
                v = "Infinity" if v > 0 else "-Infinity"
            if in_version_list and k == "aliases" and "version" in value:
                continue
            if is_error and k == "body":
                v = {bk: bv for bk, bv in v.items() if bk != "message"}
            out[k] = file_store_view(v, k, k in ("latest_versions", "model_versions", "items"))
        return out
    if isinstance(value, list):
        return [file_store_view(v, key, in_version_list) for v in value]
    return value


def history_set(answer):
    """File-store histories: sorted by (timestamp, step, value), identical points collapsed."""
    if not isinstance(answer, dict) or "items" not in answer:
        return answer
    seen, points = set(), []
    for p in answer["items"]:
        k = _sort_key(p)
        if k not in seen:
            seen.add(k)
            points.append(p)
    points.sort(key=lambda p: (int(p.get("timestamp", 0)), int(p.get("step", 0)), _sort_key(p.get("value"))))
    return {"items": points}


def order_paths(a, b, path: str = "") -> list[str]:
    """Paths of the lists holding the same items in another order (for a and b equal once canonical)."""
    if a == b:
        return []
    if isinstance(a, dict) and isinstance(b, dict):
        return [p for k in a if k in b for p in order_paths(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        if all(canonical(x, top=False) == canonical(y, top=False) for x, y in zip(a, b)):
            return [p for i, (x, y) in enumerate(zip(a, b)) for p in order_paths(x, y, f"{path}[{i}]")]
        return [path]
    return []


def diff(a, b, path: str = "", out: list | None = None, limit: int = 25) -> list:
    out = [] if out is None else out
    if len(out) >= limit:
        return out
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            if k not in b:
                out.append(f"{path}.{k}: official {_short(a[k])}, ours absent")
            elif k not in a:
                out.append(f"{path}.{k}: official absent, ours {_short(b[k])}")
            elif a[k] != b[k]:
                diff(a[k], b[k], f"{path}.{k}", out, limit)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            sa, sb = {_sort_key(x) for x in a}, {_sort_key(x) for x in b}
            out.append(f"{path}: official {len(a)} items, ours {len(b)}")
            for x in a:
                if _sort_key(x) not in sb and len(out) < limit:
                    out.append(f"{path}: only official: {_short(x)}")
            for x in b:
                if _sort_key(x) not in sa and len(out) < limit:
                    out.append(f"{path}: only ours: {_short(x)}")
        else:
            for i, (x, y) in enumerate(zip(a, b)):
                if x != y:
                    diff(x, y, f"{path}[{i}]", out, limit)
    elif a != b:
        out.append(f"{path}: official {_short(a)}, ours {_short(b)}")
    return out


def _short(value, n: int = 300) -> str:
    text = repr(value) if isinstance(value, (bytes, str)) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= n else text[:n] + f"… ({len(text)} chars)"


class Report:
    def __init__(self, case: str):
        self.case, self.failures, self.notes, self.compared = case, [], [], 0
        self.digest: dict[str, dict[str, int]] = {}  # request kind -> differing field path -> requests
        self.skipped = False

    def fail(self, what: str, lines: list[str] | None = None, limit: int = 12) -> None:
        self.failures.append(what)
        print(f"    FAIL {what}")
        for line in (lines or [])[:limit]:
            print(f"         {line}")
        if lines and len(lines) > limit:
            print(f"         … {len(lines) - limit} more")

    def differ(self, probe: "Probe", lines: list[str]) -> None:
        self.fail(probe.label, lines)
        kind = probe.label.split(" ")[0]
        paths = {re.sub(r"\[\d+\]", "[*]", line.split(":", 1)[0]) for line in lines}
        for path in paths:
            self.digest.setdefault(kind, {}).setdefault(path, 0)
            self.digest[kind][path] += 1

    def print_digest(self) -> None:
        if not self.digest:
            return
        print(f"    differences by request kind and field (number of requests):")
        for kind, paths in sorted(self.digest.items()):
            for path, n in sorted(paths.items()):
                print(f"      {kind:32s} {path}  ({n})")

    def note(self, what: str) -> None:
        self.notes.append(what)
        print(f"    NOTE {what}")

    def check(self, ok: bool, what: str, lines: list[str] | None = None) -> bool:
        if not ok:
            self.fail(what, lines)
        return ok


def session_for(auth: tuple[str, str] | None = None) -> requests.Session:
    s = requests.Session()
    if auth:
        s.auth = auth
    return s


def get_json(s: requests.Session, base: str, path: str, params: dict | None = None) -> dict:
    r = s.get(base + path, params=params or {}, timeout=120)
    r.raise_for_status()
    return r.json()


def post_json(s: requests.Session, base: str, path: str, body: dict) -> dict:
    r = s.post(base + path, json=body, timeout=120)
    r.raise_for_status()
    return r.json()


def all_pages(s, base, method, path, params, items):
    p = Probe("discover", method, path, params, items).fetch(s, base)
    if "error" in p:
        raise RuntimeError(f"{path}: {p['error']}")
    return p["items"]


def build_plan(s: requests.Session, base: str, facts: dict | None = None, runs_sample: int | None = None,
               seed: int = 1) -> list[Probe]:
    """Every request to compare, discovered from the official server's answers."""
    facts = facts or {}
    plan: list[Probe] = []
    add = plan.append
    for view in ("ACTIVE_ONLY", "DELETED_ONLY", "ALL"):
        add(Probe(f"experiments/search {view} pages of 2", "POST", API + "/experiments/search",
                  {"view_type": view, "max_results": 2}, "experiments"))
    add(Probe("experiments/search filter+order", "POST", API + "/experiments/search",
              {"view_type": "ALL", "filter": "name LIKE 'import-%'", "order_by": ["name DESC"], "max_results": 100},
              "experiments"))
    add(Probe("experiments/search by tag, by creation_time", "POST", API + "/experiments/search",
              {"view_type": "ALL", "filter": "tags.team = 'red'", "order_by": ["creation_time ASC"], "max_results": 100},
              "experiments"))
    experiments = all_pages(s, base, "POST", API + "/experiments/search", {"view_type": "ALL", "max_results": 1000},
                            "experiments")
    exp_ids = [e["experiment_id"] for e in experiments]
    for e in experiments:
        add(Probe(f"experiments/get {e['experiment_id']}", "GET", API + "/experiments/get",
                  {"experiment_id": e["experiment_id"]}))
        add(Probe(f"experiments/get-by-name {e['name']}", "GET", API + "/experiments/get-by-name",
                  {"experiment_name": e["name"]}))
    if facts.get("old_experiment_name"):
        add(Probe("experiments/get-by-name (renamed away)", "GET", API + "/experiments/get-by-name",
                  {"experiment_name": facts["old_experiment_name"]}))
    add(Probe("experiments/get (absent id)", "GET", API + "/experiments/get", {"experiment_id": "987654"}))

    for e in exp_ids:
        for view in ("ACTIVE_ONLY", "DELETED_ONLY", "ALL"):
            add(Probe(f"runs/search exp {e} {view} pages of 3", "POST", API + "/runs/search",
                      {"experiment_ids": [e], "run_view_type": view, "max_results": 3}, "runs"))
    add(Probe("runs/search all experiments ALL", "POST", API + "/runs/search",
              {"experiment_ids": exp_ids, "run_view_type": "ALL", "max_results": 1000}, "runs"))
    add(Probe("runs/search filter metrics+order metric,param pages of 2", "POST", API + "/runs/search",
              {"experiment_ids": exp_ids, "run_view_type": "ALL", "max_results": 2,
               "filter": "metrics.loss < 10", "order_by": ["metrics.loss ASC", "params.lr DESC"]}, "runs"))
    add(Probe("runs/search filter params+tags, order start_time", "POST", API + "/runs/search",
              {"experiment_ids": exp_ids, "run_view_type": "ACTIVE_ONLY", "max_results": 100,
               "filter": "params.lr = '0.1' and tags.kind != 'x'", "order_by": ["attributes.start_time ASC"]}, "runs"))
    add(Probe("runs/search filter status, order run_name", "POST", API + "/runs/search",
              {"experiment_ids": exp_ids, "run_view_type": "ALL", "max_results": 100,
               "filter": "attributes.status != 'FINISHED'", "order_by": ["run_name DESC"]},
              "runs"))
    add(Probe("runs/search filter datasets", "POST", API + "/runs/search",
              {"experiment_ids": exp_ids, "run_view_type": "ALL", "filter": "datasets.context = 'eval'",
               "max_results": 100}, "runs"))
    add(Probe("experiments/search-datasets", "POST", AJAX + "/experiments/search-datasets",
              {"experiment_ids": exp_ids}))

    runs = all_pages(s, base, "POST", API + "/runs/search",
                     {"experiment_ids": exp_ids, "run_view_type": "ALL", "max_results": 1000}, "runs")
    runs.sort(key=lambda r: r["info"]["run_id"])
    if runs_sample is not None and len(runs) > runs_sample:
        runs = random.Random(seed).sample(runs, runs_sample)
    for run in runs:
        rid = run["info"]["run_id"]
        add(Probe(f"runs/get {rid}", "GET", API + "/runs/get", {"run_id": rid}))
        for m in run["data"].get("metrics", []):
            add(Probe(f"metrics/get-history {rid} {m['key']}", "GET", API + "/metrics/get-history",
                      {"run_id": rid, "metric_key": m["key"]}, "metrics", history=True))
    if runs_sample is None:
        for run in runs:
            if any(m["key"] == "batch" for m in run["data"].get("metrics", [])):
                add(Probe("metrics/get-history pages of 40", "GET", API + "/metrics/get-history",
                          {"run_id": run["info"]["run_id"], "metric_key": "batch", "max_results": 40}, "metrics",
                          history=True))
        for run in runs:
            plan.extend(artifact_probes(s, base, run))
        if facts.get("binary_run"):
            run = next(r for r in runs if r["info"]["run_id"] == facts["binary_run"])
            rel = run["info"]["artifact_uri"].split("mlflow-artifacts:/", 1)[-1].lstrip("/")
            add(Probe("mlflow-artifacts download bin/data.bin", "GET",
                      f"/api/2.0/mlflow-artifacts/artifacts/{rel}/bin/data.bin", raw=True))

        models = all_pages(s, base, "GET", API + "/registered-models/search", {"max_results": 1000},
                           "registered_models")
        add(Probe("registered-models/search pages of 1", "GET", API + "/registered-models/search",
                  {"max_results": 1}, "registered_models"))
        add(Probe("registered-models/search filter+order", "GET", API + "/registered-models/search",
                  {"filter": "name LIKE 'import-%'", "order_by": "name DESC"}, "registered_models"))
        add(Probe("model-versions/search all", "GET", API + "/model-versions/search", {"max_results": 1000},
                  "model_versions"))
        for m in models:
            name = m["name"]
            add(Probe(f"registered-models/get {name}", "GET", API + "/registered-models/get", {"name": name}))
            add(Probe(f"get-latest-versions {name}", "POST", API + "/registered-models/get-latest-versions",
                      {"name": name}, unordered=frozenset({"model_versions"})))
            add(Probe(f"get-latest-versions {name} Production", "POST", API + "/registered-models/get-latest-versions",
                      {"name": name, "stages": ["Production"]}, unordered=frozenset({"model_versions"})))
            add(Probe(f"model-versions/search {name} pages of 2", "GET", API + "/model-versions/search",
                      {"filter": f"name = '{name}'", "max_results": 2, "order_by": "version_number DESC"},
                      "model_versions"))
            versions = all_pages(s, base, "GET", API + "/model-versions/search",
                                 {"filter": f"name = '{name}'", "max_results": 1000}, "model_versions")
            for v in versions:
                add(Probe(f"model-versions/get {name} {v['version']}", "GET", API + "/model-versions/get",
                          {"name": name, "version": v["version"]}))
                add(Probe(f"model-versions/get-download-uri {name} {v['version']}", "GET",
                          API + "/model-versions/get-download-uri", {"name": name, "version": v["version"]}))
            for alias in m.get("aliases", []):
                add(Probe(f"registered-models/alias {name} {alias['alias']}", "GET", API + "/registered-models/alias",
                          {"name": name, "alias": alias["alias"]}))
        for label, key in (("renamed away", "old_model_name"), ("deleted", "deleted_model_name")):
            if facts.get(key):
                add(Probe(f"registered-models/get ({label})", "GET", API + "/registered-models/get",
                          {"name": facts[key]}))
        if facts.get("deleted_version"):
            name, version = facts["deleted_version"]
            add(Probe("model-versions/get (deleted)", "GET", API + "/model-versions/get",
                      {"name": name, "version": version}))
        if facts.get("model_id"):
            add(Probe("model-versions/get-artifact MLmodel", "GET", "/model-versions/get-artifact",
                      {"name": "import-model-a", "version": "1", "path": "MLmodel"}, raw=True))

        add(Probe("logged-models/search pages of 1", "POST", API + "/logged-models/search",
                  {"experiment_ids": exp_ids, "max_results": 1}, "models"))
        add(Probe("logged-models/search filter+order", "POST", API + "/logged-models/search",
                  {"experiment_ids": exp_ids, "filter": "params.alpha = '0.5'",
                   "order_by": [{"field_name": "creation_time", "ascending": False}]}, "models"))
        logged = all_pages(s, base, "POST", API + "/logged-models/search",
                           {"experiment_ids": exp_ids, "max_results": 100}, "models")
        ids = [m["info"]["model_id"] for m in logged]
        if facts.get("deleted_model_id"):
            ids.append(facts["deleted_model_id"])
        for mid in ids:
            add(Probe(f"logged-models/get {mid}", "GET", f"{API}/logged-models/{mid}"))
        for m in logged:
            plan.extend(logged_model_artifact_probes(s, base, m))
    return plan


def artifact_probes(s: requests.Session, base: str, run: dict) -> list[Probe]:
    rid = run["info"]["run_id"]
    probes, todo = [], [""]
    while todo:
        path = todo.pop(0)
        params = {"run_id": rid, **({"path": path} if path else {})}
        probes.append(Probe(f"artifacts/list {rid} {path or '/'}", "GET", API + "/artifacts/list", params))
        answer = get_json(s, base, API + "/artifacts/list", params)
        for f in answer.get("files", []):
            if f.get("is_dir"):
                todo.append(f["path"])
            elif int(f.get("file_size", 0)) <= 1 << 20:
                probes.append(Probe(f"get-artifact {rid} {f['path']}", "GET", "/get-artifact",
                                    {"path": f["path"], "run_uuid": rid}, raw=True))
    return probes


def logged_model_artifact_probes(s: requests.Session, base: str, model: dict) -> list[Probe]:
    """The model's folder listed level by level; its files downloaded through the mlflow-artifacts route."""
    model_id, location = model["info"]["model_id"], model["info"].get("artifact_uri", "")
    path = f"{AJAX}/logged-models/{model_id}/artifacts/directories"
    probes, todo = [], [""]
    while todo:
        sub = todo.pop(0)
        params = {"artifact_directory_path": sub} if sub else {}
        probes.append(Probe(f"logged-models/{model_id}/artifacts/directories {sub or '/'}", "GET", path, params))
        r = s.get(base + path, params=params, timeout=120)
        if r.status_code != 200:
            continue
        for f in r.json().get("files", []):
            if f.get("is_dir"):
                todo.append(f["path"])
            elif location.startswith("mlflow-artifacts:/"):
                rel = location[len("mlflow-artifacts:/"):].lstrip("/")
                probes.append(Probe(f"mlflow-artifacts download logged model {model_id} {f['path']}", "GET",
                                    f"/api/2.0/mlflow-artifacts/artifacts/{rel}/{f['path']}", raw=True))
    return probes


def compare(report: Report, plan: list[Probe], official: str, ours: str, *, auth=None, file_source: bool = False,
            only=None) -> None:
    a_s, b_s = session_for(auth), session_for(auth)
    failed = 0
    reordered: dict[str, int] = {}
    where: dict[str, None] = {}  # the lists found in another order, in order of discovery
    for probe in plan:
        if only and not only(probe):
            continue
        a = nan_safe(probe.fetch(a_s, official))
        b = nan_safe(probe.fetch(b_s, ours))
        report.compared += 1
        if file_source:
            a, b = file_store_view(a), file_store_view(b)
            if probe.history:
                a, b = history_set(a), history_set(b)
        if a == b:
            continue
        ca, cb = canonical(a, extra=probe.unordered), canonical(b, extra=probe.unordered)
        if ca == cb:
            kind = probe.label.split(" ")[0]
            reordered[kind] = reordered.get(kind, 0) + 1
            for path in order_paths(a, b):
                where.setdefault(re.sub(r"\[\d+\]", "[*]", path), None)
            continue
        failed += 1
        report.differ(probe, diff(ca, cb))
    if reordered:
        report.note(f"{sum(reordered.values())} answers equal but for the order within unordered lists: "
                    + ", ".join(f"{k} x{n}" for k, n in sorted(reordered.items()))
                    + "; lists: " + ", ".join(list(where)[:12]) + (" …" if len(where) > 12 else ""))
    print(f"    compared {len(plan) if not only else sum(1 for p in plan if only(p))} requests, {failed} differ")


# ------------------------------------------------------------------------------------------ cases

def start_pair(ctx: Ctx, dirname: Path, source_store: str, target_store: str, artifacts: Path,
               file_store: bool = False, env: dict | None = None, args: list[str] | None = None,
               ours_env: dict | None = None):
    src_env = dict(env or {})
    if file_store:
        src_env["MLFLOW_ALLOW_FILE_STORE"] = "true"
    official = official_server("official", official_uri(source_store), artifacts, dirname / "official.log",
                               src_env, args).start()
    ours = ctx.ours("ours", target_store, artifacts, dirname / "ours.log", {**(env or {}), **(ours_env or {})},
                    args, file_store).start()
    return official, ours


def copy_store(ctx: Ctx, source: str, target: str) -> None:
    """--self-test: the import replaced by a copy of the store."""
    if source.startswith("sqlite:///"):
        shutil.copy(source[len("sqlite:///"):], target[len("sqlite:///"):])
    elif source.startswith("postgresql://"):
        admin_sql(ctx.pg_url, f'CREATE DATABASE "{db_name(target)}" TEMPLATE "{db_name(source)}"')
        ctx.pg_dbs.append(db_name(target))
    else:
        shutil.copytree(source, target)


def import_or_copy(ctx: Ctx, report: Report, source: str, target: str, extra: list[str] | None = None) -> bool:
    if ctx.self_test:
        copy_store(ctx, source, target)
        return True
    p = ctx.run_import(["--from", source, "--to", target, "--no-progress", *(extra or [])])
    return report.check(p.returncode == 0, f"import {source} exited {p.returncode}")


def tracking_case(ctx: Ctx, name: str, kind: str) -> Report:
    report = Report(name)
    d = ctx.work / name
    (d / "src").mkdir(parents=True)
    (d / "dst").mkdir(parents=True)
    artifacts = d / "src-artifacts"
    if kind == "sqlite":
        source, target = f"sqlite:///{d}/src/mlflow.db", f"sqlite:///{d}/dst/swiftflow.db"
    elif kind == "file":
        source, target = str(d / "src/mlruns"), f"sqlite:///{d}/dst/swiftflow.db"
        if ctx.self_test:
            target = str(d / "dst/mlruns")
    else:
        tag = f"{os.getpid()}_{int(time.time())}"
        source, target = pg_db(ctx.pg_url, f"import_src_{tag}"), pg_db(ctx.pg_url, f"import_dst_{tag}")
        admin_sql(ctx.pg_url, f'CREATE DATABASE "{db_name(source)}"')
        ctx.pg_dbs.append(db_name(source))
        if not ctx.self_test:
            admin_sql(ctx.pg_url, f'CREATE DATABASE "{db_name(target)}"')
            ctx.pg_dbs.append(db_name(target))
    file_store = kind == "file"
    env = {"MLFLOW_ALLOW_FILE_STORE": "true"} if file_store else {}

    print(f"  -- {name}: filling the official server ({source})")
    official = official_server("official", official_uri(source), artifacts, d / "official-fill.log", env).start()
    t = time.time()
    with contextlib.redirect_stdout(io.StringIO()):  # the client's "View run at" lines
        facts = populate(official.url, d, duplicate_point=file_store)
    official.stop()
    print(f"    filled in {time.time() - t:.1f} s")

    if not import_or_copy(ctx, report, source, target):
        return report
    if ctx.inject_fault and target.startswith("sqlite:///") and not ctx.self_test:
        inject_fault(Path(target[len("sqlite:///"):]))
    official, ours = start_pair(ctx, d, source, target, artifacts, file_store)
    plan = build_plan(session_for(), official.url, facts)
    compare(report, plan, official.url, ours.url, file_source=file_store)
    ours.stop()

    if ctx.self_test:
        official.stop()
        return report
    print(f"  -- {name}: the import again into the same target")
    before = sqlite_rows(Path(target[len("sqlite:///"):])) if target.startswith("sqlite:///") else None
    p = ctx.run_import(["--from", source, "--to", target, "--no-progress"])
    if report.check(p.returncode == 0, f"second import exited {p.returncode}"):
        if before is not None:
            after = sqlite_rows(Path(target[len("sqlite:///"):]))
            report.check(before == after, "the second import changed rows of the target", rows_diff(before, after))
        ours = ctx.ours("ours", target, artifacts, d / "ours-again.log").start()
        compare(report, plan, official.url, ours.url, file_source=file_store)
        ours.stop()

    if kind == "sqlite":
        print(f"  -- {name}: --dry-run into a fresh target")
        dry = d / "dry" / "swiftflow.db"
        dry.parent.mkdir()
        p = ctx.run_import(["--from", source, "--to", f"sqlite:///{dry}", "--dry-run", "--no-progress"])
        report.check(p.returncode == 0, f"--dry-run exited {p.returncode}")
        written = sqlite_count(dry, "runs")
        report.check(not written, f"--dry-run wrote {written} runs into the target")

        print(f"  -- {name}: --copy-artifacts into a third target")
        copied = d / "copied-artifacts"
        target3 = f"sqlite:///{d}/dst3.db"
        p = ctx.run_import(["--from", source, "--to", target3, "--artifacts-from", str(artifacts),
                            "--copy-artifacts", "--artifacts-to", str(copied), "--no-progress"])
        if report.check(p.returncode == 0, f"--copy-artifacts import exited {p.returncode}"):
            missing, different = tree_diff(artifacts, copied)
            report.check(not missing and not different, "copied artifact folder differs from the source's",
                         [f"missing: {m}" for m in missing[:20]] + [f"different bytes: {m}" for m in different[:20]])
            ours = ctx.ours("ours", target3, copied, d / "ours-copied.log").start()
            compare(report, plan, official.url, ours.url,
                    only=lambda p: p.raw or "artifacts" in p.label or "get-artifact" in p.label)
            ours.stop()
    official.stop()
    return report


def inject_fault(path: Path) -> None:
    """--inject-fault: damage the imported target the way a faulty importer could (one history point lost, a
    param value and an experiment tag changed, an alias dropped); the comparison must then fail there."""
    db = sqlite3.connect(path)
    with db:
        db.execute("DELETE FROM metrics WHERE (run_id, key, timestamp, step) IN "
                   "(SELECT run_id, key, timestamp, step FROM metrics WHERE key = 'loss' ORDER BY step DESC LIMIT 1)")
        db.execute("UPDATE params SET value = value || '0' WHERE key = 'lr'")
        db.execute("UPDATE experiment_tags SET value = 'blue' WHERE key = 'team'")
        db.execute("DELETE FROM registered_model_aliases WHERE alias = 'challenger'")
    db.close()
    print("    (--inject-fault: one loss point deleted, params lr and experiment tags team changed, "
          "alias challenger dropped in the target)")


def tree_diff(a: Path, b: Path) -> tuple[list[str], list[str]]:
    missing, different = [], []
    for f in sorted(a.rglob("*")):
        if f.is_file():
            rel = f.relative_to(a)
            g = b / rel
            if not g.is_file():
                missing.append(str(rel))
            elif g.read_bytes() != f.read_bytes():
                different.append(str(rel))
    return missing, different


def sqlite_count(path: Path, table: str):
    if not path.exists():
        return 0
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()


def rows_diff(before: dict, after: dict, skip: frozenset = frozenset()) -> list[str]:
    out = []
    for t in sorted(set(before) | set(after)):
        if t in skip or before.get(t) == after.get(t):
            continue
        b, a = set(before.get(t, [])), set(after.get(t, []))
        out.append(f"table {t}: {len(before.get(t, []))} rows, then {len(after.get(t, []))}; "
                   f"{len(b - a)} gone, {len(a - b)} new, e.g. {sorted(a - b)[:2] or sorted(b - a)[:2]}")
    return out


def target_state(path: Path) -> str:
    """Runs and metric points in a killed import's target, and SQLite's own check of the file."""
    if not path.exists():
        return "no file yet"
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        check = db.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            return f"a file failing its integrity check: {check}"
        runs = sqlite_count(path, "runs")
        points = sqlite_count(path, "metrics")
        return f"{runs} runs, {points} metric points"
    except sqlite3.DatabaseError as e:
        return f"a file failing its integrity check: {e}"
    finally:
        db.close()


def sqlite_rows(path: Path) -> dict:
    """Every row of every table, sorted: the target's content, to check that a refusal left it alone."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {t: sorted(map(repr, db.execute(f'SELECT * FROM "{t}"').fetchall())) for t in tables}
    finally:
        db.close()


# PostgreSQL helpers: databases of their own on the server of --pg-url.

def pg_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))


def db_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def admin_sql(url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(statement)


# ------------------------------------------------------------------------------------------ basic-auth

def auth_ini(path: Path, database: Path) -> None:
    path.write_text(f"[mlflow]\ndefault_permission = READ\ndatabase_uri = sqlite:///{database}\n"
                    f"admin_username = {ADMIN[0]}\nadmin_password = {ADMIN[1]}\n"
                    "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
                    "auth_cache_ttl_seconds = 60\n")


USERS = {"alice": "alice-password-1", "bob": "bob-password-1", "carol": "carol-password-1",
         "dave": "dave-password-1", "eve": "eve-password-1"}


def populate_auth(url: str) -> dict:
    """Users, grants and a role, through the auth API (admin) and as the users themselves."""
    s = session_for(ADMIN)

    def call(method, path, body, who=None):
        r = (session_for((who, USERS[who])) if who else s).request(
            method, url + path, **({"params": body} if method == "GET" else {"json": body}), timeout=120)
        if r.status_code != 200:
            raise RuntimeError(f"{method} {path} {body}: {r.status_code} {r.text[:300]}")
        return r.json() if r.text.strip() else {}

    for user, pw in USERS.items():
        call("POST", API + "/users/create", {"username": user, "password": pw})
    exp1 = call("POST", API + "/experiments/create", {"name": "auth-exp-1"})["experiment_id"]
    exp2 = call("POST", API + "/experiments/create", {"name": "auth-exp-2"})["experiment_id"]
    call("POST", API + "/registered-models/create", {"name": "auth-model-1"})
    call("POST", API + "/registered-models/create", {"name": "auth-model-2"})
    run = call("POST", API + "/runs/create", {"experiment_id": exp1, "run_name": "auth-run"})["run"]["info"]["run_id"]
    call("POST", API + "/runs/log-metric", {"run_id": run, "key": "m", "value": 1.0, "timestamp": T0, "step": 0})
    grant = "/api/3.0/mlflow/users/permissions/grant"
    call("POST", grant, {"username": "alice", "resource_type": "experiment", "resource_id": exp1, "permission": "EDIT"})
    call("POST", grant, {"username": "alice", "resource_type": "registered_model", "resource_id": "auth-model-1",
                         "permission": "READ"})
    call("POST", grant, {"username": "bob", "resource_type": "experiment", "resource_id": exp1, "permission": "DENY"})
    call("POST", grant, {"username": "bob", "resource_type": "experiment", "resource_id": exp2, "permission": "MANAGE"})
    call("POST", grant, {"username": "bob", "resource_type": "registered_model", "resource_id": "auth-model-2",
                         "permission": "DENY"})
    call("PATCH", API + "/users/update-admin", {"username": "carol", "is_admin": True})
    USERS["bob"] = "bob-password-2"
    call("PATCH", API + "/users/update-password", {"username": "bob", "password": USERS["bob"]})
    role = call("POST", "/api/3.0/mlflow/roles/create", {"workspace": "default", "name": "readers",
                                                         "description": "reads everything"})["role"]
    call("POST", "/api/3.0/mlflow/roles/permissions/add", {"role_id": role["id"], "resource_type": "experiment",
                                                           "resource_pattern": "*", "permission": "READ"})
    call("POST", "/api/3.0/mlflow/roles/permissions/add", {"role_id": role["id"], "resource_type": "registered_model",
                                                           "resource_pattern": "auth-model-1", "permission": "EDIT"})
    call("POST", "/api/3.0/mlflow/roles/assign", {"username": "dave", "role_id": role["id"]})
    call("POST", "/api/3.0/mlflow/roles/create", {"workspace": "default", "name": "empty-role"})
    # Created by alice: MLflow grants her MANAGE on them.
    alice_exp = call("POST", API + "/experiments/create", {"name": "alice-exp"}, who="alice")["experiment_id"]
    call("POST", API + "/registered-models/create", {"name": "alice-model"}, who="alice")
    call("DELETE", API + "/users/delete", {"username": "eve"})
    del USERS["eve"]
    return {"experiments": ["0", exp1, exp2, alice_exp], "models": ["auth-model-1", "auth-model-2", "alice-model"],
            "run": run}


def auth_plan(s: requests.Session, base: str, facts: dict) -> tuple[list[Probe], dict[str, list[Probe]]]:
    plan = [Probe("users/list", "GET", API + "/users/list")]
    users = get_json(s, base, API + "/users/list").get("users", [])
    names = sorted(u["username"] for u in users)
    for u in names + ["eve"]:
        plan.append(Probe(f"users/get {u}", "GET", API + "/users/get", {"username": u}))
        plan.append(Probe(f"users/permissions/list {u}", "GET", "/api/3.0/mlflow/users/permissions/list",
                          {"username": u}))
        plan.append(Probe(f"users/roles/list {u}", "GET", "/api/3.0/mlflow/users/roles/list", {"username": u}))
        for e in facts["experiments"]:
            plan.append(Probe(f"users/permissions/get {u} experiment {e}", "GET", "/api/3.0/mlflow/users/permissions/get",
                              {"username": u, "resource_type": "experiment", "resource_id": e}))
        for m in facts["models"]:
            plan.append(Probe(f"users/permissions/get {u} registered_model {m}", "GET",
                              "/api/3.0/mlflow/users/permissions/get",
                              {"username": u, "resource_type": "registered_model", "resource_id": m}))
    plan.append(Probe("roles/list default", "GET", "/api/3.0/mlflow/roles/list", {"workspace": "default"}))
    for role in get_json(s, base, "/api/3.0/mlflow/roles/list", {"workspace": "default"}).get("roles", []):
        rid = str(role["id"])
        plan.append(Probe(f"roles/get {role['name']}", "GET", "/api/3.0/mlflow/roles/get", {"role_id": rid}))
        plan.append(Probe(f"roles/permissions/list {role['name']}", "GET", "/api/3.0/mlflow/roles/permissions/list",
                          {"role_id": rid}))
        plan.append(Probe(f"roles/users/list {role['name']}", "GET", "/api/3.0/mlflow/roles/users/list",
                          {"role_id": rid}))
    as_user: dict[str, list[Probe]] = {}
    for u in USERS:
        as_user[u] = [
            Probe(f"as {u}: users/current", "GET", API + "/users/current"),
            Probe(f"as {u}: users/current/permissions", "GET", "/api/3.0/mlflow/users/current/permissions"),
            Probe(f"as {u}: experiments/search", "POST", API + "/experiments/search",
                  {"view_type": "ALL", "max_results": 100}, "experiments"),
            Probe(f"as {u}: registered-models/search", "GET", API + "/registered-models/search", {}, "registered_models"),
            Probe(f"as {u}: experiments/get {facts['experiments'][1]}", "GET", API + "/experiments/get",
                  {"experiment_id": facts["experiments"][1]}),
            Probe(f"as {u}: runs/get", "GET", API + "/runs/get", {"run_id": facts["run"]}),
            Probe(f"as {u}: registered-models/get auth-model-2", "GET", API + "/registered-models/get",
                  {"name": "auth-model-2"}),
        ]
    return plan, as_user


def auth_case(ctx: Ctx) -> Report:
    report = Report("auth")
    d = ctx.work / "auth"
    d.mkdir(parents=True)
    artifacts = d / "src-artifacts"
    source, target = f"sqlite:///{d}/src.db", f"sqlite:///{d}/dst.db"
    auth_src, auth_dst = d / "src-auth.db", d / "dst-auth.db"
    auth_ini(d / "official.ini", auth_src)
    auth_ini(d / "ours.ini", auth_dst)
    off_env = {"MLFLOW_AUTH_CONFIG_PATH": str(d / "official.ini"), "MLFLOW_FLASK_SERVER_SECRET_KEY": "import-test"}
    print(f"  -- auth: filling the official basic-auth server")
    official = official_server("official", source, artifacts, d / "official-fill.log", off_env,
                               ["--app-name", "basic-auth"]).start()
    facts = populate_auth(official.url)
    official.stop()
    if ctx.self_test:
        shutil.copy(source[len("sqlite:///"):], target[len("sqlite:///"):])
        shutil.copy(auth_src, auth_dst)
    else:
        p = ctx.run_import(["--from", source, "--to", target, "--auth-from", f"sqlite:///{auth_src}",
                            "--auth-to", f"sqlite:///{auth_dst}", "--no-progress"])
        if not report.check(p.returncode == 0, f"import with --auth-from exited {p.returncode}"):
            return report
    official = official_server("official", source, artifacts, d / "official.log", off_env,
                               ["--app-name", "basic-auth"]).start()
    # (MLFLOW_FLASK_SERVER_SECRET_KEY only matters to the official server, which plays ours in --self-test.)
    ours_env = {"MLFLOW_AUTH_CONFIG_PATH": str(d / "ours.ini"), "MLFLOW_FLASK_SERVER_SECRET_KEY": "import-test"}
    ours = ctx.ours("ours", target, artifacts, d / "ours.log", ours_env, ["--app-name", "basic-auth"]).start()
    plan, as_user = auth_plan(session_for(ADMIN), official.url, facts)
    compare(report, plan, official.url, ours.url, auth=ADMIN)
    for user, probes in as_user.items():
        compare(report, probes, official.url, ours.url, auth=(user, USERS[user]))
    print("    the tracking data, as the admin")
    compare(report, build_plan(session_for(ADMIN), official.url), official.url, ours.url, auth=ADMIN)
    ours.stop()
    official.stop()
    return report


# ------------------------------------------------------------------------------------------ resume

def resume_case(ctx: Ctx) -> Report:
    report = Report("resume")
    d = ctx.work / "resume"
    d.mkdir(parents=True)
    artifacts = d / "artifacts"
    src = d / "src.db"
    runs, experiments = ctx.resume_runs, 3
    print(f"  -- resume: generating {runs} runs x 10 params x 5 metrics x 100 steps in MLflow's schema")
    mlflow_bulk.generate(str(src), runs, 10, 5, 100, experiments, seed=ctx.seed, quiet=True)
    mlflow_bulk.check_official(str(src), runs, 10, 5, 100, experiments, seed=ctx.seed)
    source = f"sqlite:///{src}"
    if ctx.self_test:
        print("    (--self-test: the import is what this case tests; skipped)")
        report.skipped = True
        return report
    scratch = ctx.run_import(["--from", source, "--to", f"sqlite:///{d}/scratch.db", "--no-progress"])
    if not report.check(scratch.returncode == 0, f"scratch import exited {scratch.returncode}"):
        return report
    full = max(scratch.took, 0.2)
    target = f"sqlite:///{d}/dst.db"
    rng = random.Random(ctx.seed)
    killed_midway = 0
    dst = Path(target[len("sqlite:///"):])
    for k in range(ctx.kills):
        # Short enough that each attempt leaves work for the next one.
        delay = rng.uniform(0.05, 0.4) * full
        argv = [ctx.binary, "import", "--from", source, "--to", target, "--no-progress", "--runs-per-transaction", "25"]
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        time.sleep(delay)
        if p.poll() is None:
            p.kill()
            killed_midway += 1
            p.wait()
            state = target_state(dst)
            print(f"    kill {k + 1}: SIGKILL after {delay:.2f} s; the target holds {state}")
            if "integrity" in state:
                report.fail(f"after kill {k + 1}: {state}")
        else:
            out = p.stdout.read().decode(errors="replace").strip().splitlines()
            print(f"    kill {k + 1}: the import had already ended (exit {p.returncode}) before {delay:.2f} s: "
                  f"{out[-1] if out else ''}")
            if p.returncode != 0:
                report.fail(f"an interrupted-then-resumed import exited {p.returncode}", out[-20:])
        p.stdout.close()
    report.check(killed_midway > 0, "no import was killed midway (the import is faster than the smallest delay)")
    final = ctx.run_import(["--from", source, "--to", target, "--no-progress"])
    if not report.check(final.returncode == 0, f"completing import exited {final.returncode}"):
        return report
    again = ctx.run_import(["--from", source, "--to", target, "--no-progress"], quiet=True)
    report.check(again.returncode == 0, f"import after completion exited {again.returncode}")
    # Interrupted and resumed, the target must hold what one uninterrupted import wrote (migration records
    # aside: they carry the time they were applied).
    resumed, straight = sqlite_rows(dst), sqlite_rows(Path(d / "scratch.db"))
    skip = frozenset(t for t in set(resumed) | set(straight) if "migration" in t)
    report.check(rows_diff(straight, resumed, skip) == [], "the resumed target's rows differ from an uninterrupted "
                 "import's", rows_diff(straight, resumed, skip))
    counts = {t: sqlite_count(Path(target[len("sqlite:///"):]), t) for t in ("runs", "params", "metrics",
                                                                             "latest_metrics")}
    want = {"runs": runs, "params": runs * 10, "metrics": runs * 500, "latest_metrics": runs * 5}
    report.check(counts == want, f"target row counts {counts}, expected {want}")
    official = official_server("official", source, artifacts, d / "official.log").start()
    ours = ctx.ours("ours", target, artifacts, d / "ours.log").start()
    s = session_for()
    exp_ids = [e["experiment_id"] for e in all_pages(s, official.url, "POST", API + "/experiments/search",
                                                     {"view_type": "ALL", "max_results": 1000}, "experiments")]
    plan = [Probe("experiments/search ALL", "POST", API + "/experiments/search",
                  {"view_type": "ALL", "max_results": 1000}, "experiments")]
    for e in exp_ids:
        plan.append(Probe(f"runs/search exp {e} (every run, pages of 1000)", "POST", API + "/runs/search",
                          {"experiment_ids": [e], "run_view_type": "ALL", "max_results": 1000}, "runs"))
    plan += [p for p in build_plan(s, official.url, runs_sample=25, seed=ctx.seed)
             if p.label.startswith(("runs/get", "metrics/get-history"))]
    compare(report, plan, official.url, ours.url)
    ours.stop()
    official.stop()
    return report


# ------------------------------------------------------------------------------------------ refusal

def refusal_case(ctx: Ctx) -> Report:
    report = Report("refusal")
    d = ctx.work / "refusal"
    d.mkdir(parents=True)
    if ctx.self_test:
        print("    (--self-test: the import is what this case tests; skipped)")
        report.skipped = True
        return report
    artifacts = d / "artifacts"
    src = d / "src.db"
    source = f"sqlite:///{src}"
    official = official_server("official", source, artifacts, d / "official.log").start()
    c = MlflowClient(official.url)
    gone = c.create_experiment("refusal-gone")               # id 1, then deleted for good
    shared = c.create_experiment("refusal-shared-name")      # id 2
    c.log_metric(c.create_run(shared).info.run_id, "m", 1.0)
    c.delete_experiment(gone)
    official.stop()
    gc = subprocess.run([str(MLFLOW), "gc", "--backend-store-uri", source, "--experiment-ids", gone],
                        capture_output=True, text=True, env=dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true"))
    if not report.check(gc.returncode == 0, f"mlflow gc exited {gc.returncode}", gc.stderr.splitlines()[-10:]):
        return report

    def target_with(name: str, names: list[str]) -> Path:
        path = d / f"{name}.db"
        ours = ctx.ours("ours", f"sqlite:///{path}", d / f"{name}-artifacts", d / f"{name}.log").start()
        tc = MlflowClient(ours.url)
        ids = [tc.create_experiment(n) for n in names]
        tc.log_metric(tc.create_run(ids[-1]).info.run_id, "m", 2.0)
        ours.stop()
        return path

    cases = [
        ("same name, another id", target_with("name-clash", ["refusal-shared-name"]), "refusal-shared-name"),
        ("same id, another name", target_with("id-clash", ["other-1", "other-2"]), "2"),
    ]
    for label, path, must_mention in cases:
        print(f"  -- refusal: {label}")
        before = sqlite_rows(path)
        p = ctx.run_import(["--from", source, "--to", f"sqlite:///{path}", "--no-progress"], expect_ok=False)
        message = p.stdout + p.stderr
        report.check(p.returncode != 0, f"{label}: the import exited 0")
        report.check(must_mention in message, f"{label}: the message does not name {must_mention!r}",
                     message.strip().splitlines()[-10:])
        after = sqlite_rows(path)
        changed = [f"table {t}: {len(before.get(t, []))} rows before, {len(after.get(t, []))} after"
                   for t in sorted(set(before) | set(after)) if before.get(t) != after.get(t)]
        report.check(not changed, f"{label}: the target changed", changed)
    return report


# ------------------------------------------------------------------------------------------ main

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binary", nargs="?", default=str(ROOT / ".build/release/swiftflow"))
    ap.add_argument("--pg-url", help="PostgreSQL server for the postgres case (its user creates two databases)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--cases", default="sqlite,file,auth,resume,refusal,postgres")
    ap.add_argument("--self-test", action="store_true", help="our server = the official one on a copy of the store")
    ap.add_argument("--resume-runs", type=int, default=2000)
    ap.add_argument("--kills", type=int, default=4)
    ap.add_argument("--inject-fault", action="store_true",
                    help="damage the sqlite case's target after the import: the comparison must fail")
    ap.add_argument("--seed", type=int, default=int(os.environ.get("IMPORT_COMPARE_SEED", "1")))
    args = ap.parse_args()
    if not args.self_test:
        probe = subprocess.run([args.binary, "import", "--help"], capture_output=True, text=True)
        if probe.returncode != 0:
            print(f"{args.binary} import --help failed (exit {probe.returncode}):\n{probe.stdout}{probe.stderr}")
            return 2
    binary = Path(args.binary)
    if not args.self_test:
        built = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(binary.stat().st_mtime))
        head = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h %s"], capture_output=True,
                              text=True).stdout.strip()
        print(f"{binary} (built {built}; repository at {head})")
    work = Path(tempfile.mkdtemp(prefix="swiftflow-import-compare."))
    ctx = Ctx(args, work)
    wanted = [c.strip() for c in args.cases.split(",") if c.strip()]
    if "postgres" in wanted and not args.pg_url:
        wanted.remove("postgres")
        print("(postgres case skipped: no --pg-url)")
    runners = {"sqlite": lambda: tracking_case(ctx, "sqlite", "sqlite"),
               "file": lambda: tracking_case(ctx, "file", "file"),
               "postgres": lambda: tracking_case(ctx, "postgres", "postgres"),
               "auth": lambda: auth_case(ctx), "resume": lambda: resume_case(ctx),
               "refusal": lambda: refusal_case(ctx)}
    results = []
    started = time.time()
    try:
        for case in wanted:
            print(f"== {case}")
            t = time.time()
            try:
                report = runners[case]()
            except Exception as e:  # a crash of the harness or a server is a failure of the case
                report = Report(case)
                report.fail(f"exception: {e!r}", traceback.format_exc().splitlines()[-15:])
            finally:
                for server in list(Server.running):
                    server.stop()
            results.append((case, report, time.time() - t))
    finally:
        for server in list(Server.running):
            server.stop()
        if args.keep:
            print(f"temporary files kept in {work}" + (f"; databases {', '.join(ctx.pg_dbs)}" if ctx.pg_dbs else ""))
        else:
            shutil.rmtree(work, ignore_errors=True)
            for name in ctx.pg_dbs:
                try:
                    admin_sql(ctx.pg_url, f'DROP DATABASE IF EXISTS "{name}"')
                except Exception as e:
                    print(f"could not drop database {name}: {e}")
    for case, report, _ in results:
        if report.digest:
            print(f"== {case}: where the answers differ")
            report.print_digest()
    print(f"== summary ({time.time() - started:.0f} s{', self-test' if args.self_test else ''})")
    for case, report, took in results:
        state = "FAIL" if report.failures else "SKIP" if report.skipped else "PASS"
        print(f"{state} {case:9s} {report.compared:5d} requests compared, {len(report.failures)} failures, "
              f"{len(report.notes)} notes, {took:.0f} s")
    return 0 if all(not r.failures for _, r, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
