#!/usr/bin/env python3
"""UI tests: a real headless Chromium against a running server filled by the official mlflow client.

    ui_test.py http://127.0.0.1:PORT [--screenshots DIR] [--chromium /usr/bin/chromium]

Fills the server with scripts/ui_fixture.py (hostile strings included), then visits every page:
checks its key content, drives the filter box, sorting, selection, forms, the artifact browser and
the charts, and on every page asserts that no console error was logged, no dialog opened and no
injected markup ran (`window.__sf_xss` stays unset, no `img[src=x]` exists). Saves a 1280x800
screenshot of each page when --screenshots is given. Exit status 1 if any check fails.
"""
import argparse
import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from cdp import Browser  # noqa: E402

failures = []
passed = 0


def check(condition, what):
    global passed
    if condition:
        passed += 1
    else:
        failures.append(what)
        print(f"FAIL {what}", flush=True)


def q(value):
    return urllib.parse.quote(value, safe="")


class Site:
    def __init__(self, browser, base, shots):
        self.browser, self.base, self.shots = browser, base, shots

    def open(self, path, shot=None):
        page = self.browser.new_page()
        page.goto(self.base + path)
        page.wait_for("document.readyState === 'complete'", timeout=10)
        page.name = shot or path
        if shot and self.shots:
            page.shot_path = os.path.join(self.shots, shot + ".png")
        return page

    def finish(self, page, settle=0.3):
        """The checks every page gets, then a screenshot."""
        time.sleep(settle)
        check(page.console_errors == [], f"{page.name}: no console errors (got {page.console_errors})")
        check(page.dialogs == [], f"{page.name}: no dialogs (got {page.dialogs})")
        check(page.evaluate("window.__sf_xss === undefined"), f"{page.name}: injected script never ran")
        check(page.evaluate("document.querySelectorAll('img[src=\"x\"], script:not([src]):not([type=\"application/json\"])').length") == 0,
              f"{page.name}: no injected elements")
        if getattr(page, "shot_path", None):
            page.screenshot(page.shot_path)
        page.close()


def text(page, selector):
    return page.evaluate(f"(document.querySelector({json.dumps(selector)}) || {{}}).textContent || ''")


def count(page, selector):
    return page.evaluate(f"document.querySelectorAll({json.dumps(selector)}).length")


def log_point(base, run_id, value, step):
    body = json.dumps({"run_id": run_id, "key": "loss", "value": value, "timestamp": int(time.time() * 1000),
                       "step": step}).encode()
    request = urllib.request.Request(base + "/api/2.0/mlflow/runs/log-metric", data=body,
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request).read()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--screenshots")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()
    base = args.url.rstrip("/")
    if args.screenshots:
        os.makedirs(args.screenshots, exist_ok=True)
    fixture = subprocess.run([sys.executable, os.path.join(HERE, "ui_fixture.py"), base],
                             check=True, capture_output=True, text=True)
    data = json.loads(fixture.stdout.strip().splitlines()[-1])
    runs, exp = data["runs"], data["experiment_id"]

    with Browser.launch(chromium=args.chromium, width=1280, height=800) as browser:
        site = Site(browser, base, args.screenshots)

        # Experiments: list, search, create, rename, delete, restore.
        page = site.open("/", "experiments")
        names = page.evaluate("[...document.querySelectorAll('#sf-experiments tbody tr td:first-child a')].map(a => a.textContent)")
        check("ui-demo" in names, "experiments: ui-demo listed")
        check(any(n.startswith("evil <img") for n in names), "experiments: hostile name shown as text")
        site.finish(page)
        page = site.open("/?q=ui-")
        names = page.evaluate("[...document.querySelectorAll('#sf-experiments tbody tr td:first-child a')].map(a => a.textContent)")
        check(names == ["ui-demo"], f"experiments: search keeps matches only (got {names})")
        page.evaluate("document.querySelector('details > summary.sf-button').click()")
        page.type("form[data-api$='experiments/create'] input[name=name]", "created-in-ui")
        page.click("form[data-api$='experiments/create'] button")
        page.wait_for("location.pathname.startsWith('/experiments/')", timeout=10)
        page.wait_for("document.readyState === 'complete' && document.querySelector('h1')", timeout=10)
        check(text(page, "h1") == "created-in-ui", "experiments: create form opens the new experiment")
        new_id = page.evaluate("location.pathname.split('/').pop()")
        site.finish(page)
        page = site.open("/?q=created-in")
        page.evaluate("document.querySelector('details.sf-inline > summary').click()")
        page.type("form[data-api$='experiments/update'] input[name=new_name]", "renamed-in-ui")
        page.click("form[data-api$='experiments/update'] button")
        page.wait_for("document.readyState === 'complete' && location.search.includes('created-in')", timeout=10)
        time.sleep(0.5)
        site.finish(page)
        page = site.open("/?q=renamed-in")
        check(count(page, "#sf-experiments tbody tr") == 1, "experiments: rename shows the new name")
        page.evaluate("window.confirm = () => true")  # the delete form asks first
        page.click("form[data-api$='experiments/delete'] button")
        time.sleep(1.0)
        site.finish(page)
        page = site.open("/?q=renamed-in&view=DELETED_ONLY")
        check(count(page, "#sf-experiments tbody tr a.sf-deleted") == 1, "experiments: deleted one in the deleted view")
        page.click("form[data-api$='experiments/restore'] button")
        time.sleep(1.0)
        site.finish(page)
        page = site.open("/?q=renamed-in")
        check(count(page, "#sf-experiments tbody tr") == 1, "experiments: restore brings it back")
        site.finish(page)

        # Runs table: content, columns, filter box, errors, sorting, selection, deleted runs.
        page = site.open(f"/experiments/{exp}", "runs")
        check(count(page, "#sf-runs tbody tr") == 5, "runs: five runs listed")
        headers = page.evaluate("[...document.querySelectorAll('#sf-runs thead tr:last-child th')].map(t => t.textContent.replace(/[▲▼]/g, '').trim())")
        for column in ("Run name", "Created", "Status", "acc", "loss", "lr", "model", "team"):
            check(column in headers, f"runs: column {column}")
        check(text(page, "#sf-runs thead tr:first-child").count("Metrics") == 1, "runs: column groups are markup, not text")
        site.finish(page)

        page = site.open(f"/experiments/{exp}")
        page.type("input.sf-filter", "params.model = 'cnn'")
        page.press("input.sf-filter", "Enter")
        page.wait_for("location.search.includes('filter=')", timeout=10)
        page.wait_for("document.readyState === 'complete'", timeout=10)
        names = page.evaluate("[...document.querySelectorAll('#sf-runs tbody a.sf-run-link')].map(a => a.textContent).sort()")
        check(names == ["run-1", "run-2"], f"runs: filter box filters (got {names})")
        site.finish(page)

        page = site.open(f"/experiments/{exp}?filter=" + q("metrics.loss <<< 1"))
        error = text(page, "#sf-filter-error")
        check("INVALID_PARAMETER_VALUE" in error, f"runs: bad filter shows MLflow's error (got {error!r})")
        site.finish(page)

        page = site.open(f"/experiments/{exp}?sort=metric:loss&dir=asc")
        names = page.evaluate("[...document.querySelectorAll('#sf-runs tbody a.sf-run-link')].map(a => a.textContent)")
        check(names[:4] == ["run-0", "run-1", "run-2", "live-run"], f"runs: sort by metric ascending (got {names})")
        page.click("th[data-sort-key='metric:loss'] a")
        page.wait_for("location.search.includes('dir=desc')", timeout=10)
        page.wait_for("document.readyState === 'complete'", timeout=10)
        names = page.evaluate("[...document.querySelectorAll('#sf-runs tbody a.sf-run-link')].map(a => a.textContent)")
        check(names[:3] == ["live-run", "run-2", "run-1"], f"runs: clicking the header sorts descending (got {names})")
        site.finish(page)

        page = site.open(f"/experiments/{exp}?sort=param:lr&dir=asc")
        page.evaluate("document.querySelectorAll('input.sf-run-check')[0].click(); document.querySelectorAll('input.sf-run-check')[1].click()")
        check(page.evaluate("!document.getElementById('sf-compare').disabled"), "runs: compare enabled with two runs selected")
        page.click("#sf-compare")
        page.wait_for("location.pathname === '/compare'", timeout=10)
        page.wait_for("document.readyState === 'complete' && document.getElementById('sf-compare')", timeout=10)
        check(count(page, "#sf-compare thead th") == 3, "runs: compare opens with the two selected runs")
        site.finish(page)

        page = site.open(f"/experiments/{exp}?view=ALL&cols=1&m=loss")
        headers = page.evaluate("[...document.querySelectorAll('#sf-runs thead tr:last-child th')].map(t => t.textContent.trim())")
        check("loss" in " ".join(headers) and "acc" not in headers, "runs: chosen columns only")
        site.finish(page)

        # Run page: overview, description, params, metrics, tags (edit), child, models, artifacts.
        run0 = runs[0]
        page = site.open(f"/runs/{run0}", "run")
        overview = text(page, "#sf-overview")
        check(run0 in overview and "FINISHED" in overview and "child-run" in overview, "run: overview with child run")
        check(page.evaluate("document.querySelector('#sf-description strong') !== null"), "run: description markdown rendered")
        check(page.evaluate("[...document.querySelectorAll('#sf-description a')].every(a => a.href.startsWith('https:'))"),
              "run: unsafe markdown link not linked")
        check("lr" in text(page, "#sf-params") and "0.1" in text(page, "#sf-params"), "run: params")
        check(count(page, "#sf-metrics a[href^='/metric?']") == 2, "run: metrics link to charts")
        check("ui-model version 1" in text(page, "#sf-models"), "run: registered version listed")
        page.wait_for("document.querySelectorAll('.sf-tree li').length >= 8", timeout=10)
        files = page.evaluate("[...document.querySelectorAll('.sf-tree > ul > li > span')].map(s => s.textContent)")
        for name in ("notes.txt", "metrics.json", "config.yaml", "table.csv", "plot.png", "shape.svg", "model"):
            check(name in files, f"run: artifact {name} in the tree")

        def select(name):
            page.evaluate(f"[...document.querySelectorAll('.sf-tree span')].find(s => s.textContent === {json.dumps(name)}).click()")

        pre = "(document.querySelector('.sf-preview pre') || {textContent: ''}).textContent"
        image_width = "(document.querySelector('.sf-preview img') || {}).naturalWidth"
        previews = [
            ("notes.txt", f"{pre} === 'plain text artifact\\nsecond line\\n'", "text preview"),
            ("metrics.json", f"{pre}.includes('\"auc\": 0.91')", "JSON preview, indented"),
            ("config.yaml", f"{pre}.includes('layers')", "YAML preview"),
            ("table.csv", "document.querySelectorAll('.sf-preview table td').length === 4", "CSV preview as a table"),
            ("plot.png", f"{image_width} === 4", "PNG preview"),
            ("shape.svg", f"{image_width} === 20", "SVG preview as an image (its script never runs)"),
            ("model", "[...document.querySelectorAll('.sf-tree span')].some(s => s.textContent === 'MLmodel')", "folder opens"),
            ("MLmodel", f"{pre}.includes('python_function')", "MLmodel preview"),
        ]
        for name, ready, label in previews:
            select(name)
            page.wait_for(ready, timeout=10)
            check(True, f"run: {label}")
            if name == "table.csv":
                check(page.evaluate("document.querySelectorAll('.sf-preview table td')[2].textContent") == "beta, quoted",
                      "run: CSV quoted fields")
        check(page.evaluate("!!document.querySelector('.sf-preview a[download]')"), "run: download link")
        if args.screenshots:
            select("table.csv")
            page.wait_for("document.querySelectorAll('.sf-preview table td').length === 4", timeout=10)
            page.evaluate("window.scrollTo(0, document.querySelector('.sf-artifacts').getBoundingClientRect().top + window.scrollY - 60)")
            page.screenshot(os.path.join(args.screenshots, "artifacts.png"))
        page.type("#sf-tag-form input[name=key]", "added")
        page.type("#sf-tag-form input[name=value]", "from-ui")
        page.click("#sf-tag-form button")
        page.wait_for("document.readyState === 'complete' && document.getElementById('sf-tags') && document.getElementById('sf-tags').textContent.includes('from-ui')", timeout=10)
        check(True, "run: set tag from the page")
        site.finish(page, settle=0.5)

        # Metric charts: several runs, controls, live refresh.
        page = site.open("/metric?key=loss" + "".join(f"&run={r}" for r in runs), "metric-chart")
        page.wait_for("document.querySelectorAll('#sf-chart path.sf-series').length === 3", timeout=10)
        check(True, "chart: one series per run")
        # Hover read-out: a pointer over the plot lists each run's nearest point.
        page.evaluate("""(() => { const o = document.querySelector('#sf-chart .sf-chart-overlay'), r = o.getBoundingClientRect();
            o.dispatchEvent(new PointerEvent('pointermove', {clientX: r.left + r.width / 2, clientY: r.top + r.height / 2, bubbles: true})); })()""")
        page.wait_for("(() => { const t = document.querySelector('#sf-chart .sf-chart-tooltip'); return t && !t.hidden && "
                      "['run-0', 'run-1', 'run-2'].every(n => t.textContent.includes(n)); })()", timeout=10)
        check(True, "chart: hover read-out lists every run")
        page.evaluate("const c = document.querySelector('[data-chart-control=log]'); c.checked = true; c.dispatchEvent(new Event('input'))")
        page.wait_for("document.querySelectorAll('#sf-chart path.sf-series').length === 3", timeout=10)
        page.evaluate("const s = document.querySelector('[data-chart-control=x]'); s.value = 'relative'; s.dispatchEvent(new Event('input'))")
        page.wait_for("document.querySelector('#sf-chart').textContent.includes('Relative time')", timeout=10)
        check(True, "chart: log scale and relative time redraw")
        page.evaluate("const r = document.querySelector('[data-chart-control=smoothing]'); r.value = 80; r.dispatchEvent(new Event('input'))")
        page.wait_for("document.querySelectorAll('#sf-chart path.sf-chart-raw').length === 3 && "
                      "document.querySelectorAll('#sf-chart path.sf-series').length === 3", timeout=10)
        check(True, "chart: smoothing draws the smoothed lines over faint raw ones")
        site.finish(page)

        live = data["live_run"]
        page = site.open(f"/metric?key=loss&run={live}", "metric-live")
        page.wait_for("(document.getElementById('sf-chart-status') || {}).textContent.startsWith('1 points')", timeout=10)
        log_point(base, live, 0.5, 1)
        page.wait_for("document.getElementById('sf-chart-status').textContent.startsWith('2 points')", timeout=15)
        check(True, "chart: live refresh picks up a new point")
        site.finish(page)

        # Compare: differences highlighted, scatter plot.
        page = site.open("/compare?runs=" + ",".join(runs), "compare")
        check(count(page, "#sf-compare tr.sf-diff") >= 3, "compare: differing rows highlighted")
        page.wait_for("document.querySelectorAll('#sf-scatter circle').length === 3", timeout=10)
        check(True, "compare: scatter plot of a param against a metric")
        site.finish(page)

        # Registry pages.
        page = site.open("/models", "models")
        check(count(page, "#sf-models-table tbody tr") == 2, "models: both listed")
        check("@champion" in text(page, "#sf-models-table"), "models: aliases shown")
        site.finish(page)
        page = site.open("/models?q=ui-")
        check(count(page, "#sf-models-table tbody tr") == 1, "models: search")
        site.finish(page)
        page = site.open("/models/ui-model", "model")
        check(count(page, "#sf-versions tbody tr") == 3, "model: three versions")
        check("Production" in text(page, "#sf-versions") and "@champion" in text(page, "#sf-versions"), "model: stage and alias")
        check("owner" in text(page, "#sf-model-tags"), "model: tags")
        site.finish(page)
        page = site.open("/models/ui-model/versions/2", "model-version")
        check(f"/runs/{runs[1]}" in page.evaluate("document.querySelector('#sf-version a[href^=\"/runs/\"]').getAttribute('href')"),
              "model version: links to its run")
        check(f"runs:/{runs[1]}/model" in text(page, "#sf-version"), "model version: source")
        site.finish(page)

        # Hostile data everywhere: shown as text, never run.
        hostile = [
            f"/experiments/{data['hostile_experiment_id']}", f"/runs/{data['hostile_run']}",
            "/models/" + q(data["hostile_model"]), "/models/" + q(data["hostile_model"]) + "/versions/1",
            f"/compare?runs={data['hostile_run']},{runs[0]}", f"/metric?key=m_xss&run={data['hostile_run']}",
        ]
        for path in hostile:
            page = site.open(path, "hostile-run" if path.startswith("/runs/") else None)
            check("window.__sf_xss=1" in page.evaluate("document.body.textContent"), f"xss {path}: payload visible as text")
            site.finish(page)

        # Errors render as pages.
        page = browser.new_page()
        page.goto(base + "/runs/does-not-exist", check_status=False)
        check(page.status == 404 and "RESOURCE_DOES_NOT_EXIST" in page.evaluate("document.body.textContent"),
              "unknown run: 404 page with MLflow's code")
        page.close()

    print(f"ui tests: {passed} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
