#!/usr/bin/env python3
"""PostgreSQL outage test: clients keep logging while the database is stopped and started again.

    pg_outage.py URL --halt 'CMD' --resume 'CMD' [--pid PID ...] [--outage 15]

Four client threads log metrics, params, batches and tags to one run through URL without pause.
After a few seconds `--halt` stops PostgreSQL; `--outage` seconds later `--resume` starts it again.
Passes when:
- every failed request was answered, within 20 s, with HTTP 503 and MLflow's error JSON
  (`error_code` TEMPORARILY_UNAVAILABLE): no hang, no 500, no dropped connection;
- requests did fail while the database was down (else nothing was tested);
- every client succeeds again within 60 s of the database's return, with no server restart
  (each `--pid` is still the same live process, and /health answers);
- everything acknowledged (HTTP 200) is in the store afterwards: each param with its value, each
  metric point in the history, each tag's last acknowledged value (or a later one whose call failed).
Standard library only.
"""
import argparse
import http.client
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse

ANSWER_WITHIN_S = 20.0
RECOVER_WITHIN_S = 60.0
WORKERS = 4


class Client:
    def __init__(self, url):
        parsed = urllib.parse.urlsplit(url)
        self.host, self.port = parsed.hostname, parsed.port or 80
        self.conn = None

    def call(self, method, path, body=None):
        """(status, parsed JSON or None, seconds); status 0 when the connection failed."""
        start = time.monotonic()
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
            self.conn.request(method, path if path.startswith("/") else "/api/2.0/mlflow/" + path, body=payload, headers=headers)
            response = self.conn.getresponse()
            raw = response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as error:
            self.conn = None
            return 0, {"transport_error": repr(error)}, time.monotonic() - start
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = {"unparsed": raw[:200].decode(errors="replace")}
        return status, parsed, time.monotonic() - start


class Worker(threading.Thread):
    def __init__(self, url, run_id, index, stop):
        super().__init__(daemon=True)
        self.client = Client(url)
        self.run_id, self.index, self.stop = run_id, index, stop
        self.acked_params, self.acked_metrics, self.acked_tags = {}, {}, {}
        self.unacked_tags = {}  # tag values sent after the last acknowledged one: a failed call may have committed
        self.failures = []  # (when, kind, status, body, seconds)
        self.successes = []  # monotonic times
        self.requests = 0

    def run(self):
        i = 0
        while not self.stop.is_set():
            i += 1
            kind = ("metric", "param", "batch", "tag")[i % 4]
            now_ms = int(time.time() * 1000)
            if kind == "metric":
                key, point = f"m{self.index}", (now_ms, i, float(i))
                body = {"run_id": self.run_id, "key": key, "value": point[2], "timestamp": point[0], "step": point[1]}
                status, answer, seconds = self.client.call("POST", "runs/log-metric", body)
                points = [(key, point)]
            elif kind == "param":
                key, value = f"p{self.index}_{i}", f"v{i}"
                status, answer, seconds = self.client.call(
                    "POST", "runs/log-parameter", {"run_id": self.run_id, "key": key, "value": value})
            elif kind == "batch":
                key = f"b{self.index}"
                points = [(key, (now_ms, i * 10 + j, float(j))) for j in range(10)]
                metrics = [{"key": k, "value": p[2], "timestamp": p[0], "step": p[1]} for k, p in points]
                status, answer, seconds = self.client.call(
                    "POST", "runs/log-batch", {"run_id": self.run_id, "metrics": metrics})
            else:
                key, value = f"t{self.index}", f"v{i}"
                status, answer, seconds = self.client.call(
                    "POST", "runs/set-tag", {"run_id": self.run_id, "key": key, "value": value})
            self.requests += 1
            if status == 200:
                self.successes.append(time.monotonic())
                if kind == "param":
                    self.acked_params[key] = value
                elif kind == "tag":
                    self.acked_tags[key] = value  # each worker's tag key is its own: the last ack wins
                    self.unacked_tags[key] = set()
                else:
                    for k, p in points:
                        self.acked_metrics.setdefault(k, set()).add(p)
            else:
                if kind == "tag":
                    self.unacked_tags.setdefault(key, set()).add(value)
                self.failures.append((time.monotonic(), kind, status, answer, seconds))
                time.sleep(0.2)  # a real client backs off too


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--halt", required=True, help="shell command that stops PostgreSQL")
    ap.add_argument("--resume", required=True, help="shell command that starts it again")
    ap.add_argument("--pid", type=int, action="append", default=[], help="server process that must survive")
    ap.add_argument("--outage", type=float, default=15.0, help="seconds PostgreSQL stays down")
    args = ap.parse_args()

    setup = Client(args.url)
    status, answer, _ = setup.call("POST", "experiments/create", {"name": f"pg-outage-{time.time_ns()}"})
    assert status == 200, (status, answer)
    status, answer, _ = setup.call("POST", "runs/create", {"experiment_id": answer["experiment_id"]})
    assert status == 200, (status, answer)
    run_id = answer["run"]["info"]["run_id"]

    stop = threading.Event()
    workers = [Worker(args.url, run_id, n, stop) for n in range(WORKERS)]
    for worker in workers:
        worker.start()
    time.sleep(3)
    print(f"outage: halting PostgreSQL ({sum(w.requests for w in workers)} requests so far)", flush=True)
    halted_at = time.monotonic()
    subprocess.run(args.halt, shell=True, check=True)
    time.sleep(args.outage)
    print("outage: resuming PostgreSQL", flush=True)
    subprocess.run(args.resume, shell=True, check=True)
    resumed_at = time.monotonic()

    deadline = resumed_at + RECOVER_WITHIN_S
    while time.monotonic() < deadline:
        if all(any(t > resumed_at for t in w.successes) for w in workers):
            break
        time.sleep(0.2)
    recovered_at = time.monotonic()
    time.sleep(3)  # keep logging a little after recovery
    stop.set()
    for worker in workers:
        worker.join(timeout=150)

    problems = []
    failures = [f for w in workers for f in w.failures]
    if not failures:
        problems.append("no request failed while PostgreSQL was down: the outage was not observed")
    for when, kind, status, answer, seconds in failures:
        code = (answer or {}).get("error_code")
        if status != 503 or code != "TEMPORARILY_UNAVAILABLE" or not (answer or {}).get("message"):
            problems.append(f"{kind} at +{when - halted_at:.1f}s: HTTP {status} {answer}")
        elif seconds > ANSWER_WITHIN_S:
            problems.append(f"{kind} at +{when - halted_at:.1f}s: the 503 took {seconds:.1f}s")
    slowest = max((f[4] for f in failures), default=0.0)
    for worker in workers:
        if not any(t > resumed_at for t in worker.successes):
            problems.append(f"worker {worker.index}: no success within {RECOVER_WITHIN_S:.0f}s of PostgreSQL's return")
    for pid in args.pid:
        try:
            os.kill(pid, 0)
        except OSError:
            problems.append(f"server process {pid} is gone")
    status, answer, _ = Client(args.url).call("GET", "/health")
    if status != 200:
        problems.append(f"/health answered {status}")

    # Everything acknowledged is stored.
    reader = Client(args.url)
    status, answer, _ = reader.call("GET", "runs/get?run_id=" + run_id)
    assert status == 200, (status, answer)
    data = answer["run"]["data"]
    stored_params = {p["key"]: p["value"] for p in data.get("params", [])}
    stored_tags = {t["key"]: t["value"] for t in data.get("tags", [])}
    acked_points = 0
    for worker in workers:
        for key, value in worker.acked_params.items():
            if stored_params.get(key) != value:
                problems.append(f"acknowledged param {key}={value} is stored as {stored_params.get(key)!r}")
        for key, value in worker.acked_tags.items():
            # The last acknowledged value, unless a later call that failed had committed after all.
            if stored_tags.get(key) != value and stored_tags.get(key) not in worker.unacked_tags.get(key, set()):
                problems.append(f"acknowledged tag {key}={value} is stored as {stored_tags.get(key)!r}")
        for key, points in worker.acked_metrics.items():
            acked_points += len(points)
            stored, token = set(), None
            while True:
                query = {"run_id": run_id, "metric_key": key, "max_results": 25000}
                if token:
                    query["page_token"] = token
                status, answer, _ = reader.call("GET", "metrics/get-history?" + urllib.parse.urlencode(query))
                assert status == 200, (status, answer)
                stored |= {(m["timestamp"], int(m["step"]), float(m["value"])) for m in answer.get("metrics", [])}
                token = answer.get("next_page_token")
                if not token:
                    break
            missing = points - stored
            if missing:
                problems.append(f"{len(missing)} acknowledged point(s) of {key} are missing, e.g. {sorted(missing)[:3]}")

    total = sum(w.requests for w in workers)
    acked_params = sum(len(w.acked_params) for w in workers)
    print(f"outage: {total} requests, {len(failures)} answered 503 (slowest {slowest:.1f}s); "
          f"logging resumed {recovered_at - resumed_at:.1f}s after PostgreSQL returned; "
          f"checked {acked_params} acknowledged params and {acked_points} acknowledged metric points")
    if problems:
        print("outage: FAILED", file=sys.stderr)
        for problem in problems[:30]:
            print("  " + problem, file=sys.stderr)
        sys.exit(1)
    print("outage: passed")


if __name__ == "__main__":
    main()
