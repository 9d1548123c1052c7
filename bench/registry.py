#!/usr/bin/env python3
"""Model Registry search: the official MLflow server and swiftflow side by side, through the REST API.

    registry.py [--quick] [--only official|swiftflow] [--clients N] [--calls N] [--out results.json]

Starts each server in turn (never both at once) on a loopback port over a fresh temp folder, then:

  setup    one experiment with one run per registered model; 100 registered models x 100 versions
           (10,000 versions), made by --clients processes, each with its own HTTP session and its
           own share of the models: registered-models/create, model-versions/create (source
           `runs:/<run_id>/model` for even versions, `<run artifact_uri>/model-<n>` for odd ones, always
           with the run's id), model-versions/set-tag on every 10th version (2 tags) and 25th version
           (1 more), registered-models/alias on every 10th model (champion -> last, challenger -> last - 1)
  queries  each --calls times (after 3 untimed warm-up calls), one after the other on one session:
             versions_by_name   model-versions/search  name = 'model-042'          100 results
             versions_like      model-versions/search  name LIKE 'model-0%'        version_number DESC, 1,000
             versions_by_tag    model-versions/search  tags.validated = 'true'     name ASC, version_number DESC
             models_like        registered-models/search name LIKE 'model-%'       max_results 1,000 (MLflow's max)

and prints the setup time, p50/p99 of each query (request sent to body read; JSON parsed outside the
timing) and the server's memory: VmRSS when idle, the highest VmRSS sampled every 50 ms during setup and
during the queries, and VmHWM (peak) at the end from /proc/PID/status, summed over the server process
and its children. The answers of both servers are compared (counts, names and versions in order, tags,
aliases, latest versions, page tokens' presence): a difference prints a WARNING.

Needs `requests`: run it with the official server's venv (~/.cache/mlflow-official-venv), as artifacts.py.
"""
import argparse
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# artifacts.py re-runs the script with the official venv's Python when `requests` is missing.
from artifacts import HERE, MLFLOW_VENV, RSSSampler, each_server, memory_kib, process_tree  # noqa: E402

import requests  # noqa: E402

API = "/api/2.0/mlflow"


def model_name(i):
    return f"model-{i:03d}"


# ---------------------------------------------------------------- setup
def post(session, url, path, body):
    r = session.post(url + API + path, json=body, timeout=600)
    if r.status_code != 200:
        raise RuntimeError(f"POST {path} {json.dumps(body)[:200]}: {r.status_code} {r.text[:300]}")
    return r.json()


def setup_models(job):
    """One client process: its share of the models, each with all its versions, tags and aliases."""
    url, models, runs, versions = job
    session = requests.Session()
    requests_made = 0
    for i in models:
        name = model_name(i)
        run_id, artifact_uri = runs[i]
        post(session, url, "/registered-models/create", {"name": name})
        requests_made += 1
        for n in range(1, versions + 1):
            source = f"runs:/{run_id}/model" if n % 2 == 0 else f"{artifact_uri}/model-{n}"
            created = post(session, url, "/model-versions/create", {"name": name, "source": source, "run_id": run_id})
            requests_made += 1
            version = created["model_version"]["version"]
            if str(version) != str(n):
                raise RuntimeError(f"{name}: version {version} where {n} was expected")
            tags = {}
            if n % 10 == 0:
                tags.update(stage="candidate", team=f"team-{i % 5}")
            if n % 25 == 0:
                tags["validated"] = "true"
            for key, value in tags.items():
                post(session, url, "/model-versions/set-tag",
                     {"name": name, "version": str(n), "key": key, "value": value})
                requests_made += 1
        if i % 10 == 0:
            for alias, n in (("champion", versions), ("challenger", versions - 1)):
                post(session, url, "/registered-models/alias", {"name": name, "alias": alias, "version": str(n)})
                requests_made += 1
    return requests_made


def setup(args, url):
    session = requests.Session()
    experiment = post(session, url, "/experiments/create", {"name": "registry-bench"})["experiment_id"]
    runs = {}
    for i in range(args.models):
        run = post(session, url, "/runs/create", {"experiment_id": experiment, "run_name": f"train-{i:03d}",
                                                  "start_time": int(time.time() * 1000)})["run"]["info"]
        runs[i] = (run["run_id"], run["artifact_uri"])
    shares = [list(range(c, args.models, args.clients)) for c in range(args.clients)]
    with multiprocessing.get_context("fork").Pool(args.clients) as pool:
        counts = pool.map(setup_models, [(url, share, runs, args.versions) for share in shares if share])
    return 1 + args.models + sum(counts)


# ---------------------------------------------------------------- queries
def queries(args):
    last = args.versions
    return [
        ("versions_by_name", "/model-versions/search",
         {"filter": "name = 'model-042'" if args.models > 42 else "name = 'model-004'", "max_results": 100,
          "order_by": "version_number DESC"}),
        ("versions_like", "/model-versions/search",
         {"filter": "name LIKE 'model-0%'", "max_results": 1000, "order_by": "version_number DESC"}),
        ("versions_by_tag", "/model-versions/search",
         {"filter": "tags.validated = 'true'", "max_results": 1000,
          "order_by": ["name ASC", "version_number DESC"]}),
        ("models_like", "/registered-models/search",
         {"filter": "name LIKE 'model-%'", "max_results": 1000}),
    ] if last else []


def summary(path, body):
    """What must be the same on both servers: no run ids, sources or timestamps."""
    if path == "/model-versions/search":
        items = [(v["name"], int(v["version"]), v.get("current_stage"), v.get("status"),
                  sorted((t["key"], t["value"]) for t in v.get("tags", [])),
                  v["source"].startswith("runs:/"))
                 for v in body.get("model_versions", [])]
    else:
        items = [(m["name"],
                  sorted((a["alias"], int(a["version"])) for a in m.get("aliases", [])),
                  sorted((int(v["version"]), v.get("current_stage")) for v in m.get("latest_versions", [])),
                  sorted((t["key"], t["value"]) for t in m.get("tags", [])))
                 for m in body.get("registered_models", [])]
    return {"count": len(items), "has_next_page": bool(body.get("next_page_token")), "items": items}


def percentile(sorted_values, q):
    index = min(len(sorted_values) - 1, max(0, round(q / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


def run_queries(args, url):
    session = requests.Session()
    timings, answers = {}, {}
    for name, path, params in queries(args):
        for _ in range(3):
            r = session.get(url + API + path, params=params, timeout=600)
            if r.status_code != 200:
                raise RuntimeError(f"GET {path} {params}: {r.status_code} {r.text[:300]}")
        answers[name] = summary(path, r.json())
        samples = []
        for _ in range(args.calls):
            t0 = time.perf_counter()
            r = session.get(url + API + path, params=params, timeout=600)
            content = r.content
            samples.append((time.perf_counter() - t0) * 1000)
            if r.status_code != 200:
                raise RuntimeError(f"GET {path} {params}: {r.status_code} {content[:300]}")
        samples.sort()
        timings[name] = {"p50_ms": round(percentile(samples, 50), 2), "p99_ms": round(percentile(samples, 99), 2),
                         "count": answers[name]["count"]}
    return timings, answers


def run_workloads(args, name, url, pid):
    result = {"server": name}
    result["rss_idle_mib"] = round(memory_kib(process_tree(pid), "VmRSS") / 1024, 1)
    with RSSSampler(pid) as sampler:
        t0 = time.perf_counter()
        made = setup(args, url)
        seconds = time.perf_counter() - t0
    result.update(setup_s=round(seconds, 2), setup_requests=made, setup_requests_s=round(made / seconds, 1),
                  setup_rss_peak_mib=round(sampler.peak / 1024, 1))
    with RSSSampler(pid) as sampler:
        timings, answers = run_queries(args, url)
    result["queries"] = timings
    result["queries_rss_peak_mib"] = round(sampler.peak / 1024, 1)
    result["rss_hwm_mib"] = round(memory_kib(process_tree(pid), "VmHWM") / 1024, 1)
    return result, answers


# ---------------------------------------------------------------- report
def compare(answers):
    """WARNING lines for each query whose answers differ between the servers."""
    warnings = []
    (first, a), (second, b) = answers.items()
    for query in a:
        x, y = a[query], b[query]
        if x == y:
            continue
        if x["count"] != y["count"] or x["has_next_page"] != y["has_next_page"]:
            warnings.append(f"{query}: {first} gave {x['count']} results (next page: {x['has_next_page']}), "
                            f"{second} {y['count']} (next page: {y['has_next_page']})")
        for i, (p, q) in enumerate(zip(x["items"], y["items"])):
            if p != q:
                warnings.append(f"{query}: item {i} differs: {first} {p} / {second} {q}")
                break
    return warnings


def report(args, results, warnings):
    names = [r["server"] for r in results]
    both = len(names) == 2
    print()
    print(f"{args.models} models x {args.versions} versions, {args.clients} client processes, "
          f"{args.calls} timed calls per query")
    print(f"{'':44}" + "".join(f"{n:>12}" for n in names) + ("   official/swiftflow" if both else ""))
    rows = [("setup_s", "setup, s")]
    for query, path, params in queries(args):
        rows += [(f"{query}.p50_ms", f"{query} p50, ms"), (f"{query}.p99_ms", f"{query} p99, ms")]
    rows += [("rss_idle_mib", "RSS idle, MiB"), ("setup_rss_peak_mib", "RSS peak during setup, MiB"),
             ("queries_rss_peak_mib", "RSS peak during queries, MiB"),
             ("rss_hwm_mib", "VmHWM at the end (sum of processes), MiB")]

    def value(r, key):
        if "." in key:
            query, field = key.split(".")
            return r["queries"][query][field]
        return r[key]

    for key, label in rows:
        values = [value(r, key) for r in results]
        line = f"{label:44}" + "".join(f"{v:>12}" for v in values)
        if both and values[1]:
            line += f"   {values[0] / values[1]:.1f}x"
        print(line)
    for query, path, params in queries(args):
        counts = ", ".join(f"{r['server']} {r['queries'][query]['count']}" for r in results)
        print(f"  {query}: GET {path} {json.dumps(params)} -> {counts} results")
    for w in warnings:
        print(f"WARNING {w}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="10 models x 100 versions, 10 calls, to check that it works")
    ap.add_argument("--models", type=int, default=100)
    ap.add_argument("--versions", type=int, default=100, help="versions per registered model")
    ap.add_argument("--clients", type=int, default=4, help="client processes during setup")
    ap.add_argument("--calls", type=int, default=30, help="timed calls per query")
    ap.add_argument("--only", choices=["official", "swiftflow"], help="measure one server")
    ap.add_argument("--swiftflow", default=os.path.join(HERE, "..", ".build", "release", "swiftflow"))
    ap.add_argument("--mlflow-workers", type=int, default=2, help="uvicorn workers of the official server (as compare.sh)")
    ap.add_argument("--start-timeout", type=int, default=180)
    ap.add_argument("--out", help="write the results as JSON")
    args = ap.parse_args()
    if args.quick:
        args.models, args.versions, args.calls = 10, 100, 10
    if args.versions < 2:
        sys.exit("--versions must be at least 2 (aliases point at the last two)")
    args.swiftflow = os.path.abspath(args.swiftflow)
    names = [args.only] if args.only else ["official", "swiftflow"]
    if "swiftflow" in names and not os.access(args.swiftflow, os.X_OK):
        sys.exit(f"no swiftflow binary at {args.swiftflow}: swift build -c release")
    if "official" in names and not os.access(os.path.join(MLFLOW_VENV, "bin", "mlflow"), os.X_OK):
        sys.exit(f"no official mlflow in {MLFLOW_VENV}: see ../../shared/bench/compare.sh")

    root = tempfile.mkdtemp(prefix="registry-bench.")
    results, answers = [], {}
    try:
        print(f"data: {args.models} registered models x {args.versions} versions in {root}")
        for name, (result, answer) in zip(names, each_server(
                args, names, root, lambda name, url, pid, data: run_workloads(args, name, url, pid))):
            print(json.dumps(result))
            results.append(result)
            answers[name] = answer
    finally:
        shutil.rmtree(root, ignore_errors=True)
    warnings = compare(answers) if len(answers) == 2 else []
    report(args, results, warnings)
    if args.out:
        meta = {"models": args.models, "versions": args.versions, "clients": args.clients, "calls": args.calls,
                "mlflow_workers": args.mlflow_workers, "cpus": os.cpu_count(),
                "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
        with open(args.out, "w") as f:
            json.dump({"meta": meta, "results": results, "warnings": warnings}, f, indent=2)


if __name__ == "__main__":
    main()
