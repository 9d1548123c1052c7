#!/usr/bin/env python3
"""Black-box test of an MLflow-compatible basic-auth server (`mlflow server --app-name basic-auth`).

    auth_test.py URL --admin-user U --admin-password P [--record FILE] [--matrix FILE]
                 [--steps authentication,users,permissions,ownership,non_admin,matrix,secrets]

Drives the server the way users do: the official auth client
(`mlflow.server.get_app_client("basic-auth", ...)`), `MlflowClient` with
MLFLOW_TRACKING_USERNAME/PASSWORD switched per user, and plain HTTP (requests, basic auth) for
routes the clients do not reach (UI ajax routes, /get-artifact, malformed Authorization headers).

What it does, as admin first and then as one non-admin user per permission level:
  * creates users; grants, reads, updates (through the user's role row) and revokes experiment
    and registered-model permissions; records the error answers (duplicate grant, unknown user,
    bad permission name, NO_PERMISSIONS, ...);
  * the permission matrix: for each level (READ, USE, EDIT, MANAGE, DENY, and NONE = no grant,
    which falls back to the server's default_permission; MLflow 3.x no longer accepts an explicit
    NO_PERMISSIONS grant, it is reached as NONE under default_permission=NO_PERMISSIONS) and each
    resource (experiment, run, artifact, logged_model, registered_model, model_version), runs
    real operations of each group (read / update / delete / manage) and records "allowed",
    "denied" (403 "Permission denied") or "error:<status>:<code>";
  * search filtering (experiments, runs, registered models, model versions, logged models) and
    paging refill; MANAGE for creators; grants after rename/delete; 401 answers (missing, wrong,
    malformed credentials); admin-only routes refused to non-admins;
  * that no plaintext password appears in any auth answer and no password hash in any
    successful one. (MLflow 3.17.2 itself leaks the hash of the submitted password in the
    "user already exists" error, so only its message prefix is compared.)

Every observation is a cell "LEVEL|resource|group|operation" (or "check|...") with a string
value. `--record FILE` writes the observed cells into FILE (used against the official server);
otherwise they are compared with FILE and every mismatch is printed. The last line is always
`N passed, M failed`; the exit status is non-zero when M > 0.

default_permission: the NONE row and the search-visibility cells depend on it, so FILE holds one
section per value, keyed "default_permission=READ" / "default_permission=NO_PERMISSIONS". The
script detects the server's value itself (a fresh user's effective permission on an experiment
it has no grant on) and compares with that section; recording replaces only the steps run, in
that section. scripts/auth_reference.sh records/compares both. --steps runs a subset (cells of
the other steps are then neither compared nor touched).
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import sys
import tempfile
import uuid
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
warnings.filterwarnings("ignore")

import requests  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric, Param, RunTag  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402
from mlflow.server import get_app_client  # noqa: E402

logging.getLogger("mlflow").setLevel(logging.WARNING)

LEVELS = ["READ", "USE", "EDIT", "MANAGE", "DENY", "NONE"]
GROUP_ORDER = ["read", "update", "manage", "delete"]
DENIED_BODY = "Permission denied"
PASSWORD_SUFFIX = "-pw-0123456789"


# --------------------------------------------------------------------------- plumbing


class Run:
    """Collects cells and hard assertions for one pass against a server."""

    def __init__(self, url: str, admin: tuple[str, str]):
        self.url = url.rstrip("/")
        self.admin = admin
        self.tag = uuid.uuid4().hex[:8]
        self.cells: dict[str, dict[str, object]] = {}  # step -> cell -> value
        self.step = ""
        self.failures: list[str] = []
        self.asserted = 0
        self.passwords: dict[str, str] = {}
        self.auth_answers: list[tuple[str, int, str]] = []  # (what, status, body)
        self.client = MlflowClient(self.url)
        self.auth = get_app_client("basic-auth", tracking_uri=self.url)
        self.tmp = Path(tempfile.mkdtemp(prefix="auth-test-"))

    def cell(self, key: str, value: object) -> None:
        self.cells.setdefault(self.step, {})[key] = value

    def check(self, what: str, ok: bool, detail: str = "") -> None:
        self.asserted += 1
        if not ok:
            self.failures.append(f"{what}: {detail}")

    def name(self, kind: str, label: str = "") -> str:
        return f"auth-{self.tag}-{kind}{'-' + label.lower() if label else ''}"

    def http(self, method: str, path: str, user: str | None = None, **kwargs) -> requests.Response:
        if user is not None and "auth" not in kwargs:
            kwargs["auth"] = (user, self.passwords[user])
        return requests.request(method, self.url + path, timeout=60, **kwargs)


@contextmanager
def as_user(run: Run, user: str):
    """Make MlflowClient and the auth client act as `user` (credentials are read per request)."""
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")}
    os.environ["MLFLOW_TRACKING_USERNAME"] = user
    os.environ["MLFLOW_TRACKING_PASSWORD"] = run.passwords[user]
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def classify(exc: Exception) -> str:
    """'denied' for a 403 "Permission denied", else 'error:<status>:<code>'."""
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        status = exc.response.status_code
        if status == 403 and exc.response.text == DENIED_BODY:
            return "denied"
        return f"error:{status}:http"
    if isinstance(exc, MlflowException):
        status = exc.get_http_status_code()
        if status == 403 and f"Response body: '{DENIED_BODY}'" in exc.message:
            return "denied"
        return f"error:{status}:{exc.error_code}"
    return f"error:exception:{type(exc).__name__}"


def outcome(action: Callable[[], object]) -> str:
    try:
        result = action()
    except Exception as exc:  # noqa: BLE001 - every failure is an observation
        return classify(exc)
    if isinstance(result, requests.Response):
        if result.status_code == 200:
            return "allowed"
        if result.status_code == 403 and result.text == DENIED_BODY:
            return "denied"
        try:
            code = result.json().get("error_code", "")
        except ValueError:
            code = "text"
        return f"error:{result.status_code}:{code}"
    return "allowed"


def error_of(action: Callable[[], object]) -> str:
    """'<status> <error_code>: <message>' of a failing auth-client call, or 'ok'."""
    try:
        action()
    except MlflowException as exc:
        message = exc.message.removeprefix(f"{exc.error_code}: ")
        return f"{exc.get_http_status_code()} {exc.error_code}: {message}"
    return "ok"


def answer(resp: requests.Response) -> str:
    """Status plus error_code/message (JSON) or body (text) of a raw answer."""
    try:
        body = resp.json()
    except ValueError:
        return f"{resp.status_code} {resp.text}"
    if isinstance(body, dict) and "error_code" in body:
        return f"{resp.status_code} {body['error_code']}: {body.get('message')}"
    return f"{resp.status_code} {json.dumps(body, sort_keys=True)}"


def shape(value: object, depth: int = 0) -> object:
    """JSON shape: keys in order with value types (ids and names vary between runs). Lists
    nested in list items are shown as "list", since their first item depends on the data."""
    if isinstance(value, dict):
        return {k: shape(v, depth) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0], depth + 1)] if value and depth == 0 else "list"
    return type(value).__name__


# --------------------------------------------------------------------------- setup


def create_user(run: Run, user: str) -> dict:
    password = user + PASSWORD_SUFFIX
    run.passwords[user] = password
    resp = run.http("POST", "/api/2.0/mlflow/users/create", auth=run.admin,
                    json={"username": user, "password": password})
    run.auth_answers.append((f"create {user}", resp.status_code, resp.text))
    run.check(f"create user {user}", resp.status_code == 200, answer(resp))
    return resp.json()["user"]


def setup_level(run: Run, level: str, helper: str) -> dict:
    """As admin: one experiment with a run, artifacts, a logged model, and a registered model
    with one version, tag and alias; grants `level` on both to the level's user."""
    c = run.client
    res: dict = {"level": level, "user": run.name("user", level)}
    create_user(run, res["user"])
    res["exp_name"] = run.name("exp", level)
    res["exp_id"] = c.create_experiment(res["exp_name"])
    r = c.create_run(res["exp_id"])
    res["run_id"] = r.info.run_id
    c.log_metric(res["run_id"], "m", 1.0)
    for path, sub in (("extra.txt", None), ("model/MLmodel", "model"), ("gone.txt", None)):
        local = run.tmp / level / path
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_text(f"{level} {path}\n")
        c.log_artifact(res["run_id"], str(local), sub)
    res["artifact_root"] = f"{res['exp_id']}/{res['run_id']}/artifacts"
    res["source"] = f"{r.info.artifact_uri}/model"
    lm = c.create_logged_model(res["exp_id"], name="lm", tags={"t": "v", "gone": "x"})
    res["model_id"] = lm.model_id
    res["rm"] = run.name("rm", level)
    c.create_registered_model(res["rm"], tags={"gone": "x"})
    mv = c.create_model_version(res["rm"], res["source"], run_id=res["run_id"], tags={"gone": "x"})
    res["version"] = mv.version
    c.set_registered_model_alias(res["rm"], "champion", mv.version)
    res["helper"] = helper
    if level != "NONE":
        run.auth.grant_user_permission(res["user"], "experiment", res["exp_id"], level)
        run.auth.grant_user_permission(res["user"], "registered_model", res["rm"], level)
    return res


# --------------------------------------------------------------------------- the matrix
# Each entry: (resource, group, operation, action(run, res)). Run in GROUP_ORDER; within a group
# in table order, so deletes of children come before deletes of their parents.


def _history_bulk(run: Run, res: dict) -> requests.Response:
    return run.http("GET", "/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval", res["user"],
                    params={"run_ids": res["run_id"], "metric_key": "m"})


OPS: list[tuple[str, str, str, Callable[[Run, dict], object]]] = [
    # experiments
    ("experiment", "read", "get_experiment", lambda run, r: run.client.get_experiment(r["exp_id"])),
    ("experiment", "read", "get_experiment_by_name",
     lambda run, r: run.client.get_experiment_by_name(r["exp_name"])),
    ("experiment", "read", "search_datasets_ajax",
     lambda run, r: run.http("POST", "/ajax-api/2.0/mlflow/experiments/search-datasets", r["user"],
                             json={"experiment_ids": [r["exp_id"]]})),
    ("experiment", "update", "set_experiment_tag",
     lambda run, r: run.client.set_experiment_tag(r["exp_id"], "k", "v")),
    ("experiment", "update", "delete_experiment_tag",
     lambda run, r: run.client.delete_experiment_tag(r["exp_id"], "k")),
    ("experiment", "manage", "grant_permission",
     lambda run, r: run.auth.grant_user_permission(r["helper"], "experiment", r["exp_id"], "READ")),
    ("experiment", "manage", "revoke_permission",
     lambda run, r: run.auth.revoke_user_permission(r["helper"], "experiment", r["exp_id"])),
    # runs
    ("run", "read", "get_run", lambda run, r: run.client.get_run(r["run_id"])),
    ("run", "read", "get_metric_history",
     lambda run, r: run.client.get_metric_history(r["run_id"], "m")),
    ("run", "read", "get_history_bulk_interval_ajax", _history_bulk),
    ("run", "update", "create_run", lambda run, r: run.client.create_run(r["exp_id"])),
    ("run", "update", "log_metric", lambda run, r: run.client.log_metric(r["run_id"], "m", 2.0)),
    ("run", "update", "log_param", lambda run, r: run.client.log_param(r["run_id"], "p", "1")),
    ("run", "update", "set_tag", lambda run, r: run.client.set_tag(r["run_id"], "k", "v")),
    ("run", "update", "delete_tag", lambda run, r: run.client.delete_tag(r["run_id"], "k")),
    ("run", "update", "log_batch",
     lambda run, r: run.client.log_batch(r["run_id"], metrics=[Metric("b", 1.0, 0, 0)],
                                         params=[Param("q", "1")], tags=[RunTag("t", "1")])),
    ("run", "update", "update_run",
     lambda run, r: run.client.update_run(r["run_id"], name="renamed")),
    # artifacts (proxied: mlflow-artifacts:/ URIs through the tracking server)
    ("artifact", "read", "list_artifacts", lambda run, r: run.client.list_artifacts(r["run_id"])),
    ("artifact", "read", "download_artifacts",
     lambda run, r: run.client.download_artifacts(r["run_id"], "extra.txt",
                                                  tempfile.mkdtemp(dir=run.tmp))),
    ("artifact", "read", "rest_artifacts_list",
     lambda run, r: run.http("GET", "/api/2.0/mlflow/artifacts/list", r["user"],
                             params={"run_id": r["run_id"]})),
    ("artifact", "read", "get_artifact_ui",
     lambda run, r: run.http("GET", "/get-artifact", r["user"],
                             params={"run_id": r["run_id"], "path": "extra.txt"})),
    ("artifact", "update", "log_artifact",
     lambda run, r: run.client.log_artifact(r["run_id"], str(run.tmp / r["level"] / "extra.txt"),
                                            "uploaded")),
    # logged models
    ("logged_model", "read", "get_logged_model",
     lambda run, r: run.client.get_logged_model(r["model_id"])),
    ("logged_model", "update", "create_logged_model",
     lambda run, r: run.client.create_logged_model(r["exp_id"], name="lm2")),
    # MlflowClient.set_logged_model_tags reads the model first and turns any failure into a
    # client-side INVALID_PARAMETER_VALUE, so this one goes over plain HTTP.
    ("logged_model", "update", "set_logged_model_tags",
     lambda run, r: run.http("PATCH", f"/api/2.0/mlflow/logged-models/{r['model_id']}/tags",
                             r["user"], json={"tags": [{"key": "k", "value": "v"}]})),
    # registered models
    ("registered_model", "read", "get_registered_model",
     lambda run, r: run.client.get_registered_model(r["rm"])),
    ("registered_model", "update", "update_registered_model",
     lambda run, r: run.client.update_registered_model(r["rm"], description="d")),
    ("registered_model", "update", "set_registered_model_tag",
     lambda run, r: run.client.set_registered_model_tag(r["rm"], "k", "v")),
    ("registered_model", "update", "delete_registered_model_tag",
     lambda run, r: run.client.delete_registered_model_tag(r["rm"], "k")),
    ("registered_model", "manage", "grant_permission",
     lambda run, r: run.auth.grant_user_permission(r["helper"], "registered_model", r["rm"],
                                                   "READ")),
    ("registered_model", "manage", "revoke_permission",
     lambda run, r: run.auth.revoke_user_permission(r["helper"], "registered_model", r["rm"])),
    # model versions
    ("model_version", "read", "get_model_version",
     lambda run, r: run.client.get_model_version(r["rm"], r["version"])),
    ("model_version", "read", "get_model_version_by_alias",
     lambda run, r: run.client.get_model_version_by_alias(r["rm"], "champion")),
    ("model_version", "read", "get_model_version_download_uri",
     lambda run, r: run.client.get_model_version_download_uri(r["rm"], r["version"])),
    ("model_version", "read", "get_artifact_ui",
     lambda run, r: run.http("GET", "/model-versions/get-artifact", r["user"],
                             params={"name": r["rm"], "version": r["version"], "path": "MLmodel"})),
    ("model_version", "update", "create_model_version",
     lambda run, r: run.client.create_model_version(r["rm"], r["source"], run_id=r["run_id"])),
    ("model_version", "update", "update_model_version",
     lambda run, r: run.client.update_model_version(r["rm"], r["version"], description="d")),
    ("model_version", "update", "set_model_version_tag",
     lambda run, r: run.client.set_model_version_tag(r["rm"], r["version"], "k", "v")),
    ("model_version", "update", "set_registered_model_alias",
     lambda run, r: run.client.set_registered_model_alias(r["rm"], "other", r["version"])),
    # deletes: children before parents
    ("artifact", "delete", "delete_artifact",
     lambda run, r: run.http("DELETE",
                             f"/api/2.0/mlflow-artifacts/artifacts/{r['artifact_root']}/gone.txt",
                             r["user"])),
    ("model_version", "delete", "delete_model_version_tag",
     lambda run, r: run.client.delete_model_version_tag(r["rm"], r["version"], "gone")),
    ("model_version", "delete", "delete_registered_model_alias",
     lambda run, r: run.client.delete_registered_model_alias(r["rm"], "champion")),
    ("model_version", "delete", "delete_model_version",
     lambda run, r: run.client.delete_model_version(r["rm"], r["version"])),
    ("registered_model", "delete", "delete_registered_model",
     lambda run, r: run.client.delete_registered_model(r["rm"])),
    ("logged_model", "delete", "delete_logged_model_tag",
     lambda run, r: run.client.delete_logged_model_tag(r["model_id"], "gone")),
    ("logged_model", "delete", "delete_logged_model",
     lambda run, r: run.client.delete_logged_model(r["model_id"])),
    ("run", "delete", "delete_run", lambda run, r: run.client.delete_run(r["run_id"])),
    ("run", "delete", "restore_run", lambda run, r: run.client.restore_run(r["run_id"])),
    ("experiment", "delete", "delete_experiment",
     lambda run, r: run.client.delete_experiment(r["exp_id"])),
    ("experiment", "delete", "restore_experiment",
     lambda run, r: run.client.restore_experiment(r["exp_id"])),
]


def effective_permissions(run: Run, levels: dict[str, dict]) -> None:
    """Each level user's effective permission, as the user itself asks for it."""
    for level, res in levels.items():
        with as_user(run, res["user"]):
            for kind, rid in (("experiment", res["exp_id"]), ("registered_model", res["rm"])):
                got = run.auth.get_user_permission(res["user"], kind, rid)
                run.cell(f"{level}|{kind}|info|effective_permission",
                         f"{got.permission} allowed={got.allowed}")


def search_visibility(run: Run, levels: dict[str, dict]) -> None:
    """Which of the level resources each level user finds through the search routes."""
    by_exp = {res["exp_id"]: lvl for lvl, res in levels.items()}
    by_rm = {res["rm"]: lvl for lvl, res in levels.items()}
    by_run = {res["run_id"]: lvl for lvl, res in levels.items()}
    exp_ids = list(by_exp)
    prefix = f"auth-{run.tag}-"
    for level, res in levels.items():
        with as_user(run, res["user"]):
            c = run.client
            found = {
                "experiment": [by_exp.get(e.experiment_id) for e in c.search_experiments(
                    filter_string=f"name LIKE '{prefix}exp-%'", max_results=100)],
                "run": [by_run.get(r.info.run_id) for r in c.search_runs(exp_ids, max_results=100)],
                "registered_model": [by_rm.get(m.name) for m in c.search_registered_models(
                    filter_string=f"name LIKE '{prefix}rm-%'", max_results=100)],
                "model_version": [by_rm.get(v.name) for v in c.search_model_versions(
                    filter_string=f"name LIKE '{prefix}rm-%'", max_results=100)],
                "logged_model": [by_exp.get(m.experiment_id) for m in c.search_logged_models(
                    exp_ids, max_results=100)],
            }
            for kind, labels in found.items():
                run.cell(f"{level}|{kind}|search|visible",
                         ",".join(sorted(str(lbl) for lbl in labels)))


def search_paging(run: Run, levels: dict[str, dict]) -> None:
    """Page sizes when paging max_results=2 through the level experiments/models, per user."""
    prefix = f"auth-{run.tag}-"
    for level in ("READ", "DENY"):
        with as_user(run, levels[level]["user"]):
            for kind, search in (
                ("experiment", lambda tok: run.client.search_experiments(
                    filter_string=f"name LIKE '{prefix}exp-%'", max_results=2,
                    order_by=["name ASC"], page_token=tok)),
                ("registered_model", lambda tok: run.client.search_registered_models(
                    filter_string=f"name LIKE '{prefix}rm-%'", max_results=2,
                    order_by=["name ASC"], page_token=tok)),
            ):
                sizes, token = [], None
                for _ in range(10):
                    page = search(token)
                    sizes.append(len(page))
                    token = page.token
                    if not token:
                        break
                run.cell(f"{level}|{kind}|search|page_sizes", ",".join(map(str, sizes)))


def matrix(run: Run) -> None:
    helper = run.name("helper")
    create_user(run, helper)
    levels = {level: setup_level(run, level, helper) for level in LEVELS}
    effective_permissions(run, levels)
    search_visibility(run, levels)
    search_paging(run, levels)
    for group in GROUP_ORDER:
        for resource, op_group, op, action in OPS:
            if op_group != group:
                continue
            for level, res in levels.items():
                with as_user(run, res["user"]):
                    run.cell(f"{level}|{resource}|{group}|{op}",
                             outcome(lambda: action(run, res)))


# --------------------------------------------------------------------------- other checks


def check_users_api(run: Run) -> None:
    user = run.name("user", "api")
    created = create_user(run, user)
    run.cell("check|users|create|shape", json.dumps(shape({"user": created})))
    resp = run.http("GET", "/api/2.0/mlflow/users/get", auth=run.admin, params={"username": user})
    run.auth_answers.append(("get user", resp.status_code, resp.text))
    run.cell("check|users|get|shape", json.dumps(shape(resp.json())))
    run.check("get user answers the created user", resp.json() == {"user": created}, resp.text)
    run.check("get user via client", run.auth.get_user(user).username == user)
    pw = run.passwords[user]
    dup = run.http("POST", "/api/2.0/mlflow/users/create", auth=run.admin,
                   json={"username": user, "password": pw})
    run.auth_answers.append(("duplicate create", dup.status_code, dup.text))
    body = dup.json()
    run.cell("check|users|create|duplicate",
             f"{dup.status_code} {body['error_code']}: "
             + body["message"].split(" Error:")[0].replace(user, "<user>"))
    bad_requests = {
        "short_password": ("POST", "/api/2.0/mlflow/users/create",
                           {"json": {"username": run.name("short"), "password": "short"}}),
        "empty_username": ("POST", "/api/2.0/mlflow/users/create",
                           {"json": {"username": "", "password": pw}}),
        "missing_password": ("POST", "/api/2.0/mlflow/users/create",
                             {"json": {"username": run.name("nopw")}}),
        "form_body": ("POST", "/api/2.0/mlflow/users/create",
                      {"data": {"username": run.name("form"), "password": pw}}),
        "get_unknown": ("GET", "/api/2.0/mlflow/users/get", {"params": {"username": "nobody-x"}}),
        "get_missing_param": ("GET", "/api/2.0/mlflow/users/get", {}),
        "update_password_unknown": ("PATCH", "/api/2.0/mlflow/users/update-password",
                                    {"json": {"username": "nobody-x", "password": pw}}),
        "update_password_short": ("PATCH", "/api/2.0/mlflow/users/update-password",
                                  {"json": {"username": user, "password": "short"}}),
        "update_admin_unknown": ("PATCH", "/api/2.0/mlflow/users/update-admin",
                                 {"json": {"username": "nobody-x", "is_admin": True}}),
        "update_admin_missing": ("PATCH", "/api/2.0/mlflow/users/update-admin",
                                 {"json": {"username": user}}),
        "delete_unknown": ("DELETE", "/api/2.0/mlflow/users/delete",
                           {"json": {"username": "nobody-x"}}),
        "delete_self": ("DELETE", "/api/2.0/mlflow/users/delete",
                        {"json": {"username": run.admin[0]}}),
    }
    for key, (method, path, kwargs) in bad_requests.items():
        resp = run.http(method, path, auth=run.admin, **kwargs)
        run.auth_answers.append((key, resp.status_code, resp.text))
        run.cell(f"check|users|error|{key}", answer(resp))
    ajax = run.http("GET", "/ajax-api/2.0/mlflow/users/get", auth=run.admin,
                    params={"username": user})
    run.cell("check|users|get|ajax_path", ajax.status_code)
    current = run.http("GET", "/api/2.0/mlflow/users/current", user)
    run.auth_answers.append(("current user", current.status_code, current.text))
    run.cell("check|users|current|shape", json.dumps(shape(current.json())))
    listed = run.http("GET", "/api/2.0/mlflow/users/list", auth=run.admin)
    run.auth_answers.append(("list users", listed.status_code, listed.text))
    run.cell("check|users|list|shape", json.dumps(shape(listed.json())))
    # self-service password change needs the current one; then only the new one works
    with as_user(run, user):
        run.cell("check|users|update_password|self_without_current",
                 error_of(lambda: run.auth.update_user_password(user, pw + "2")))
        run.cell("check|users|update_password|self_wrong_current",
                 error_of(lambda: run.auth.update_user_password(user, pw + "2", "wrong-pass-x1")))
        run.cell("check|users|update_password|self_same",
                 error_of(lambda: run.auth.update_user_password(user, pw, pw)))
        run.cell("check|users|update_password|self_ok",
                 error_of(lambda: run.auth.update_user_password(user, pw + "2", pw)))
    old = run.http("GET", "/api/2.0/mlflow/users/current", auth=(user, pw))
    run.passwords[user] = pw + "2"
    new = run.http("GET", "/api/2.0/mlflow/users/current", user)
    run.cell("check|users|update_password|old_then_new", f"{old.status_code},{new.status_code}")
    run.auth.update_user_password(user, pw + "3")  # as admin: no current password needed
    run.passwords[user] = pw + "3"
    run.cell("check|users|update_password|admin_sets",
             run.http("GET", "/api/2.0/mlflow/users/current", user).status_code)
    # admin flag
    run.auth.update_user_admin(user, True)
    run.cell("check|users|update_admin|promoted", run.auth.get_user(user).is_admin)
    with as_user(run, user):
        run.cell("check|users|update_admin|promoted_can_list_roles",
                 outcome(lambda: run.http("GET", "/api/3.0/mlflow/roles/list", user)))
    run.auth.update_user_admin(user, False)
    run.cell("check|users|update_admin|demoted", run.auth.get_user(user).is_admin)
    # delete: credentials stop working
    run.auth.delete_user(user)
    run.cell("check|users|delete|then_login",
             run.http("GET", "/api/2.0/mlflow/users/current", user).status_code)
    run.cell("check|users|delete|then_get",
             error_of(lambda: run.auth.get_user(user)).replace(user, "<user>"))


def check_permissions_api(run: Run) -> None:
    """Grant / read / update / revoke through the app client, as admin."""
    user = run.name("user", "perm")
    create_user(run, user)
    exp_id = run.client.create_experiment(run.name("perm-exp"))
    rm = run.name("perm-rm")
    run.client.create_registered_model(rm)
    a = run.auth
    for kind, rid in (("experiment", exp_id), ("registered_model", rm)):
        key = f"check|permissions|{kind}"

        def get() -> str:
            p = a.get_user_permission(user, kind, rid)
            return f"{p.permission} allowed={p.allowed}"

        def scrub(text: str) -> str:
            return text.replace(user, "<user>").replace(f"resource_id={rid}", "resource_id=<id>")

        run.cell(f"{key}|before", get())
        a.grant_user_permission(user, kind, rid, "EDIT")
        run.cell(f"{key}|granted_edit", get())
        run.cell(f"{key}|grant_again",
                 scrub(error_of(lambda: a.grant_user_permission(user, kind, rid, "READ"))))
        role = next(r for r in a.list_user_roles(user) if r.name.startswith("__user_"))
        row = next(p for p in role.permissions
                   if p.resource_type == kind and p.resource_pattern == rid)
        a.update_role_permission(row.id, "MANAGE")
        run.cell(f"{key}|updated_manage", get())
        a.revoke_user_permission(user, kind, rid)
        run.cell(f"{key}|revoked", get())
        run.cell(f"{key}|revoke_again",
                 scrub(error_of(lambda: a.revoke_user_permission(user, kind, rid))))
        for bad in ("BOGUS", "NO_PERMISSIONS", "read"):
            run.cell(f"{key}|grant_{bad}",
                     scrub(error_of(lambda: a.grant_user_permission(user, kind, rid, bad))))
        run.cell(f"{key}|grant_unknown_user",
                 scrub(error_of(lambda: a.grant_user_permission("nobody-x", kind, rid, "READ"))))
        run.cell(f"{key}|get_unknown_user",
                 scrub(error_of(lambda: a.get_user_permission("nobody-x", kind, rid))))
    run.cell("check|permissions|grant|bad_resource_type",
             error_of(lambda: a.grant_user_permission(user, "bogus", "1", "READ")))
    run.cell("check|permissions|grant|missing_field",
             answer(run.http("POST", "/api/3.0/mlflow/users/permissions/grant", auth=run.admin,
                             json={"username": user, "resource_type": "experiment"})))
    run.cell("check|permissions|get|nonexistent_experiment",
             "{0.permission} allowed={0.allowed}".format(
                 a.get_user_permission(user, "experiment", "987654321")))
    listed = run.http("GET", "/api/3.0/mlflow/users/permissions/list", auth=run.admin,
                      params={"username": user})
    run.auth_answers.append(("list user permissions", listed.status_code, listed.text))
    run.cell("check|permissions|list|status", listed.status_code)


def check_ownership_and_lifecycle(run: Run) -> None:
    creator = run.name("user", "creator")
    other = run.name("user", "other")
    create_user(run, creator)
    create_user(run, other)
    a = run.auth

    def perm(user: str, kind: str, rid: str) -> str:
        return a.get_user_permission(user, kind, rid).permission

    with as_user(run, creator):
        exp_id = run.client.create_experiment(run.name("own-exp"))
        rm = run.name("own-rm")
        run.client.create_registered_model(rm)
        own = a.get_user_permission(creator, "experiment", exp_id)
        run.cell("check|ownership|experiment|creator_self_view",
                 f"{own.permission} allowed={own.allowed}")
    run.cell("check|ownership|experiment|creator", perm(creator, "experiment", exp_id))
    run.cell("check|ownership|registered_model|creator", perm(creator, "registered_model", rm))
    run.cell("check|ownership|experiment|other_user", perm(other, "experiment", exp_id))
    with as_user(run, other):
        run.cell("check|ownership|experiment|other_deletes",
                 outcome(lambda: run.client.delete_experiment(exp_id)))
    with as_user(run, creator):
        run.cell("check|ownership|experiment|creator_deletes",
                 outcome(lambda: run.client.delete_experiment(exp_id)))
    # a grant outlives the (soft-)deleted experiment
    a.grant_user_permission(other, "experiment", exp_id, "EDIT")
    run.cell("check|lifecycle|experiment|grant_after_delete", perm(other, "experiment", exp_id))
    # registered-model grants follow a rename and are swept by a delete
    a.grant_user_permission(other, "registered_model", rm, "EDIT")
    renamed = rm + "-renamed"
    run.client.rename_registered_model(rm, renamed)
    run.cell("check|lifecycle|registered_model|renamed_new_name",
             perm(other, "registered_model", renamed))
    run.cell("check|lifecycle|registered_model|renamed_old_name",
             perm(other, "registered_model", rm))
    run.cell("check|lifecycle|registered_model|creator_after_rename",
             perm(creator, "registered_model", renamed))
    run.client.delete_registered_model(renamed)
    run.client.create_registered_model(renamed)
    run.cell("check|lifecycle|registered_model|recreated_same_name",
             perm(other, "registered_model", renamed))
    # admins bypass every check, even an explicit DENY grant on themselves
    admin = run.admin[0]
    a.revoke_user_permission(admin, "registered_model", renamed)  # the MANAGE it got as creator
    a.grant_user_permission(admin, "registered_model", renamed, "DENY")
    run.cell("check|admin|registered_model|deny_grant_effective", perm(admin, "registered_model",
                                                                     renamed))
    run.cell("check|admin|registered_model|deny_grant_read",
             outcome(lambda: run.client.get_registered_model(renamed)))
    run.cell("check|admin|registered_model|deny_grant_search", [
        m.name for m in run.client.search_registered_models(f"name = '{renamed}'")] == [renamed])


def check_authentication(run: Run) -> None:
    """401 answers for missing, wrong and malformed credentials (Flask and native routes)."""
    user = run.name("user", "authn")
    create_user(run, user)
    pw = run.passwords[user]
    routes = {
        "tracking": "/api/2.0/mlflow/experiments/search?max_results=1",
        "artifact_download": "/api/2.0/mlflow-artifacts/artifacts/0/none.txt",
    }

    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    headers = {
        "missing": None,
        "wrong_password": "Basic " + b64(f"{user}:wrong-password-x"),
        "unknown_user": "Basic " + b64(f"nobody-x:{pw}"),
        "basic_not_base64": "Basic !!!",
        "bearer": "Bearer x",
        "base64_without_colon": "Basic " + b64(user),
        "empty_basic": "Basic",
        "empty_password": "Basic " + b64(f"{user}:"),
        "lowercase_scheme": "basic " + b64(f"{user}:{pw}"),
        "valid": "Basic " + b64(f"{user}:{pw}"),
    }
    for route, path in routes.items():
        for case, header in headers.items():
            resp = run.http("GET", path, headers={"Authorization": header} if header else {})
            value = str(resp.status_code)
            if resp.status_code == 401:
                value += f" {resp.headers.get('WWW-Authenticate')} {resp.text}"
                run.check(f"401 carries WWW-Authenticate ({route}/{case})",
                          resp.headers.get("WWW-Authenticate", "").startswith("Basic"),
                          str(dict(resp.headers)))
            run.cell(f"check|authn|{route}|{case}", value)
    for path in ("/health", "/api/3.0/mlflow/server-info", "/version", "/", "/signup"):
        run.cell(f"check|authn|unauthenticated|{path}", run.http("GET", path).status_code)


def check_admin_only(run: Run) -> None:
    """What a plain user may and may not do on the auth routes."""
    user = run.name("user", "plain")
    other = run.name("user", "plain2")
    create_user(run, user)
    create_user(run, other)
    exp_id = run.client.create_experiment(run.name("adm-exp"))
    pw = "fresh-password-1234"
    calls = {
        "create_user": ("POST", "/api/2.0/mlflow/users/create",
                        {"json": {"username": run.name("x"), "password": pw}}),
        "update_admin_self": ("PATCH", "/api/2.0/mlflow/users/update-admin",
                              {"json": {"username": user, "is_admin": True}}),
        "update_admin_other": ("PATCH", "/api/2.0/mlflow/users/update-admin",
                               {"json": {"username": other, "is_admin": True}}),
        "delete_other": ("DELETE", "/api/2.0/mlflow/users/delete", {"json": {"username": other}}),
        "update_password_other": ("PATCH", "/api/2.0/mlflow/users/update-password",
                                  {"json": {"username": other, "password": pw}}),
        "get_other": ("GET", "/api/2.0/mlflow/users/get", {"params": {"username": other}}),
        "get_self": ("GET", "/api/2.0/mlflow/users/get", {"params": {"username": user}}),
        "current": ("GET", "/api/2.0/mlflow/users/current", {}),
        "list_users": ("GET", "/api/2.0/mlflow/users/list", {}),
        "current_permissions": ("GET", "/api/3.0/mlflow/users/current/permissions", {}),
        "list_permissions_other": ("GET", "/api/3.0/mlflow/users/permissions/list",
                                   {"params": {"username": other}}),
        "get_permission_self": ("GET", "/api/3.0/mlflow/users/permissions/get",
                                {"params": {"username": user, "resource_type": "experiment",
                                            "resource_id": exp_id}}),
        "get_permission_other": ("GET", "/api/3.0/mlflow/users/permissions/get",
                                 {"params": {"username": other, "resource_type": "experiment",
                                             "resource_id": exp_id}}),
        "grant_on_unowned": ("POST", "/api/3.0/mlflow/users/permissions/grant",
                             {"json": {"username": user, "resource_type": "experiment",
                                       "resource_id": exp_id, "permission": "MANAGE"}}),
        "grant_wildcard": ("POST", "/api/3.0/mlflow/users/permissions/grant",
                           {"json": {"username": user, "resource_type": "experiment",
                                     "resource_id": "*", "permission": "READ"}}),
        "list_roles": ("GET", "/api/3.0/mlflow/roles/list", {}),
        "create_role": ("POST", "/api/3.0/mlflow/roles/create",
                        {"json": {"name": run.name("role"), "workspace": "default"}}),
        "signup_page": ("GET", "/signup", {}),
        "ajax_create_user": ("POST", "/ajax-api/2.0/mlflow/users/create",
                             {"json": {"username": run.name("y"), "password": pw}}),
        "wrong_method_delete_user": ("POST", "/api/2.0/mlflow/users/delete",
                                     {"json": {"username": other}}),
        "unknown_route": ("GET", "/api/2.0/mlflow/no-such-route", {}),
    }
    for key, (method, path, kwargs) in calls.items():
        resp = run.http(method, path, user, **kwargs)
        run.auth_answers.append((f"plain {key}", resp.status_code, resp.text))
        value = outcome(lambda: resp)
        if value == "denied":
            run.check(f"403 body for {key}", resp.text == DENIED_BODY, resp.text)
        run.cell(f"check|non_admin|{key}", value)
    # resources that do not exist: some routes deny (no existence oracle), others reach the handler
    missing = {
        "get_experiment": ("GET", "/api/2.0/mlflow/experiments/get",
                           {"params": {"experiment_id": "987654321"}}),
        "get_experiment_by_name": ("GET", "/api/2.0/mlflow/experiments/get-by-name",
                                   {"params": {"experiment_name": "no-such-experiment-x"}}),
        "get_run": ("GET", "/api/2.0/mlflow/runs/get", {"params": {"run_id": "0" * 32}}),
        "log_metric": ("POST", "/api/2.0/mlflow/runs/log-metric",
                       {"json": {"run_id": "0" * 32, "key": "m", "value": 1, "timestamp": 0}}),
        "get_registered_model": ("GET", "/api/2.0/mlflow/registered-models/get",
                                 {"params": {"name": "no-such-model-x"}}),
        "get_model_version": ("GET", "/api/2.0/mlflow/model-versions/get",
                              {"params": {"name": "no-such-model-x", "version": "1"}}),
        "get_logged_model": ("GET", "/api/2.0/mlflow/logged-models/m-" + "0" * 32, {}),
        "get_artifact_ui": ("GET", "/get-artifact",
                            {"params": {"run_id": "0" * 32, "path": "x.txt"}}),
    }
    for key, (method, path, kwargs) in missing.items():
        run.cell(f"check|non_admin|missing|{key}", answer(run.http(method, path, user, **kwargs)))
    with as_user(run, user):
        run.cell("check|non_admin|app_client_create_user",
                 outcome(lambda: run.auth.create_user(run.name("z"), pw)))
        run.cell("check|non_admin|app_client_update_admin",
                 outcome(lambda: run.auth.update_user_admin(user, True)))


def check_no_secrets(run: Run) -> None:
    """No plaintext password in any auth answer; no password hash in any successful one."""
    markers = ("scrypt:", "pbkdf2:", "password_hash")
    for what, status, body in run.auth_answers:
        for user, password in run.passwords.items():
            run.check(f"no plaintext password in '{what}'", password not in body, body[:200])
        if status == 200:
            for marker in markers:
                run.check(f"no hash in '{what}'", marker not in body, body[:200])


# --------------------------------------------------------------------------- main


def detect_default_permission(run: Run) -> str:
    probe = run.name("user", "probe")
    create_user(run, probe)
    exp_id = run.client.create_experiment(run.name("probe-exp"))
    return run.auth.get_user_permission(probe, "experiment", exp_id).permission


STEPS: dict[str, Callable[[Run], None]] = {
    "authentication": check_authentication,
    "users": check_users_api,
    "permissions": check_permissions_api,
    "ownership": check_ownership_and_lifecycle,
    "non_admin": check_admin_only,
    "matrix": matrix,
    "secrets": check_no_secrets,
}


def compare(expected: dict, observed: dict) -> tuple[int, list[str]]:
    passed, problems = 0, []
    for key in sorted(set(expected) | set(observed)):
        if key not in observed:
            problems.append(f"{key}: expected {expected[key]!r}, not observed")
        elif key not in expected:
            problems.append(f"{key}: observed {observed[key]!r}, not in the matrix file")
        elif expected[key] != observed[key]:
            problems.append(f"{key}: expected {expected[key]!r}, observed {observed[key]!r}")
        else:
            passed += 1
    return passed, problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("--admin-user", required=True)
    parser.add_argument("--admin-password", required=True)
    parser.add_argument("--record", metavar="FILE", help="write observed cells into FILE")
    parser.add_argument("--matrix", metavar="FILE",
                        default=str(Path(__file__).with_name("auth_matrix.json")))
    parser.add_argument("--steps", default=",".join(STEPS),
                        help=f"comma-separated subset of: {','.join(STEPS)} (default: all)")
    args = parser.parse_args()
    steps = [step.strip() for step in args.steps.split(",") if step.strip()]
    unknown = [step for step in steps if step not in STEPS]
    if unknown:
        parser.error(f"unknown steps: {unknown}")

    run = Run(args.url, (args.admin_user, args.admin_password))
    run.passwords[args.admin_user] = args.admin_password
    os.environ["MLFLOW_TRACKING_USERNAME"] = args.admin_user
    os.environ["MLFLOW_TRACKING_PASSWORD"] = args.admin_password

    default_permission = detect_default_permission(run)
    section = f"default_permission={default_permission}"
    print(f"auth_test: server default_permission is {default_permission}; steps: {steps}")
    for step in steps:
        run.step = step
        try:
            STEPS[step](run)
        except Exception as exc:  # noqa: BLE001 - report and go on with the next step
            run.check(f"step {step} ran to the end", False, f"{type(exc).__name__}: {exc}")
        run.cells.setdefault(step, {})

    path = Path(args.record or args.matrix)
    stored = json.loads(path.read_text()) if path.exists() else {}
    passed, problems = 0, []
    if args.record:
        recorded = stored.setdefault(section, {})
        for step in steps:
            recorded[step] = dict(sorted(run.cells[step].items()))
        stored[section] = {step: recorded[step] for step in STEPS if step in recorded}
        path.write_text(json.dumps(dict(sorted(stored.items())), indent=1) + "\n")
        count = sum(len(run.cells[step]) for step in steps)
        print(f"auth_test: recorded {count} cells into {path} [{section}]")
        passed = count
    elif section not in stored:
        problems.append(f"{path} has no section {section!r}")
    else:
        for step in steps:
            step_passed, step_problems = compare(stored[section].get(step, {}), run.cells[step])
            passed += step_passed
            problems += step_problems
    problems += run.failures
    passed += run.asserted - len(run.failures)
    for problem in problems:
        print("MISMATCH " + problem)
    print(f"{passed} passed, {len(problems)} failed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
