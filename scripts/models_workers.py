"""What `swiftflow models serve` does when a model worker crashes or hangs, and `models predict`.

    python scripts/models_workers.py --tracking-uri http://127.0.0.1:PORT --swiftflow PATH

Run it with the Python of a virtual environment that has mlflow (its `mlflow` and `python3` are
used too). It logs a small PythonModel that exits its process when x == -1 and sleeps for ten
minutes when x == -2, serves it with `--timeout 3 --workers 2`, and checks that:

- a request whose worker dies answers 503 TEMPORARILY_UNAVAILABLE, the server keeps running and a
  new worker answers the next requests;
- a request that overruns the timeout answers 503 within a few seconds, and the worker that hung is
  replaced;
- requests sent while a worker restarts wait for it instead of failing.

Then it compares `swiftflow models predict` with `mlflow models predict` (JSON and CSV input) and
checks that `--env-manager conda` without conda fails with a message naming conda.
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import requests

VENV_BIN = os.path.dirname(os.path.abspath(sys.executable))


def log_model(tracking_uri):
    import mlflow
    import pandas as pd
    from mlflow.models import infer_signature

    class Chaos(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            import os
            import time

            if (model_input["x"] == -1).any():
                os._exit(3)
            if (model_input["x"] == -2).any():
                time.sleep(600)
            return model_input["x"] * 2

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment("models-workers")
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(
            name="chaos", python_model=Chaos(),
            signature=infer_signature(pd.DataFrame({"x": [1.0]}), pd.Series([2.0])))
    return info.model_uri


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env():
    e = dict(os.environ)
    e["PATH"] = VENV_BIN + os.pathsep + e.get("PATH", "")
    return e


def score(port, x, timeout=30):
    return requests.post(
        f"http://127.0.0.1:{port}/invocations",
        json={"dataframe_split": {"columns": ["x"], "data": [[x]]}}, timeout=timeout)


failures = []


def workers(pid):
    """The server's live child processes (its model workers)."""
    out = subprocess.run(["ps", "-o", "pid=,stat=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if not line.split()[1].startswith("Z")]


def check(name, ok, detail=""):
    print(f"  {'PASS' if ok else 'FAIL'}  {name}" + (f"  ({detail})" if detail and not ok else ""))
    if not ok:
        failures.append(name)


def serve_checks(swiftflow, uri):
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="models-workers-", suffix=".log", delete=False)
    server = subprocess.Popen(
        [swiftflow, "models", "serve", "-m", uri, "-p", str(port), "--env-manager", "local", "--timeout", "3",
         "--workers", "2"],
        env=env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/ping", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if server.poll() is not None:
                break
            time.sleep(0.3)
        check("--workers 2 starts two worker processes", len(workers(server.pid)) == 2, workers(server.pid))
        r = score(port, 1.5)
        check("a normal request answers", r.status_code == 200 and r.json() == {"predictions": [{"x": 3.0}]}, r.text)

        r = score(port, -1)
        body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
        check("a crashing worker gives 503", r.status_code == 503, f"{r.status_code} {r.text}")
        check("... with TEMPORARILY_UNAVAILABLE", body.get("error_code") == "TEMPORARILY_UNAVAILABLE", r.text)
        check("the server survives the crash", server.poll() is None)
        r = score(port, 2.0, timeout=60)
        check("the other worker answers the next request",
              r.status_code == 200 and r.json() == {"predictions": [{"x": 4.0}]}, f"{r.status_code} {r.text}")

        # Both workers die at once: the next request waits for a new one.
        with ThreadPoolExecutor(2) as pool:
            statuses = sorted(f.result().status_code for f in [pool.submit(score, port, -1), pool.submit(score, port, -1)])
        check("two crashes at once give two 503s", statuses == [503, 503], statuses)
        start = time.time()
        r = score(port, 2.0, timeout=60)
        check("with every worker gone, the next request waits for a new one and answers",
              r.status_code == 200 and r.json() == {"predictions": [{"x": 4.0}]}, f"{r.status_code} {r.text}")
        print(f"        (answered {time.time() - start:.1f}s after the crashes)")

        start = time.time()
        r = score(port, -2, timeout=60)
        took = time.time() - start
        check("a hanging worker gives 503", r.status_code == 503, f"{r.status_code} {r.text}")
        check("... after the 3 s timeout, not the model's 600 s", 2.5 <= took <= 10, f"{took:.1f}s")
        check("the server survives the hang", server.poll() is None)
        ok = False
        deadline = time.time() + 90
        while time.time() < deadline:
            r = score(port, 3.0, timeout=60)
            if r.status_code == 200:
                ok = r.json() == {"predictions": [{"x": 6.0}]}
                break
            time.sleep(0.5)
        check("a new worker answers after the hang", ok, r.text)
        deadline = time.time() + 90
        while time.time() < deadline and len(workers(server.pid)) != 2:
            time.sleep(0.5)
        check("both workers are back", len(workers(server.pid)) == 2, workers(server.pid))
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
        if failures:
            print(open(log.name).read()[-3000:])
        os.unlink(log.name)


def predict_checks(swiftflow, uri):
    with tempfile.TemporaryDirectory() as tmp:
        json_in = os.path.join(tmp, "in.json")
        csv_in = os.path.join(tmp, "in.csv")
        with open(json_in, "w") as f:
            json.dump({"dataframe_split": {"columns": ["x"], "data": [[1.0], [2.5]]}}, f)
        with open(csv_in, "w") as f:
            f.write("x\n1.0\n4\n")
        for label, path, kind in (("json", json_in, "json"), ("csv", csv_in, "csv")):
            outputs = []
            for command in (
                [os.path.join(VENV_BIN, "mlflow"), "models", "predict"],
                [swiftflow, "models", "predict"],
            ):
                out = os.path.join(tmp, f"out-{len(outputs)}.json")
                p = subprocess.run(
                    command + ["-m", uri, "-i", path, "-o", out, "-t", kind, "--env-manager", "local"],
                    env=env(), capture_output=True, text=True, timeout=300)
                outputs.append((p.returncode, open(out).read() if os.path.exists(out) else p.stderr[-2000:]))
            check(f"models predict ({label}) writes what mlflow models predict writes",
                  outputs[0] == outputs[1] and outputs[0][0] == 0, repr(outputs))
        # To stdout when no output file is given.
        p = subprocess.run([swiftflow, "models", "predict", "-m", uri, "-i", json_in, "--env-manager", "local"],
                           env=env(), capture_output=True, text=True, timeout=300)
        check("models predict without -o writes to stdout",
              p.returncode == 0 and json.loads(p.stdout) == {"predictions": [{"x": 2.0}, {"x": 5.0}]}, p.stdout + p.stderr[-1000:])

        e = env()
        e["PATH"] = VENV_BIN + os.pathsep + "/usr/bin:/bin"
        e.pop("MLFLOW_CONDA_HOME", None)
        if not any(os.access(os.path.join(d, "conda"), os.X_OK) for d in e["PATH"].split(os.pathsep)):
            p = subprocess.run([swiftflow, "models", "prepare-env", "-m", uri, "--env-manager", "conda"],
                               env=e, capture_output=True, text=True, timeout=300)
            check("--env-manager conda without conda fails and says so",
                  p.returncode != 0 and "conda" in p.stderr and "not found" in p.stderr, p.stderr[-1000:])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tracking-uri", required=True)
    parser.add_argument("--swiftflow", required=True)
    args = parser.parse_args()
    os.environ["MLFLOW_TRACKING_URI"] = args.tracking_uri
    uri = log_model(args.tracking_uri)
    print(f"== worker failures: {uri}")
    serve_checks(os.path.abspath(args.swiftflow), uri)
    print("== models predict")
    predict_checks(os.path.abspath(args.swiftflow), uri)
    if failures:
        print(f"models workers: {len(failures)} check(s) failed")
        sys.exit(1)
    print("models workers: all checks passed")


if __name__ == "__main__":
    main()
