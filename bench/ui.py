#!/usr/bin/env python3
"""Web UI at size: server time and bytes of swiftflow's pages over a large experiment.

    ui.py [--swiftflow PATH] [--runs 10000] [--params 20] [--metrics 10] [--points 1000000]
          [--calls 20] [--browser] [--out results.json]

Starts swiftflow on a loopback port over a fresh temp folder and fills it through the REST API:
one experiment with --runs runs, each with --params params and --metrics metrics (log-batch, one
request per run), and one more run with a single metric of --points points (log-batch, 1,000 points
a request). Then, each --calls times after 3 untimed warm-up calls:

  runs_page          GET /experiments/<id>                       the default page (100 runs, newest first)
  runs_sorted        GET /experiments/<id>?sort=metric:m3&dir=asc sorted by a metric
  runs_filtered      GET /experiments/<id>?filter=params.p1 = 'v1-7' AND metrics.m2 > 0.5
  runs_page_500      GET /experiments/<id>?max=500                a long page
  run_page           GET /runs/<id>                               one run (20 params, 10 metrics)
  chart_page         GET /metric?key=big&run=<id>                 the chart page of the big metric
  chart_series       GET /ui/api/metric-series?key=big&run_id=<id>&points=1000  the chart's data

and prints, for each, the server time p50/p99 (request sent to last byte read, on loopback) and the
bytes sent: the HTML alone and with the scripts and stylesheets the page loads (what a first visit
downloads; later visits have them cached). With --browser it also loads the runs page and the chart
page in headless Chromium (scripts/cdp.py) and reports the time to the load event and to a drawn chart.

Needs `requests` (the official server's venv, as the other benchmarks); --browser also needs
`websocket-client` (the conformance venv has it).
"""
import argparse
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from artifacts import Server, free_port, memory_kib, process_tree  # noqa: E402

import requests  # noqa: E402

API = "/api/2.0/mlflow"


def post(session, url, path, body):
    r = session.post(url + API + path, json=body, timeout=600)
    if r.status_code != 200:
        raise RuntimeError(f"POST {path}: {r.status_code} {r.text[:300]}")
    return r.json()


def fill(args, url):
    session = requests.Session()
    experiment = post(session, url, "/experiments/create", {"name": "ui-bench"})["experiment_id"]
    rng = random.Random(7)
    now = int(time.time() * 1000)
    started = time.monotonic()
    for i in range(args.runs):
        run = post(session, url, "/runs/create", {"experiment_id": experiment, "run_name": f"run-{i:05d}",
                                                 "start_time": now + i})["run"]["info"]["run_id"]
        post(session, url, "/runs/log-batch", {
            "run_id": run,
            "params": [{"key": f"p{j}", "value": f"v{j}-{rng.randrange(10)}"} for j in range(args.params)],
            "metrics": [{"key": f"m{j}", "value": rng.random(), "timestamp": now, "step": 0} for j in range(args.metrics)],
        })
        post(session, url, "/runs/update", {"run_id": run, "status": "FINISHED", "end_time": now + i + 1000})
    runs_seconds = time.monotonic() - started
    big = post(session, url, "/runs/create", {"experiment_id": experiment, "run_name": "big-history",
                                             "start_time": now})["run"]["info"]["run_id"]
    started = time.monotonic()
    for start in range(0, args.points, 1000):
        post(session, url, "/runs/log-batch", {"run_id": big, "metrics": [
            {"key": "big", "value": 1.0 / (1 + step / 1000) + rng.random() * 0.01, "timestamp": now + step, "step": step}
            for step in range(start, min(start + 1000, args.points))]})
    points_seconds = time.monotonic() - started
    return experiment, big, runs_seconds, points_seconds


def asset_bytes(session, url, html):
    """Bytes of the scripts and stylesheets the page links to (first visit)."""
    total = 0
    for ref in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        total += len(session.get(url + ref.replace("&amp;", "&"), timeout=60).content)
    return total


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q / 100 * len(values) + 0.5) - 1))]


def measure(args, url, experiment, big):
    session = requests.Session()
    first = requests.post(url + API + "/runs/search", json={"experiment_ids": [experiment], "max_results": 1,
                                                           "filter": "attributes.run_name = 'run-00042'"}).json()
    run_id = first["runs"][0]["info"]["run_id"]
    pages = [
        ("runs_page", f"/experiments/{experiment}", True),
        ("runs_sorted", f"/experiments/{experiment}?sort=metric:m3&dir=asc", True),
        ("runs_filtered", f"/experiments/{experiment}?filter=" + requests.utils.quote("params.p1 = 'v1-7' AND metrics.m2 > 0.5"), True),
        ("runs_page_500", f"/experiments/{experiment}?max=500", True),
        ("run_page", f"/runs/{run_id}", True),
        ("chart_page", f"/metric?key=big&run={big}", True),
        ("chart_series", f"/ui/api/metric-series?key=big&run_id={big}&points=1000", False),
    ]
    results = {}
    for name, path, is_page in pages:
        for _ in range(3):
            session.get(url + path, timeout=120).content
        times = []
        for _ in range(args.calls):
            started = time.perf_counter()
            response = session.get(url + path, timeout=120)
            body = response.content
            times.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"GET {path}: {response.status_code} {body[:300]}")
        entry = {"p50_ms": round(percentile(times, 50), 2), "p99_ms": round(percentile(times, 99), 2),
                 "bytes": len(body)}
        if is_page:
            entry["bytes_with_assets"] = len(body) + asset_bytes(session, url, body.decode())
        if name.startswith("runs"):
            entry["rows"] = body.decode().count('<tr data-run="')
        if name == "chart_series":
            series = json.loads(body)["runs"][big]
            entry["points_sent"] = len(series["v"])
        results[name] = entry
    return results


def browser_timings(url, experiment, big):
    sys.path.insert(0, os.path.join(HERE, "..", "scripts"))
    from cdp import Browser
    timings = {}
    with Browser.launch() as browser:
        for name, path, ready in [
            ("runs_page", f"/experiments/{experiment}", "document.querySelectorAll('#sf-runs tbody tr').length > 0"),
            ("chart_page", f"/metric?key=big&run={big}", "document.querySelectorAll('#sf-chart path.sf-series').length === 1"),
        ]:
            samples = []
            for _ in range(5):
                page = browser.new_page()
                started = time.perf_counter()
                page.goto(url + path)
                page.wait_for(ready, timeout=30, interval=0.005)
                samples.append((time.perf_counter() - started) * 1000)
                load = page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
                errors = page.console_errors
                page.close()
            timings[name] = {"ready_ms_p50": round(percentile(samples, 50), 1), "load_event_ms": round(load, 1),
                             "console_errors": errors}
    return timings


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--swiftflow", default=os.path.join(HERE, "..", ".build", "release", "swiftflow"))
    ap.add_argument("--runs", type=int, default=10000)
    ap.add_argument("--params", type=int, default=20)
    ap.add_argument("--metrics", type=int, default=10)
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--calls", type=int, default=20)
    ap.add_argument("--browser", action="store_true")
    ap.add_argument("--out")
    args = ap.parse_args()

    root = tempfile.mkdtemp(prefix="ui-bench.")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [os.path.abspath(args.swiftflow), "server", "--host", "127.0.0.1", "--port", str(port),
               "--backend-store-uri", f"sqlite:///{root}/mlflow.db", "--artifacts-destination", f"{root}/artifacts"]
    server = Server("swiftflow", command, root)
    try:
        server.wait_ready(url, 60)
        experiment, big, runs_s, points_s = fill(args, url)
        results = {"runs": args.runs, "params": args.params, "metrics": args.metrics, "points": args.points,
                   "fill_runs_s": round(runs_s, 1), "fill_points_s": round(points_s, 1),
                   "pages": measure(args, url, experiment, big)}
        if args.browser:
            results["browser"] = browser_timings(url, experiment, big)
        results["rss_mib"] = round(memory_kib(process_tree(server.process.pid), "VmRSS") / 1024, 1)
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)

    print(f"{args.runs} runs x {args.params} params x {args.metrics} metrics; one metric of {args.points:,} points")
    print(f"fill: runs {results['fill_runs_s']} s, points {results['fill_points_s']} s")
    print(f"{'':16s}{'p50 ms':>9s}{'p99 ms':>9s}{'KiB':>9s}{'KiB+assets':>12s}  notes")
    for name, entry in results["pages"].items():
        notes = []
        if "rows" in entry:
            notes.append(f"{entry['rows']} rows")
        if "points_sent" in entry:
            notes.append(f"{entry['points_sent']} points")
        with_assets = f"{entry['bytes_with_assets'] / 1024:12.1f}" if "bytes_with_assets" in entry else f"{'':12s}"
        print(f"{name:16s}{entry['p50_ms']:9.2f}{entry['p99_ms']:9.2f}{entry['bytes'] / 1024:9.1f}{with_assets}  {', '.join(notes)}")
    for name, entry in results.get("browser", {}).items():
        print(f"browser {name}: ready {entry['ready_ms_p50']} ms (p50 of 5), load event {entry['load_event_ms']} ms, "
              f"console errors {entry['console_errors']}")
    print(f"server RSS at the end: {results['rss_mib']} MiB")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
