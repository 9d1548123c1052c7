"""Checks that `swiftflow run` runs MLflow Projects like the official `mlflow run`.

    python scripts/projects_compare.py --tracking-uri http://127.0.0.1:PORT --swiftflow PATH
        [--case NAME ...] [--virtualenv] [--keep] [--show]

Run it with the Python of a virtual environment that has mlflow installed: its `mlflow` is the
reference and its `python` runs the projects' entry points (both sides get the venv first on
PATH and use `--env-manager local`). `--tracking-uri` is a running tracking server; both sides log
to it. `--swiftflow mlflow` runs the official runner on both sides, which checks the script itself.

Each case runs `mlflow run URI ARGS --experiment-name compare-<stamp>-<case>-official` and then
`<swiftflow> run URI ARGS --experiment-name compare-<stamp>-<case>-ours`: one experiment per side,
so each run is found as the only run of its experiment without parsing output, and both runners
create their experiment by name. Both run from the same working directory with the same
environment apart from TMPDIR. The runs are then read with MlflowClient and compared: exit code,
whether the experiment exists, number of runs, status, run name, user, params, tags, full metric
histories, stdout, the `=== ... ===` messages on stderr, and case-specific state (a file the shell
project writes, the git repository after a `--version` run). Exits 1 if any case differs or an
expectation fails on either side (so a broken fixture under Tests/Fixtures/projects shows too).

`--virtualenv` adds a case where MLflow picks its default manager for python_env.yaml, virtualenv,
which needs pyenv with the fixture's Python and PyPI. `--show` prints the official observations.
"""
import argparse
import atexit
import concurrent.futures
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings

VENV_BIN = os.path.dirname(os.path.abspath(sys.executable))
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE_FIXTURES = os.path.join(ROOT, "Tests", "Fixtures", "projects")
# The fixtures run from a copy outside any git repository: inside this one, the source tags would
# follow its HEAD, which a commit made during a comparison changes between the two sides.
SCRATCH = os.path.join(os.path.realpath(tempfile.gettempdir()), f"projects-compare-{os.getpid()}")
FIXTURES = os.path.join(SCRATCH, "fixtures")
RUN_TIMEOUT = 120
SIDES = ("official", "ours")
CHILDREN = []
# Set when the "ours" side is the official runner too (the script checking itself).
OURS_IS_MLFLOW = [False]


def kill_children(*_):
    # Each runner leads its own process group, so its entry point dies with it.
    for proc in CHILDREN:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def on_signal(signum, _frame):
    kill_children()
    sys.exit(128 + signum)


def run_cmd(cmd, env, cwd):
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    CHILDREN.append(proc)
    try:
        out, err = proc.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        kill_children()
        out, err = proc.communicate()
        err += f"\n[projects_compare: killed after {RUN_TIMEOUT}s]"
    return proc.returncode, out, err


# Fixed author, committer and dates give the same commit ids on every build of the repository.
GIT_ENV = dict(GIT_AUTHOR_NAME="fixture", GIT_AUTHOR_EMAIL="fixture@example.com",
               GIT_COMMITTER_NAME="fixture", GIT_COMMITTER_EMAIL="fixture@example.com",
               GIT_AUTHOR_DATE="2024-01-01T00:00:00Z", GIT_COMMITTER_DATE="2024-01-01T00:00:00Z")


def git(repo, *args):
    return subprocess.run(["git", "-C", repo, *args], check=True, capture_output=True, text=True,
                          env=dict(os.environ, **GIT_ENV)).stdout.strip()


# ---------------------------------------------------------------------------------------------
# Case-specific setup and state


def make_git_repo(repo):
    """Python fixture in `proj/` of a fresh repository: v1 tag, then main and feature diverge.

    Rebuilt before each side at the same path: `mlflow run --version` checks out in place."""
    shutil.rmtree(repo, ignore_errors=True)
    shutil.copytree(os.path.join(FIXTURES, "python"), os.path.join(repo, "proj"))
    mlproject = os.path.join(repo, "proj", "MLproject")

    def edit(old, new):
        with open(mlproject) as f:
            text = f.read()
        with open(mlproject, "w") as f:
            f.write(text.replace(old, new, 1))

    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "init")
    git(repo, "tag", "v1")
    git(repo, "checkout", "-q", "-b", "feature")
    edit("alpha: {type: float, default: 0.5}", "alpha: {type: float, default: 0.25}")
    git(repo, "commit", "-qam", "feature: alpha 0.25")
    git(repo, "checkout", "-q", "main")
    edit("epochs: {type: int, default: 3}", "epochs: {type: int, default: 2}")
    git(repo, "commit", "-qam", "main: epochs 2")


def git_case(ref):
    def setup(ctx):
        repo = os.path.join(SCRATCH, "gitrepo")
        make_git_repo(repo)
        ctx["repo"] = repo
        ctx["expect_commit"] = git(repo, "rev-parse", f"{ref or 'HEAD'}^{{commit}}")
        # Without a version: a plain path to the project folder inside the repository.
        return [f"file://{repo}#proj", "--version", ref] if ref else [os.path.join(repo, "proj")]

    def state(ctx):
        # mlflow checks the version out in the given repository itself and adds an `origin`
        # remote pointing at it; the repository afterwards is part of the behaviour.
        repo = ctx["repo"]
        return {
            "HEAD": git(repo, "rev-parse", "HEAD"),
            "branch": subprocess.run(["git", "-C", repo, "symbolic-ref", "-q", "--short", "HEAD"],
                                     capture_output=True, text=True).stdout.strip(),
            "remotes": git(repo, "remote", "-v"),
            "status": git(repo, "status", "--porcelain"),
        }

    def check(ctx, obs):
        problems = []
        got = obs["tags"].get("mlflow.source.git.commit")
        if got != ctx["expect_commit"]:
            problems.append(f"mlflow.source.git.commit {got} != {ref or 'HEAD'} {ctx['expect_commit']}")
        if ref and ctx["side"] == "ours" and not OURS_IS_MLFLOW[0]:
            # Ours clones the repository into a work folder and leaves the user's checkout alone.
            uri = f"file://{ctx['repo']}#proj"
            tags = obs["tags"]
            if tags.get("mlflow.source.name") != uri:
                problems.append(f"mlflow.source.name {tags.get('mlflow.source.name')!r} != {uri!r}")
            if tags.get("mlflow.source.git.repoURL") != f"file://{ctx['repo']}":
                problems.append(f"mlflow.source.git.repoURL {tags.get('mlflow.source.git.repoURL')!r}")
            if (tags.get("mlflow.source.git.branch") == ref) != (ref == "feature"):
                problems.append(f"mlflow.source.git.branch {tags.get('mlflow.source.git.branch')!r}")
            if obs["state"]["branch"] != "main" or obs["state"]["remotes"] or obs["state"]["status"]:
                problems.append(f"the repository was changed: {obs['state']}")
        return problems

    return setup, state, check


def run_id_setup(ctx):
    # A run made beforehand in the side's experiment, continued with --run-id.
    exp_id = ctx["client"].create_experiment(ctx["experiment"])
    run = ctx["client"].create_run(exp_id, tags={"precreated": "yes"}, run_name="continued")
    ctx["given_run"] = run.info.run_id
    return [os.path.join(FIXTURES, "python"), "--run-id", run.info.run_id]


def run_id_check(ctx, obs):
    return [] if obs["run_id"] == ctx["given_run"] else [f"run {obs['run_id']} is not the given one"]


def virtualenv_setup(ctx):
    # The official side builds MLflow's cached environment first if it is missing, so neither
    # side's output holds the one-off pip install.
    if ctx["side"] == "official":
        run_cmd([*ctx["base_cmd"], "run", PY, "-P", "epochs=0", "--env-manager", "virtualenv",
                 "--experiment-name", ctx["experiment"] + "-warm"], ctx["env"], ctx["cwd"])
    return [PY]


def shell_state(ctx):
    path = os.path.join(ctx["tmpdir"], "swiftflow-shell-fixture", "greeting.txt")
    return {"greeting.txt": open(path).read() if os.path.exists(path) else None}


def shell_check(ctx, obs):
    got = obs["state"]["greeting.txt"]
    return [] if got == "hi there\n" else [f"greeting.txt holds {got!r}"]


# ---------------------------------------------------------------------------------------------
# Cases: name, project URI and arguments (or a setup returning them), expected exit and status.
# The two sides of a case run at once unless it is `sequential`: the git cases rebuild one
# repository at one path, the virtualenv case builds the environment on the official side first.

PY, SHELL, NOPROJECT = (os.path.join(FIXTURES, name) for name in ("python", "shell", "noproject"))
LOCAL = ["--env-manager", "local"]
GIT_SUBDIR, GIT_FEATURE, GIT_V1 = git_case(None), git_case("feature"), git_case("v1")

CASES = [
    # No --run-name: the server names the run at random on each side.
    dict(name="python-defaults", args=[PY, *LOCAL], random_name=True),
    dict(name="python-params", args=[PY, "-P", "alpha=0.1", "-P", "epochs=2", "-P", "extra=7",
                                     *LOCAL, "--run-name", "params"]),
    # Quoting and str() of YAML values; a relative `path` value resolves against the cwd.
    dict(name="python-types", args=[PY, "-e", "types", "-P", "data=input.txt", "-P", "glob=a'b",
                                    *LOCAL, "--run-name", "types"]),
    dict(name="shell", args=[SHELL, "-P", "greeting=hi there", *LOCAL, "--run-name", "shell"],
         state=shell_state, check=shell_check),
    dict(name="noproject-py", args=[NOPROJECT, "-e", "hello.py", *LOCAL, "--run-name", "py"]),
    dict(name="noproject-sh", args=[NOPROJECT, "-e", "hello.sh", *LOCAL, "--run-name", "sh"]),
    dict(name="git-subdir", sequential=True, setup=GIT_SUBDIR[0], args=[*LOCAL, "--run-name", "subdir"],
         state=GIT_SUBDIR[1], check=GIT_SUBDIR[2]),
    # mlflow checks a local repository's --version out in place (adding an `origin` remote to it)
    # and names the source `<cwd>/file:/...`; ours clones into a work folder as the issue asks and
    # records the URI. Those tags and the repository state are checked for ours in `check` instead.
    dict(name="git-feature", sequential=True, setup=GIT_FEATURE[0], args=[*LOCAL, "--run-name", "feature"],
         state=GIT_FEATURE[1], check=GIT_FEATURE[2], ours_differs=("state",),
         ours_differs_tags=("mlflow.source.name", "mlflow.source.git.repoURL")),
    dict(name="git-v1", sequential=True, setup=GIT_V1[0], args=[*LOCAL, "--run-name", "v1"],
         state=GIT_V1[1], check=GIT_V1[2], ours_differs=("state",),
         ours_differs_tags=("mlflow.source.name", "mlflow.source.git.repoURL")),
    dict(name="run-id", setup=run_id_setup, args=["-P", "epochs=1", *LOCAL], check=run_id_check),
    # mlflow exits 1 whatever the command's status; ours passes the command's status on (3).
    dict(name="fail", args=[PY, "-e", "fail", *LOCAL, "--run-name", "fail"], rc=1, ours_rc=3,
         status="FAILED", ours_differs=("rc",)),
    # python_env.yaml makes virtualenv the default manager; with --virtualenv only (pyenv, PyPI).
    dict(name="python-virtualenv", sequential=True, setup=virtualenv_setup, args=["-P", "epochs=1", "--run-name",
                                                                  "venv"], opt_in=True),
    # Errors before any run: the wording may differ, the parameter or entry point must be named.
    dict(name="missing-param", args=[PY, "-e", "required", *LOCAL], rc=1, status=None,
         names=["needed"]),
    dict(name="bad-entry-point", args=[PY, "-e", "nope", *LOCAL], rc=1, status=None,
         names=["nope"]),
]


# ---------------------------------------------------------------------------------------------
# Running and observing one side


def normalise(text, obs, random_name):
    # Run and experiment ids are per side; the temp directory is random per process; a run name
    # the server picked at random differs by design.
    if obs.get("run_id"):
        text = text.replace(obs["run_id"], "<run>")
    if obs.get("experiment_id"):
        text = text.replace(f"experiments/{obs['experiment_id']}", "experiments/<exp>")
        text = text.replace(f"MLFLOW_EXPERIMENT_ID={obs['experiment_id']}\n",
                            "MLFLOW_EXPERIMENT_ID=<exp>\n")
    if random_name and obs.get("run_name"):
        text = text.replace(obs["run_name"], "<name>")
    return re.sub(r"Created directory \S+ for", "Created directory <dir> for", text)


def run_side(case, side, base_cmd, ctx):
    from mlflow.tracking import MlflowClient

    client = ctx["client"]
    args = list(case["args"])
    if case.get("setup"):
        args = case["setup"](ctx) + args
    cmd = [*base_cmd, "run", *args, "--experiment-name", ctx["experiment"]]
    started = time.time()
    rc, out, err = run_cmd(cmd, ctx["env"], ctx["cwd"])
    obs = {"rc": rc, "seconds": time.time() - started}

    exp = client.get_experiment_by_name(ctx["experiment"])
    obs["experiment_exists"] = exp is not None
    runs = client.search_runs([exp.experiment_id]) if exp else []
    obs["runs"] = len(runs)
    obs["status"] = None
    if runs:
        run = runs[0]
        info, data = run.info, run.data
        obs.update(run_id=info.run_id, experiment_id=info.experiment_id, status=info.status,
                   run_name=info.run_name, user_id=info.user_id, ended=info.end_time is not None,
                   params=dict(data.params), tags=dict(data.tags))
        if case.get("random_name"):
            # The name is random on each side; it must still be the runName tag.
            tag = obs["tags"].pop("mlflow.runName", None)
            obs["run_name_is_tag"] = tag == info.run_name and bool(tag)
            obs["run_name"] = info.run_name
        # Server order of a history is not specified; the fixtures log one value per step.
        obs["metrics"] = {key: sorted((m.step, m.value)
                                      for m in MlflowClient().get_metric_history(info.run_id, key))
                          for key in data.metrics}
    obs["stdout"] = normalise(out, obs, case.get("random_name"))
    # The command line and the outcome; other log lines (a download folder mlflow creates and never
    # uses, how a repository was fetched) describe each runner's own steps.
    obs["messages"] = [normalise(m.group(1), obs, case.get("random_name"))
                       for m in (re.search(r"=== (.*) ===", line) for line in err.splitlines())
                       if m and m.group(1).startswith(("Running command", "Run (ID"))]
    obs["stderr"] = err
    if case.get("state"):
        obs["state"] = case["state"](ctx)
    return obs


COMPARED = ["rc", "experiment_exists", "runs", "status", "run_name", "run_name_is_tag", "user_id",
            "ended", "params", "tags", "metrics", "stdout", "messages", "state"]


def compare(case, sides, ctxs):
    official, ours = sides["official"], sides["ours"]
    problems = []
    keys = [k for k in COMPARED if not (case.get("names") and k == "messages")]
    if not OURS_IS_MLFLOW[0]:
        keys = [k for k in keys if k not in case.get("ours_differs", ())]
    if case.get("random_name"):
        keys.remove("run_name")
    for key in keys:
        a, b = official.get(key), ours.get(key)
        if key == "tags" and isinstance(a, dict) and isinstance(b, dict) and not OURS_IS_MLFLOW[0]:
            skip = set(case.get("ours_differs_tags", ()))
            a = {k: v for k, v in a.items() if k not in skip}
            b = {k: v for k, v in b.items() if k not in skip}
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            for k in sorted(set(a) | set(b)):
                if a.get(k) != b.get(k):
                    problems.append(f"{key}[{k}]: official {a.get(k)!r} / ours {b.get(k)!r}")
        elif isinstance(a, str) and isinstance(b, str) and "\n" in a + b:
            problems.append(f"{key} differs:\n" + indent_diff(a, b))
        else:
            problems.append(f"{key}: official {a!r} / ours {b!r}")
    # Expectations hold on both sides, so a changed fixture shows even in the dry mode.
    for side in SIDES:
        obs = sides[side]
        want_rc = case.get("ours_rc", case.get("rc", 0)) if side == "ours" and not OURS_IS_MLFLOW[0] \
            else case.get("rc", 0)
        if obs["rc"] != want_rc:
            problems.append(f"{side}: exit code {obs['rc']}, expected {want_rc}")
        if obs["status"] != case.get("status", "FINISHED"):
            want = case.get("status", "FINISHED")
            problems.append(f"{side}: status {obs['status']}, expected {want}")
        for name in case.get("names", []):
            if name not in obs["stderr"]:
                problems.append(f"{side}: stderr does not name {name!r}")
        if case.get("check") and obs["status"]:
            problems += [f"{side}: {p}" for p in case["check"](ctxs[side], obs)]
    return problems


def indent_diff(a, b):
    import difflib

    lines = difflib.unified_diff(a.splitlines(), b.splitlines(), "official", "ours", lineterm="", n=1)
    return "\n".join("      " + line for line in lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tracking-uri", required=True)
    parser.add_argument("--swiftflow", required=True,
                        help="path of the swiftflow binary, or `mlflow` for the official runner")
    parser.add_argument("--case", action="append", help="run only this case (repeatable)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument("--virtualenv", action="store_true",
                        help="add a case with MLflow's virtualenv manager (needs pyenv)")
    parser.add_argument("--show", action="store_true", help="print what the official side gave")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    atexit.register(kill_children)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    os.environ["MLFLOW_TRACKING_URI"] = args.tracking_uri
    from mlflow.tracking import MlflowClient

    reference = [os.path.join(VENV_BIN, "mlflow")]
    ours = reference if args.swiftflow == "mlflow" else [os.path.abspath(args.swiftflow)]
    OURS_IS_MLFLOW[0] = args.swiftflow == "mlflow"
    cases = [c for c in CASES if (not args.case or c["name"] in args.case)
             and (args.virtualenv or not c.get("opt_in"))]
    if args.case and len(cases) != len(args.case):
        sys.exit(f"unknown case in {args.case}; cases: {[c['name'] for c in CASES]}")

    scratch = SCRATCH
    os.makedirs(scratch)
    shutil.copytree(SOURCE_FIXTURES, FIXTURES, ignore=shutil.ignore_patterns("__pycache__"))
    # One working directory for both sides: a relative `path` parameter and the source name of
    # a `file://` URI depend on it.
    cwd = os.path.join(scratch, "cwd")
    os.makedirs(cwd)
    with open(os.path.join(cwd, "input.txt"), "w") as f:
        f.write("input\n")
    base_env = dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""))
    # Left over from a calling run, these would redirect the runs.
    for name in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME"):
        base_env.pop(name, None)

    stamp = time.strftime("%Y%m%d-%H%M%S")
    started = time.time()
    failed = []
    print(f"{'case':<17} {'official':<17} {'ours':<17} result")
    try:
        for case in cases:
            ctxs = {}
            for side, cmd in zip(SIDES, (reference, ours)):
                tmpdir = os.path.join(scratch, f"{case['name']}-{side}-tmp")
                os.makedirs(tmpdir)
                ctxs[side] = {
                    "side": side, "base_cmd": cmd, "client": MlflowClient(), "cwd": cwd,
                    "tmpdir": tmpdir, "experiment": f"compare-{stamp}-{case['name']}-{side}",
                    "env": dict(base_env, TMPDIR=tmpdir),
                }
            if case.get("sequential"):
                sides = {side: run_side(case, side, ctxs[side]["base_cmd"], ctxs[side])
                         for side in SIDES}
            else:
                with concurrent.futures.ThreadPoolExecutor(len(SIDES)) as pool:
                    futures = {side: pool.submit(run_side, case, side, ctxs[side]["base_cmd"],
                                                 ctxs[side]) for side in SIDES}
                    sides = {side: future.result() for side, future in futures.items()}
            problems = compare(case, sides, ctxs)
            cols = [f"rc={sides[s]['rc']} {sides[s]['status'] or 'no run'} {sides[s]['seconds']:.0f}s"
                    for s in SIDES]
            print(f"{case['name']:<17} {cols[0]:<17} {cols[1]:<17} {'FAIL' if problems else 'PASS'}",
                  flush=True)
            if args.show:
                for key in COMPARED:
                    if key in sides["official"]:
                        print(f"    {key}: {sides['official'][key]!r}")
            for problem in problems:
                print(f"    {problem}")
            if problems:
                failed.append(case["name"])
                for side in SIDES:
                    print(f"    {side} stderr:\n" + "\n".join(
                        "      " + line for line in sides[side]["stderr"].splitlines()[-15:]))
    finally:
        kill_children()
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    print(f"\nmlflow run: {len(cases) - len(failed)}/{len(cases)} cases alike in "
          f"{time.time() - started:.0f}s" + (f"; failed: {', '.join(failed)}" if failed else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
