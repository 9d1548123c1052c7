#!/usr/bin/env python3
"""Helper of models_serve.sh: logs the model, measures memory, writes the results.

    models_serve.py log TRACKING_URI NAME DIR   log + register the model, write DIR/body-{1,1000}.json
    models_serve.py mem PID                     memory of PID's process tree (JSON on stdout)
    models_serve.py wrk FILE                    summary of a wrk --latency output; fails on non-2xx or no requests
    models_serve.py report DIR OUT              DIR/meta.json + the files the driver wrote -> OUT/results.{json,md}

Run it with the venv that has mlflow, scikit-learn and pandas (only `log` needs them).
"""
import json
import os
import re
import sys

from proctree import process_tree  # bench/, the script's own folder

SIZES = (1, 1000)
SERVERS = ("official", "ours")


# ---------------------------------------------------------------- model
def log(tracking_uri, name, out):
    import mlflow
    import numpy as np
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(1000, 4)), columns=list("abcd"))
    y = (X.a + 0.5 * X.b - X.c + rng.normal(scale=0.5, size=len(X)) > 0).astype(int)
    pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())]).fit(X, y)

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment("models-serve-bench")
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(pipe, name="model", signature=infer_signature(X, pipe.predict(X)),
                                        registered_model_name=name)
    print(f"logged {info.model_uri} as {name} version {info.registered_model_version}")

    # Request rows come from another draw than the training rows.
    query = pd.DataFrame(np.random.default_rng(1).normal(size=(max(SIZES), 4)), columns=list("abcd"))
    for n in SIZES:
        split = query.head(n).to_dict(orient="split")
        with open(os.path.join(out, f"body-{n}.json"), "w") as f:
            json.dump({"dataframe_split": {"columns": split["columns"], "data": split["data"]}}, f)


# ---------------------------------------------------------------- memory
def mem(pid):
    """Rss and Pss (smaps_rollup, KiB) of each process of the tree; Pss shares pages the
    processes have in common (forked workers, libraries), so the tree's Pss does not count them twice."""
    procs = []
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line and not line.startswith(" "))
            with open(f"/proc/{p}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue  # exited meanwhile
        kib = {k: int(fields[k].split()[0]) for k in ("Rss", "Pss") if k in fields}
        procs.append({"pid": p, "rss_kib": kib.get("Rss", 0), "pss_kib": kib.get("Pss", 0), "cmd": cmd[:200]})
    largest = max(procs, key=lambda q: q["rss_kib"], default={"rss_kib": 0, "cmd": ""})
    return {"tree_rss_kib": sum(q["rss_kib"] for q in procs), "tree_pss_kib": sum(q["pss_kib"] for q in procs),
            "max_rss_kib": largest["rss_kib"], "max_rss_cmd": largest["cmd"], "processes": procs}


# ---------------------------------------------------------------- wrk
UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def to_ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    return float(m.group(1)) * UNITS_MS[m.group(2)]


def parse_wrk(text):
    out = {"non_2xx": 0, "socket_errors": 0}
    m = re.search(r"^\s*(\d+) requests in ([\d.]+\w+)", text, re.M)
    out["requests"] = int(m.group(1)) if m else 0
    m = re.search(r"^Requests/sec:\s*([\d.]+)", text, re.M)
    out["rps"] = float(m.group(1)) if m else 0.0
    for pct in ("50", "75", "90", "99"):
        m = re.search(rf"^\s*{pct}(?:\.0+)?%\s+(\S+)", text, re.M)
        out[f"p{pct}_ms"] = to_ms(m.group(1)) if m else None
    m = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", text)
    if m:
        out["non_2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        out["socket_errors"] = sum(int(g) for g in m.groups())
        out["socket_errors_detail"] = m.group(0)
    return out


# ---------------------------------------------------------------- report
def load(path):
    with open(path) as f:
        return json.load(f)


def ratio(a, b):
    return a / b if a and b else None


def report(tmp, out):
    meta = load(os.path.join(tmp, "meta.json"))
    servers, ratios = {}, {}
    for s in SERVERS:
        servers[s] = {"command": meta["commands"][s], "idle_memory": load(os.path.join(tmp, f"{s}-idle.mem.json")),
                      "sizes": {}}
        for n in SIZES:
            with open(os.path.join(tmp, f"{s}-{n}.wrk")) as f:
                load_run = parse_wrk(f.read())
            load_run["memory"] = load(os.path.join(tmp, f"{s}-{n}.mem.json"))
            servers[s]["sizes"][str(n)] = load_run
    predictions = {s: load(os.path.join(tmp, f"{s}-predictions.json")) for s in SERVERS}
    for n in SIZES:
        o, c = servers["official"]["sizes"][str(n)], servers["ours"]["sizes"][str(n)]
        r = {"throughput_ours_over_official": ratio(c["rps"], o["rps"]),
             "p99_ours_over_official": ratio(c["p99_ms"], o["p99_ms"]),
             "rss_ours_over_official": ratio(c["memory"]["tree_rss_kib"], o["memory"]["tree_rss_kib"]),
             "pss_ours_over_official": ratio(c["memory"]["tree_pss_kib"], o["memory"]["tree_pss_kib"])}
        r["goals_met"] = {"throughput": (r["throughput_ours_over_official"] or 0) >= 3,
                          "p99": (r["p99_ours_over_official"] or 99) <= 0.5,
                          "rss": (r["rss_ours_over_official"] or 99) <= 0.5}
        ratios[str(n)] = r
    results = dict(meta, servers=servers, ratios=ratios,
                   predictions_match=predictions["official"] == predictions["ours"])
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    md = markdown(results)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(md)
    print(md, end="")
    if not results["predictions_match"]:
        print("WARNING: the two servers' predictions for the 1,000-row request differ", file=sys.stderr)


def markdown(res):
    mib = lambda kib: f"{kib / 1024:,.1f}"  # noqa: E731
    fmt = lambda x, d=2: "n/a" if x is None else f"{x:,.{d}f}"  # noqa: E731
    lines = [f"# `models serve`: official MLflow {res['mlflow_version']} vs Swiftflow", "",
             f"{res['date']}, {res['cpus']} CPUs (load average {res['loadavg_at_start']} at start), scikit-learn {res['sklearn_version']}, "
             f"`Pipeline(StandardScaler(), LogisticRegression())` on 4 double columns, served as "
             f"`models:/{res['model_name']}/1` with `--env-manager local` and 1 worker, one server at a time. "
             f"`wrk -t{res['wrk_threads']} -c{res['connections']} -d{res['duration_s']}s --latency`, POST "
             f"`/invocations` (`dataframe_split` JSON), after a {res['warmup_s']} s warm-up per size. "
             f"Memory from `/proc/PID/smaps_rollup` over the server's process tree, read after each load run.", ""]
    if res["ours_is_official"]:
        lines += ["**Dry run: \"ours\" is the official server too (`--swiftflow mlflow`).**", ""]
    lines += ["| rows | server | req/s | p50 ms | p99 ms | tree RSS MiB | tree PSS MiB | largest RSS MiB | processes | errors |",
              "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for n in SIZES:
        for s in SERVERS:
            r = res["servers"][s]["sizes"][str(n)]
            m = r["memory"]
            lines.append(f"| {n:,} | {s} | {r['rps']:,.1f} | {fmt(r['p50_ms'])} | {fmt(r['p99_ms'])} | "
                         f"{mib(m['tree_rss_kib'])} | {mib(m['tree_pss_kib'])} | {mib(m['max_rss_kib'])} | "
                         f"{len(m['processes'])} | {r['non_2xx'] + r['socket_errors']} |")
    lines += ["", "Idle (after start, before any request): " + ", ".join(
        f"{s} tree RSS {mib(res['servers'][s]['idle_memory']['tree_rss_kib'])} MiB, "
        f"PSS {mib(res['servers'][s]['idle_memory']['tree_pss_kib'])} MiB" for s in SERVERS) + ".", "",
        "| rows | throughput ours/official (goal ≥ 3) | p99 ours/official (goal ≤ 0.5) | "
        "tree RSS ours/official (goal ≤ 0.5) | tree PSS ours/official |",
        "|---:|---:|---:|---:|---:|"]
    for n in SIZES:
        r = res["ratios"][str(n)]
        mark = lambda key, val: f"{fmt(val)} {'met' if r['goals_met'][key] else 'missed'}"  # noqa: E731
        lines.append(f"| {n:,} | {mark('throughput', r['throughput_ours_over_official'])} | "
                     f"{mark('p99', r['p99_ours_over_official'])} | {mark('rss', r['rss_ours_over_official'])} | "
                     f"{fmt(r['pss_ours_over_official'])} |")
    lines += ["", f"Predictions of both servers for the 1,000-row request: "
              f"{'identical' if res['predictions_match'] else 'DIFFERENT'}.", ""]
    return "\n".join(lines)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "log":
        log(*args)
    elif cmd == "mem":
        print(json.dumps(mem(int(args[0]))))
    elif cmd == "wrk":
        with open(args[0]) as f:
            r = parse_wrk(f.read())
        print(f"   {r['requests']} requests, {r['rps']:,.1f} req/s, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms")
        if r["socket_errors"]:
            print(f"WARNING: {r['socket_errors_detail']}", file=sys.stderr)
        if r["non_2xx"] or not r["requests"]:
            sys.exit(f"{args[0]}: {r['non_2xx']} non-2xx responses of {r['requests']}")
    elif cmd == "report":
        report(*args)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
