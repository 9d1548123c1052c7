"""Differential check of run search: the same data in two servers, the same searches, the same answers.

    python scripts/search_diff.py OFFICIAL_URL CANDIDATE_URL

Logs one deterministic set of runs (NaN and infinite metrics, missing keys, mixed case, quotes,
deleted runs, datasets, equal start times) into a new experiment on each server through the official
client, then compares for every filter × order_by × view type:
  - the `mlflow.search_runs` DataFrame (ids and URIs dropped, everything else cell by cell, in order),
  - the run names page by page through `MlflowClient.search_runs` with small pages,
  - the error code when the official server refuses the search.
Exits 1 on the first kind of difference found, after printing all of them.
"""
import math
import random
import sys
import time

import mlflow
import pandas as pd
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag, ViewType
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

RUNS = 60
BASE_TIME = 1_700_000_000_000

FILTERS = [
    "",
    "metrics.acc > 0.5",
    "metrics.acc >= 0.5 and params.model = 'cnn'",
    "metrics.acc != 0.25",
    "metrics.acc = 0.25",
    "metrics.acc <= 0.25",
    "metrics.loss < 0",
    "metrics.loss > 1e300",
    "metrics.steps = 4",
    "metrics.`acc` > 0.1 AND metrics.acc < 0.9 AND tags.team != 'blue'",
    "params.model LIKE 'c%'",
    "params.model ILIKE 'c%'",
    "params.model LIKE '%\\_%'",
    "params.model = '50%'",
    "params.model != 'cnn'",
    "params.lr IS NULL",
    "params.lr IS NOT NULL",
    "params.lr = '0.01' and params.model LIKE '%n%'",
    "tags.team = 'red'",
    "tags.team ILIKE 'RED'",
    "tags.team != 'red'",
    "tags.team = 'o''hara'",
    "tags.team IS NULL",
    "tags.note LIKE 'caf%'",
    "tags.\"note\" = 'café'",
    "attributes.status = 'FINISHED'",
    "status != 'RUNNING'",
    "attributes.status IN ('FAILED', 'FINISHED')",
    f"attributes.start_time > {BASE_TIME + 40_000}",
    f"start_time <= {BASE_TIME + 18_000}",
    f"attributes.end_time >= {BASE_TIME}",
    "run_name LIKE 'run-1%'",
    "attributes.run_name ILIKE 'RUN-0%'",
    "attributes.`Run name` = 'run-07'",
    "datasets.name = 'train'",
    "datasets.digest IN ('d1', 'd3')",
    "datasets.context = 'training'",
    "datasets.name != 'train'",
    # Refused by MLflow: the error code must match.
    "metrics.acc IS NULL",
    "params.model > 'a'",
    "tags.team IN ('red')",
    "metrics.acc = 'x'",
    "foo.bar = 1",
    "metrics.acc > 0.5 OR metrics.acc < 0.1",
    "params.model = cnn",
]
ORDERS = [
    [], ["metrics.acc DESC"], ["metrics.acc ASC"], ["metrics.loss"], ["params.model ASC", "metrics.acc DESC"],
    ["tags.team DESC"], ["attributes.start_time ASC"], ["end_time DESC"], ["run_name"], ["status DESC", "params.lr"],
]
VIEWS = [ViewType.ACTIVE_ONLY, ViewType.DELETED_ONLY, ViewType.ALL]


def populate(client: MlflowClient, name: str) -> str:
    rng = random.Random(7)
    exp = client.create_experiment(name)
    for i in range(RUNS):
        # Distinct start times: ties fall to run ids, which differ between servers.
        run = client.create_run(exp, start_time=BASE_TIME + i * 1000, run_name=f"run-{i:02d}")
        rid = run.info.run_id
        metrics, params, tags = [], [], []
        if i % 7:
            acc = math.nan if i % 13 == 0 else round(rng.random(), 3) if i % 9 else 0.25
            metrics.append(Metric("acc", acc, BASE_TIME, 0))
        loss = [math.inf, -math.inf, -2.5, 0.0, 3.0][i % 5]
        metrics.append(Metric("loss", loss, BASE_TIME, 0))
        for step in range(i % 5):  # history: the latest point is what search sees
            metrics.append(Metric("steps", float(step + 1), BASE_TIME + step, step))
        if i % 6:
            params.append(Param("model", ["cnn", "CNN", "rnn", "mlp", "a_b", "50%"][i % 6]))
        if i % 4:
            params.append(Param("lr", ["0.01", "0.1", "1e-3"][i % 3]))
        if i % 8:
            tags.append(RunTag("team", ["red", "Red", "blue", "o'hara"][i % 4]))
        tags.append(RunTag("note", "café" if i % 2 else "cafe"))
        client.log_batch(rid, metrics=metrics, params=params, tags=tags)
        if i % 4 == 0:
            ds = Dataset(name="train" if i % 8 else "eval", digest=f"d{i % 5}", source_type="local",
                         source='{"uri": "/data"}')
            client.log_inputs(rid, [DatasetInput(ds, tags=[InputTag("mlflow.data.context",
                                                                   "training" if i % 8 else "eval")])])
        if i % 5 == 0:
            client.set_terminated(rid, status="FAILED", end_time=BASE_TIME + 90_000 + i)
        elif i % 3 == 0:
            client.set_terminated(rid, status="FINISHED", end_time=BASE_TIME + 80_000 - i)
        if i % 11 == 0:
            client.delete_run(rid)
    return exp


def frame(exp, flt, order, view):
    df = mlflow.search_runs([exp], filter_string=flt, order_by=order, run_view_type=view)
    df = df.drop(columns=["run_id", "experiment_id", "artifact_uri"])
    return df.reindex(sorted(df.columns), axis=1).reset_index(drop=True)


def pages(client, exp, flt, order, view):
    names, token = [], None
    while True:
        page = client.search_runs([exp], flt, view, 7, order, token)
        names += [r.info.run_name for r in page]
        token = page.token
        if not token:
            return names


def answer(url, exp, flt, order, view):
    mlflow.set_tracking_uri(url)
    client = MlflowClient(url)
    try:
        return ("ok", frame(exp, flt, order, view), pages(client, exp, flt, order, view))
    except MlflowException as e:
        return ("error", e.error_code, str(e))


def main():
    official, candidate = sys.argv[1], sys.argv[2]
    name = f"search-diff-{int(time.time())}"
    exps = {}
    for url in (official, candidate):
        mlflow.set_tracking_uri(url)
        exps[url] = populate(MlflowClient(url), name)
    checked, differences = 0, []
    for flt in FILTERS:
        for order in ORDERS:
            for view in VIEWS if order in ([], ["metrics.acc DESC"]) else VIEWS[:1]:
                a = answer(official, exps[official], flt, order, view)
                b = answer(candidate, exps[candidate], flt, order, view)
                checked += 1
                what = f"filter={flt!r} order_by={order} view={ViewType.to_string(view)}"
                if a[0] != b[0]:
                    differences.append(f"{what}: official {a[0]} {a[1:] if a[0] == 'error' else ''}, "
                                       f"candidate {b[0]} {b[1:] if b[0] == 'error' else ''}")
                elif a[0] == "error":
                    if a[1] != b[1]:
                        differences.append(f"{what}: error {a[1]} vs {b[1]}")
                else:
                    try:
                        pd.testing.assert_frame_equal(a[1], b[1], check_dtype=False)
                    except AssertionError as e:
                        differences.append(f"{what}: DataFrames differ: {str(e)[:400]}")
                    if a[2] != b[2]:
                        differences.append(f"{what}: pages differ: {a[2]} vs {b[2]}")
    print(f"search diff: {checked} searches compared, {len(differences)} differences")
    for d in differences:
        print("  " + d)
    sys.exit(1 if differences else 0)


if __name__ == "__main__":
    main()
