#!/usr/bin/env python3
"""What Swiftflow's basic-auth adds to MLflow's, checked against a running server.

    auth_extras.py URL --admin-user U --admin-password P --lockout-seconds S --max-failed N --log FILE

The server must run with `[swiftflow] max_failed_logins = N` and `lockout_seconds = S` in its ini and
log to FILE (at `--log-level trace`). Checks:
  * failed-login throttling: N wrong passwords for a user get 401s, then 429 REQUEST_LIMIT_EXCEEDED with
    Retry-After, even with the right password, from the same address; after S seconds the right
    password works again and clears the user's count;
  * the web UI with authentication: a browser gets 401 with `WWW-Authenticate: Basic` (its login
    prompt); a user sees only the experiments and models they may read in the lists, and a page of
    one they may not read answers 403;
  * no password and no password hash in any answer of the auth API nor anywhere in the server's log.
Prints `N passed, M failed` last; exits 1 if anything failed.
"""
import argparse
import base64
import os
import sys
import time
import uuid

import requests

os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")

results = []


def check(name, ok, detail=""):
    results.append(ok)
    print(f"  {'PASS' if ok else 'FAIL'}  {name}" + ("" if ok else f": {detail}"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--admin-user", required=True)
    parser.add_argument("--admin-password", required=True)
    parser.add_argument("--lockout-seconds", type=int, required=True)
    parser.add_argument("--max-failed", type=int, required=True)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    url = args.url.rstrip("/")
    admin = (args.admin_user, args.admin_password)
    tag = uuid.uuid4().hex[:8]
    secrets = [args.admin_password]
    answers = []

    def call(method, path, auth, **kwargs):
        resp = requests.request(method, url + path, auth=auth, timeout=30, **kwargs)
        answers.append(resp.text)
        return resp

    def new_user(name):
        password = f"{name}-secret-{uuid.uuid4().hex[:12]}"
        secrets.append(password)
        resp = call("POST", "/api/2.0/mlflow/users/create", admin, json={"username": name, "password": password})
        assert resp.status_code == 200, resp.text
        return (name, password)

    print("== failed-login throttling")
    victim = new_user(f"throttle-{tag}")
    statuses = [call("GET", "/api/2.0/mlflow/users/current", (victim[0], "wrong-password-x")).status_code
                for _ in range(args.max_failed)]
    check(f"{args.max_failed} wrong passwords answer 401", statuses == [401] * args.max_failed, statuses)
    locked = call("GET", "/api/2.0/mlflow/users/current", victim)
    body = locked.json() if locked.headers.get("content-type", "").startswith("application/json") else {}
    check("then the right password is refused with 429 REQUEST_LIMIT_EXCEEDED",
          locked.status_code == 429 and body.get("error_code") == "REQUEST_LIMIT_EXCEEDED", locked.text)
    check("... with Retry-After", locked.headers.get("Retry-After", "").isdigit(), dict(locked.headers))
    other = call("GET", "/api/2.0/mlflow/users/current", admin)
    check("the address is locked too (all attempts from it wait)", other.status_code == 429, other.status_code)
    time.sleep(args.lockout_seconds + 0.5)
    again = call("GET", "/api/2.0/mlflow/users/current", victim)
    check(f"after {args.lockout_seconds} s the right password works", again.status_code == 200, again.text)
    check("... and the admin's too", call("GET", "/api/2.0/mlflow/users/current", admin).status_code == 200)

    print("== the web UI with authentication")
    page = requests.get(url + "/", timeout=30)
    check("a browser without credentials gets 401 and a Basic challenge (its login prompt)",
          page.status_code == 401 and page.headers.get("WWW-Authenticate", "").startswith("Basic"),
          f"{page.status_code} {dict(page.headers)}")
    viewer = new_user(f"viewer-{tag}")
    shown, hidden = f"ui-shown-{tag}", f"ui-hidden-{tag}"
    ids = {}
    for name in (shown, hidden):
        resp = call("POST", "/api/2.0/mlflow/experiments/create", admin, json={"name": name})
        ids[name] = resp.json()["experiment_id"]
        call("POST", "/api/2.0/mlflow/registered-models/create", admin, json={"name": name})
    for kind, rid in (("experiment", ids[hidden]), ("registered_model", hidden)):
        resp = call("POST", "/api/3.0/mlflow/users/permissions/grant", admin,
                    json={"username": viewer[0], "resource_type": kind, "resource_id": rid, "permission": "DENY"})
        check(f"grant DENY on the hidden {kind}", resp.status_code == 200, resp.text)
    for path in ("/", "/models"):
        html = requests.get(url + path, params={"q": tag}, auth=viewer, timeout=30).text
        check(f"{path} lists what the user may read and not the rest", shown in html and hidden not in html)
        html = requests.get(url + path, params={"q": tag}, auth=admin, timeout=30).text
        check(f"{path} lists both to the admin", shown in html and hidden in html)
    # A run the user may read, registered as a version of the model they may not: the run page hides it.
    info = call("POST", "/api/2.0/mlflow/runs/create", admin, json={"experiment_id": ids[shown]}).json()["run"]["info"]
    run_id = info["run_id"]
    for name in (hidden, shown):
        resp = call("POST", "/api/2.0/mlflow/model-versions/create", admin,
                    json={"name": name, "source": info["artifact_uri"] + "/model", "run_id": run_id})
        check(f"a version of {name} from the run", resp.status_code == 200, resp.text)
    html = requests.get(url + f"/runs/{run_id}", auth=viewer, timeout=30).text
    check("the run page lists the readable model's version and not the denied one",
          f"/models/{shown}/versions/1" in html and f"/models/{hidden}" not in html, html[:300])
    html = requests.get(url + f"/runs/{run_id}", auth=admin, timeout=30).text
    check("... and both to the admin", f"/models/{shown}/versions/1" in html and f"/models/{hidden}/versions/1" in html)
    for path in (f"/experiments/{ids[hidden]}", f"/models/{hidden}"):
        check(f"{path} is refused to the user",
              requests.get(url + path, auth=viewer, timeout=30).status_code == 403)
    check("the shown experiment's page opens",
          requests.get(url + f"/experiments/{ids[shown]}", auth=viewer, timeout=30).status_code == 200)

    print("== no way around a denied experiment through artifact paths")
    secret_path = f"{ids[hidden]}/secret.txt"
    put = call("PUT", f"/api/2.0/mlflow-artifacts/artifacts/{secret_path}", admin, data=b"top secret")
    check("the admin stores a file in the denied experiment", put.status_code == 200, put.text)
    open_id = ids[shown]
    for probe in (secret_path, f"{open_id}%2F..%2F{secret_path}", f"{open_id}/..%2F{secret_path}",
                  f"{open_id}/%2E%2E/{secret_path}", f"%2E%2E/{secret_path}"):
        resp = requests.get(f"{url}/api/2.0/mlflow-artifacts/artifacts/{probe}", auth=viewer, timeout=30)
        check(f"GET artifacts/{probe} is refused", resp.status_code in (400, 403) and "top secret" not in resp.text,
              f"{resp.status_code} {resp.text[:100]}")
    listing = requests.get(f"{url}/api/2.0/mlflow-artifacts/artifacts", auth=viewer, timeout=30,
                           params={"path": f"{open_id}/../{ids[hidden]}"})
    check("listing through .. is refused", listing.status_code in (400, 403) and "secret.txt" not in listing.text,
          listing.text[:200])

    print("== MLflow 2.x permission routes")
    legacy = new_user(f"legacy-{tag}")
    exp_id, model = ids[shown], shown
    for route, key, value, outer in (("experiments", "experiment_id", exp_id, "experiment_permission"),
                                     ("registered-models", "name", model, "registered_model_permission")):
        base = f"/api/2.0/mlflow/{route}/permissions"
        target = {key: value, "username": legacy[0]}
        resp = call("POST", base + "/create", admin, json={**target, "permission": "READ"})
        check(f"{route}: create answers the grant",
              resp.status_code == 200 and resp.json()[outer]["permission"] == "READ", resp.text)
        resp = call("POST", base + "/create", admin, json={**target, "permission": "READ"})
        check(f"{route}: a second create is RESOURCE_ALREADY_EXISTS",
              resp.status_code == 400 and resp.json()["error_code"] == "RESOURCE_ALREADY_EXISTS", resp.text)
        call("PATCH", base + "/update", admin, json={**target, "permission": "EDIT"})
        resp = call("GET", base + "/get", admin, params=target)
        check(f"{route}: update then get", resp.json().get(outer, {}).get("permission") == "EDIT", resp.text)
        kind = "experiment" if route == "experiments" else "registered_model"
        resp = call("GET", "/api/3.0/mlflow/users/permissions/get", admin,
                    params={"username": legacy[0], "resource_type": kind, "resource_id": value})
        check(f"{route}: the same grant seen by the 3.x route", resp.json().get("permission") == "EDIT", resp.text)
        resp = call("GET", base + "/get", legacy, params=target)
        check(f"{route}: a user without MANAGE may not read grants", resp.status_code == 403, resp.status_code)
        call("DELETE", base + "/delete", admin, json=target)
        resp = call("GET", base + "/get", admin, params=target)
        check(f"{route}: deleted, then 404",
              resp.status_code == 404 and resp.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST", resp.text)

    print("== roles")
    from mlflow.server import get_app_client
    os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"] = admin
    app = get_app_client("basic-auth", tracking_uri=url)
    member = new_user(f"member-{tag}")
    role = app.create_role("default", f"editors-{tag}", description="can edit")
    check("create_role answers the role", role.name == f"editors-{tag}" and role.workspace == "default")
    row = app.add_role_permission(role.id, "experiment", ids[hidden], "EDIT")
    check("add_role_permission", row.permission == "EDIT" and row.role_id == role.id)
    try:
        app.create_role("default", f"__user_{tag}")
        check("a __user_ role name is refused", False)
    except Exception as exc:  # noqa: BLE001
        check("a __user_ role name is refused", "reserved" in str(exc), str(exc))
    app.assign_role(member[0], role.id)
    check("list_role_users names the member", [a.role_id for a in app.list_role_users(role.id)] == [role.id])
    check("list_user_roles names the role", role.id in [r.id for r in app.list_user_roles(member[0])])
    tag_set = call("POST", "/api/2.0/mlflow/experiments/set-experiment-tag", member,
                   json={"experiment_id": ids[hidden], "key": "k", "value": "v"})
    check("the role's EDIT lets its member write to the experiment", tag_set.status_code == 200, tag_set.text)
    app.update_role_permission(row.id, "READ")
    tag_set = call("POST", "/api/2.0/mlflow/experiments/set-experiment-tag", member,
                   json={"experiment_id": ids[hidden], "key": "k", "value": "v"})
    check("lowered to READ, it no longer does", tag_set.status_code == 403, tag_set.status_code)
    check("get_role shows the permission", [p.permission for p in app.get_role(role.id).permissions] == ["READ"])
    updated = app.update_role(role.id, description="reads")
    check("update_role", updated.description == "reads")
    check("list_roles includes it", role.id in [r.id for r in app.list_roles("default")])
    app.remove_role_permission(row.id)
    check("remove_role_permission", app.list_role_permissions(role.id) == [])
    app.unassign_role(member[0], role.id)
    check("unassign_role", app.list_role_users(role.id) == [])
    app.delete_role(role.id)
    gone = call("GET", "/api/3.0/mlflow/roles/get", admin, params={"role_id": role.id})
    check("delete_role, then 404", gone.status_code == 404, gone.text)
    bad = call("GET", "/api/3.0/mlflow/roles/get", admin, params={"role_id": "abc"})
    check("a role id that is not a number is 400 with MLflow's message",
          bad.status_code == 400 and "must be an integer" in bad.text, bad.text)
    other = call("POST", "/api/3.0/mlflow/roles/create", member, json={"name": f"x-{tag}", "workspace": "default"})
    check("a non-admin may not create roles", other.status_code == 403, other.status_code)
    for key in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        os.environ.pop(key, None)

    print("== no secret in answers or logs")
    for path, params in (("/api/2.0/mlflow/users/get", {"username": viewer[0]}), ("/api/2.0/mlflow/users/list", {}),
                         ("/api/2.0/mlflow/users/current", {})):
        call("GET", path, admin, params=params)
    dup = call("POST", "/api/2.0/mlflow/users/create", admin, json={"username": viewer[0], "password": viewer[1]})
    check("a duplicate user's error names no hash", dup.status_code == 400 and "pbkdf2" not in dup.text, dup.text)
    leaked = [s for s in secrets if any(s in text for text in answers)]
    check("no password in any answer", not leaked, leaked)
    check("no password hash in any answer", not any("pbkdf2:" in t or "scrypt:" in t for t in answers))
    with open(args.log, encoding="utf-8", errors="replace") as f:
        log = f.read()
    check("the server log has lines (trace level)", len(log.splitlines()) > 5, len(log.splitlines()))
    leaked = [s for s in secrets if s in log]
    check("no password in the server log", not leaked, leaked)
    encoded = [base64.b64encode(f"{u}:{p}".encode()).decode() for u, p in (admin, viewer, victim)]
    check("no Authorization header value in the server log", not any(e in log for e in encoded))
    check("no password hash in the server log", "pbkdf2:" not in log and "scrypt:" not in log)

    failed = results.count(False)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
