"""Checks that `swiftflow models serve` answers exactly like the official `mlflow models serve`.

    python scripts/models_compare.py --tracking-uri http://127.0.0.1:PORT --swiftflow PATH [--show]

Run it with the Python of a virtual environment that has mlflow, scikit-learn, pandas, pyarrow and
requests installed (its `mlflow`, `uvicorn` and `python3` are used too). `--tracking-uri` is a
running tracking server with proxied artifacts (`mlflow-artifacts:/`). `--swiftflow mlflow` runs
the official server on both sides, which checks the script itself. `--show` prints the reference
answer of every case.

With the official client it logs, in one run, a scikit-learn pipeline and a small PythonModel whose
signature has params, registers both and gives one the alias champion. For each model URI form
(local folder, `runs:/`, `models:/name/version`, `models:/name@alias`, `models:/<model_id>`,
`mlflow-artifacts:/`) it starts the reference server and Swiftflow's on free ports with
`--env-manager local`, sends both the same requests and requires the same status, media type and
body bytes. The full request set runs against `models:/name/1` of each model, a smoke request
against the other forms. Exits 1 if any case differs or a server does not come up.

A few error answers carry MLflow's Python `stack_trace`; two processes on one environment print the
same one, so they are compared as they are. The only normalisation is the order of the input format
key set MLflow prints, which follows Python's per-process hash seed (see `canonical`).
"""
import argparse
import difflib
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings

import requests

VENV_BIN = os.path.dirname(os.path.abspath(sys.executable))
PING_TIMEOUT = 90
JSON = "application/json"


# ---------------------------------------------------------------------------------------------
# Models


def log_models(tracking_uri):
    """Logs both models in one run and returns the URIs to serve, each with its request set."""
    import mlflow
    import numpy as np
    import pandas as pd
    from mlflow.models import infer_signature
    from mlflow.tracking import MlflowClient
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema
    from mlflow.models.signature import ModelSignature
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    class Scale(mlflow.pyfunc.PythonModel):
        # Returns a frame computed from every input column and both params, so a param that is
        # dropped or a column converted differently shows in the answer.
        def predict(self, context, model_input, params=None):
            params = params or {}
            factor = params.get("factor", 2.0)
            suffix = params.get("suffix", "")
            return pd.DataFrame({"y": model_input["x"] * factor + model_input["n"],
                                 "label": model_input["s"] + suffix})

    mlflow.set_tracking_uri(tracking_uri)
    stamp = int(time.time() * 1000)
    mlflow.set_experiment(f"models-compare-{stamp}")

    rng = np.random.default_rng(7)
    frame = pd.DataFrame(rng.normal(size=(60, 4)), columns=list("abcd"))
    target = (frame.a + frame.b - frame.c > 0).astype(int)
    pipe = Pipeline([("scale", StandardScaler()), ("lr", LogisticRegression())]).fit(frame, target)

    py_signature = ModelSignature(
        inputs=Schema([ColSpec("double", "x"), ColSpec("long", "n"), ColSpec("string", "s")]),
        outputs=Schema([ColSpec("double", "y"), ColSpec("string", "label")]),
        params=ParamSchema([ParamSpec("factor", "double", 2.0), ParamSpec("suffix", "string", "")]),
    )
    skl_name, py_name = f"compare-skl-{stamp}", f"compare-py-{stamp}"
    with mlflow.start_run() as run:
        skl = mlflow.sklearn.log_model(pipe, name="skl", registered_model_name=skl_name,
                                       signature=infer_signature(frame, pipe.predict(frame)),
                                       input_example=frame.head(2))
        py = mlflow.pyfunc.log_model(name="py", python_model=Scale(), signature=py_signature,
                                     registered_model_name=py_name)
    MlflowClient().set_registered_model_alias(py_name, "champion", py.registered_model_version)

    # The local form is a plain folder holding the model's files.
    local = tempfile.mkdtemp(prefix="models-compare-")
    local_path = mlflow.artifacts.download_artifacts(artifact_uri=skl.model_uri, dst_path=local)
    py_location = mlflow.get_logged_model(py.model_id).artifact_location
    if not py_location.startswith("mlflow-artifacts:/"):
        raise SystemExit(f"expected a mlflow-artifacts:/ location, got {py_location}")

    return local, [
        (f"models:/{skl_name}/{skl.registered_model_version}", skl_cases()),
        (f"models:/{py_name}/{py.registered_model_version}", py_cases()),
        (local_path, smoke_skl()),
        (f"runs:/{run.info.run_id}/skl", smoke_skl()),
        (f"models:/{skl.model_id}", smoke_skl()),
        (f"models:/{py_name}@champion", smoke_py()),
        (py_location, smoke_py()),
    ]


# ---------------------------------------------------------------------------------------------
# Requests: (case name, method, path, content type or None for no header, body bytes)


def post(name, body, content_type=JSON):
    if not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    return (name, "POST", "/invocations", content_type, body)


def get(path):
    return (f"GET {path}", "GET", path, None, b"")


COLS = ["a", "b", "c", "d"]
ROWS = [[0.5, -1.25, 2.0, 0.1], [-0.3, 0.8, -1.5, 1.7], [1.1, 1.2, 0.4, -0.9]]
RECORDS = [dict(zip(COLS, row)) for row in ROWS]


def parquet_body(records):
    import pandas as pd

    out = io.BytesIO()
    pd.DataFrame(records).to_parquet(out, index=False)
    return out.getvalue()


def common_cases(records):
    """Transport, envelope and endpoint cases that do not depend on the model's columns."""
    split = {"columns": list(records[0]), "data": [list(r.values()) for r in records]}
    return [
        post("empty body", b""),
        post("empty object", {}),
        post("malformed JSON", b'{"dataframe_split": {'),
        post("JSON list", records),
        post("JSON string", b'"just text"'),
        post("JSON null", None),
        post("unknown key only", {"data": records}),
        post("no format key, params only", {"params": {}}),
        post("two format keys", {"dataframe_records": records, "instances": records}),
        post("dataframe_split not an object", {"dataframe_split": [1, 2]}),
        post("dataframe_records not a list", {"dataframe_records": records[0]}),
        post("format key plus unknown key", {"dataframe_records": records, "columns": ["a"]}),
        post("text/plain", json.dumps({"dataframe_records": records}), "text/plain"),
        post("no content type", json.dumps({"dataframe_records": records}), None),
        post("json charset=latin-1", {"dataframe_records": records}, "application/json; charset=latin-1"),
        post("json charset=UTF-8", {"dataframe_records": records}, "application/json; charset=UTF-8"),
        # The media type is matched case-sensitively and parameters are split on ";" only.
        post("Application/JSON", {"dataframe_records": records}, "Application/JSON"),
        post("json charset with spaces", {"dataframe_records": records},
             "application/json ; charset = utf-8"),
        post("json unknown parameter", {"dataframe_records": records},
             "application/json; charset=utf-8; foo=bar"),
        # The MLflow 1.x content type; 2.x answers with its protocol change notice.
        post("json format=pandas-split", {"dataframe_split": split}, "application/json; format=pandas-split"),
        post("invalid UTF-8 JSON", b'{"dataframe_records": [{"a": "\xff"}]}'),
        post("parquet", parquet_body(records), "application/vnd.apache.parquet"),
        get("/ping"),
        get("/health"),
        get("/version"),
        get("/invocations"),
        get("/no-such-path"),
    ]


def skl_cases():
    split = {"columns": COLS, "data": ROWS}
    csv = "a,b,c,d\n" + "\n".join(",".join(map(str, row)) for row in ROWS) + "\n"
    return [
        post("dataframe_split", {"dataframe_split": split}),
        post("dataframe_split with index", {"dataframe_split": {**split, "index": [10, 11, 12]}}),
        post("dataframe_split columns reordered", {"dataframe_split": {
            "columns": ["d", "c", "b", "a"], "data": [row[::-1] for row in ROWS]}}),
        post("dataframe_records", {"dataframe_records": RECORDS}),
        post("instances records", {"instances": RECORDS}),
        post("inputs records", {"inputs": RECORDS}),
        post("inputs columns", {"inputs": {c: [row[i] for row in ROWS] for i, c in enumerate(COLS)}}),
        post("text/csv", csv, "text/csv"),
        post("text/csv charset=utf-8", csv, "text/csv; charset=utf-8"),
        post("ints for doubles", {"dataframe_records": [{"a": 1, "b": -2, "c": 3, "d": 0}]}),
        post("extra column", {"dataframe_records": [{**r, "e": 9.5} for r in RECORDS]}),
        post("missing column", {"dataframe_records": [{c: r[c] for c in "abc"} for r in RECORDS]}),
        post("string in double column", {"dataframe_records": [{**RECORDS[0], "a": "abc"}]}),
        post("empty records", {"dataframe_records": []}),
        post("dataframe_split ragged row", {"dataframe_split": {"columns": COLS, "data": [ROWS[0][:3]]}}),
        post("instances columns", {"instances": {c: [row[i] for row in ROWS] for i, c in enumerate(COLS)}}),
        post("inputs nested lists", {"inputs": ROWS}),
        post("inputs scalar", {"inputs": 5}),
        post("params on model without params", {"dataframe_records": RECORDS, "params": {"k": 1}}),
        # These answers carry a `stack_trace` of MLflow's and pandas' or scikit-learn's Python
        # frames. Two processes on the same environment print the same one, so they are compared.
        post("null in double column", {"dataframe_records": [{**RECORDS[0], "a": None}]}),
        post("text/csv header only", "a,b,c,d\n", "text/csv"),
        post("text/csv string in double column", "a,b,c,d\nx,2,3,4\n", "text/csv"),
        post("text/csv empty", b"", "text/csv"),
    ] + common_cases(RECORDS)


PY_RECORDS = [{"x": 1.5, "n": 2, "s": "p"}, {"x": -0.25, "n": -7, "s": "q"}]


def py_cases():
    cols = ["x", "n", "s"]
    split = {"columns": cols, "data": [[r[c] for c in cols] for r in PY_RECORDS]}
    csv = "x,n,s\n1.5,2,p\n-0.25,-7,q\n"
    given = {"factor": 3.0, "suffix": "!"}
    return [
        post("dataframe_records, default params", {"dataframe_records": PY_RECORDS}),
        post("dataframe_records, params", {"dataframe_records": PY_RECORDS, "params": given}),
        post("dataframe_split, params", {"dataframe_split": split, "params": given}),
        post("dataframe_split with index", {"dataframe_split": {**split, "index": ["r1", "r2"]}}),
        post("instances, params", {"instances": PY_RECORDS, "params": given}),
        post("inputs records", {"inputs": PY_RECORDS}),
        post("inputs columns, params", {"inputs": {c: [r[c] for r in PY_RECORDS] for c in cols},
                                        "params": {"factor": 0.5}}),
        post("text/csv (no params)", csv, "text/csv"),
        post("one param given", {"dataframe_records": PY_RECORDS, "params": {"suffix": "?"}}),
        post("int param for double", {"dataframe_records": PY_RECORDS, "params": {"factor": 4}}),
        post("string param for double", {"dataframe_records": PY_RECORDS, "params": {"factor": "x"}}),
        post("unknown param", {"dataframe_records": PY_RECORDS, "params": {"other": 1}}),
        post("params not an object", {"dataframe_records": PY_RECORDS, "params": [1, 2]}),
        post("params null", {"dataframe_records": PY_RECORDS, "params": None}),
        post("int for double column", {"dataframe_records": [{"x": 3, "n": 1, "s": "a"}]}),
        post("float in long column", {"dataframe_records": [{"x": 1.0, "n": 1.5, "s": "a"}]}),
        post("string in double column", {"dataframe_records": [{"x": "one", "n": 1, "s": "a"}]}),
        post("missing column", {"dataframe_records": [{"x": 1.0, "n": 1}]}),
        post("extra column", {"dataframe_records": [{**PY_RECORDS[0], "z": True}]}),
        post("null in long column", {"dataframe_records": [{"x": 1.0, "n": None, "s": "a"}]}),
        post("bool in long column", {"dataframe_records": [{"x": 1.0, "n": True, "s": "a"}]}),
        # Python's json writes NaN and Infinity bare, and escapes non-ASCII as \uXXXX.
        post("null in double column", {"dataframe_records": [{"x": None, "n": 1, "s": "a"}]}),
        post("NaN literal", b'{"dataframe_records": [{"x": NaN, "n": 1, "s": "a"}]}'),
        post("overflow to Infinity", {"dataframe_records": [{"x": 1e300, "n": 1, "s": "a"}],
                                      "params": {"factor": 1e10}}),
        post("float formatting", {"dataframe_records": [{"x": 0.1, "n": 0, "s": "a"}],
                                  "params": {"factor": 3.0}}),
        post("non-ASCII strings", {"dataframe_records": [{"x": 1.0, "n": 1, "s": "\u00e9\u2713"}],
                                   "params": {"suffix": "\u00fc"}}),
        post("inputs a string", {"inputs": "hello"}),
        # These answers carry a `stack_trace` of MLflow's and pandas' or scikit-learn's Python
        # frames. Two processes on the same environment print the same one, so they are compared.
        post("number in string column", {"dataframe_records": [{"x": 1.0, "n": 1, "s": 5}]}),
    ] + common_cases(PY_RECORDS)


def smoke_skl():
    return [post("dataframe_split", {"dataframe_split": {"columns": COLS, "data": ROWS}})]


def smoke_py():
    return [post("dataframe_records, params",
                 {"dataframe_records": PY_RECORDS, "params": {"factor": 3.0}})]


# ---------------------------------------------------------------------------------------------
# Servers


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """One `models serve` process tree in its own session, so it can be ended as a group."""

    def __init__(self, label, argv, env, log_dir):
        self.label = label
        self.port = free_port()
        self.log_path = os.path.join(log_dir, f"{label}-{self.port}.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(argv + ["-p", str(self.port), "--env-manager", "local"],
                                     env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def ready(self):
        try:
            return requests.get(self.url + "/ping", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def log_tail(self, lines=30):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return "\n".join(f.read().decode(errors="replace").splitlines()[-lines:])

    def stop(self):
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=wait)
                # The leader is gone; children left in the group still get the SIGKILL round.
                if sig == signal.SIGTERM:
                    time.sleep(0.2)
            except subprocess.TimeoutExpired:
                continue
        self.log.close()


def wait_ready(servers):
    deadline = time.time() + PING_TIMEOUT
    pending = list(servers)
    while pending:
        for server in list(pending):
            if server.proc.poll() is not None:
                raise RuntimeError(f"{server.label} server exited with {server.proc.returncode}:\n"
                                   f"{server.log_tail()}")
            if server.ready():
                pending.remove(server)
        if pending and time.time() > deadline:
            raise RuntimeError(f"{pending[0].label} server did not answer /ping within "
                               f"{PING_TIMEOUT}s:\n{pending[0].log_tail()}")
        if pending:
            time.sleep(0.5)


# ---------------------------------------------------------------------------------------------
# Comparison


def media_type(content_type):
    # Compared without parameters: the body bytes already fix the encoding, and `; charset=utf-8`
    # on text/plain is the web framework's addition, not part of the scoring protocol.
    return (content_type or "").split(";")[0].strip().lower()


# MLflow prints its set of input format keys (`{'instances', 'inputs', ...}`) in Python's set
# order, which follows the per-process string hash seed, so two official servers already disagree
# on it. This is the only normalisation: that set is compared with its keys sorted.
FORMAT_SET = re.compile(rb"\{'(?:dataframe_split|dataframe_records|instances|inputs)'"
                        rb"(?:, '(?:dataframe_split|dataframe_records|instances|inputs)')*\}")


def canonical(body):
    return FORMAT_SET.sub(lambda m: b"{" + b", ".join(sorted(m.group(0)[1:-1].split(b", "))) + b"}",
                          body)


def send(server, case):
    """Returns (status, media type, body with the format key set in sorted order)."""
    _, method, path, content_type, body = case
    # requests adds no Content-Type of its own for a bytes body, so None sends none.
    headers = {"Content-Type": content_type} if content_type else {}
    resp = requests.request(method, server.url + path, data=body if method == "POST" else None,
                            headers=headers, timeout=30)
    return resp.status_code, media_type(resp.headers.get("content-type")), canonical(resp.content)


def show_body(body, limit=600):
    text = body.decode("utf-8", errors="replace")
    text = text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"
    # JSON bodies never hold a raw newline; others (/ping answers "\n") are shown quoted.
    return repr(text) if "\n" in text else text


def body_diff(ref, ours, limit=40):
    lines = list(difflib.unified_diff(
        ref.decode("utf-8", errors="replace").replace(", ", ",\n").splitlines(),
        ours.decode("utf-8", errors="replace").replace(", ", ",\n").splitlines(),
        "reference (mlflow models serve)", "swiftflow models serve", lineterm="", n=1))
    lines = [line if len(line) <= 300 else line[:300] + " ..." for line in lines[:limit]]
    return "\n".join(lines) + ("\n... (diff truncated)" if len(lines) == limit else "")


def compare(uri, cases, ref, ours, show):
    failures = 0
    print(f"\n== {uri}  (reference :{ref.port}, swiftflow :{ours.port})")
    width = max(len(c[0]) for c in cases)
    for case in cases:
        name = case[0]
        try:
            got_ref = send(ref, case)
            got_ours = send(ours, case)
        except requests.RequestException as err:
            failures += 1
            print(f"  {name:<{width}}  FAIL  request error: {err}")
            continue
        same = got_ref == got_ours
        failures += not same
        status = f"{got_ref[0]}" if got_ref[0] == got_ours[0] else f"ref {got_ref[0]} / ours {got_ours[0]}"
        print(f"  {name:<{width}}  {status:<18} {'PASS' if same else 'FAIL'}")
        if show:
            print(f"      reference {got_ref[1]}: {show_body(got_ref[2])}")
        if not same:
            if got_ref[1] != got_ours[1]:
                print(f"      media type: reference {got_ref[1]!r}, swiftflow {got_ours[1]!r}")
            if got_ref[2] != got_ours[2]:
                print("      body diff (- reference, + swiftflow):")
                print("      " + body_diff(got_ref[2], got_ours[2]).replace("\n", "\n      "))
    return failures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tracking-uri", required=True)
    parser.add_argument("--swiftflow", required=True,
                        help="path of the swiftflow binary, or `mlflow` for the official server")
    parser.add_argument("--show", action="store_true", help="print every reference answer")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    started = time.time()

    # Both sides see the venv first on PATH: MLflow starts `uvicorn` from PATH and Swiftflow
    # finds `python3` there.
    env = dict(os.environ, MLFLOW_TRACKING_URI=args.tracking_uri,
               PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""))
    reference = [os.path.join(VENV_BIN, "mlflow"), "models", "serve"]
    ours = reference if args.swiftflow == "mlflow" else [os.path.abspath(args.swiftflow), "models", "serve"]

    local_dir, targets = log_models(args.tracking_uri)
    print(f"logged models in {time.time() - started:.1f}s")
    log_dir = tempfile.mkdtemp(prefix="models-compare-logs-")
    failures = total = 0
    try:
        for uri, cases in targets:
            servers = []
            try:
                servers.append(Server("reference", reference + ["-m", uri], env, log_dir))
                servers.append(Server("swiftflow", ours + ["-m", uri], env, log_dir))
                wait_ready(servers)
                failures += compare(uri, cases, *servers, args.show)
            except (RuntimeError, OSError) as err:
                failures += len(cases)
                print(f"\n== {uri}\n  FAIL  {err}")
            finally:
                for server in servers:
                    server.stop()
            total += len(cases)
    finally:
        shutil.rmtree(local_dir, ignore_errors=True)
    print(f"\nmodels serve: {total - failures}/{total} cases identical in {time.time() - started:.0f}s"
          + ("" if not failures else f"; server logs in {log_dir}"))
    if not failures:
        shutil.rmtree(log_dir, ignore_errors=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
