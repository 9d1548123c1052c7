"""What `swiftflow run` does beyond matching `mlflow run`: a virtualenv project, Ctrl-C, type errors, Docker.

    python scripts/projects_run.py --tracking-uri http://127.0.0.1:PORT --swiftflow PATH

Run it with the Python of a virtual environment that has mlflow (its client reads the runs back).
Each check reads the run it made from the tracking server:

- the Python fixture with its default environment manager, virtualenv, built from its
  python_env.yaml (pip installs mlflow-skinny from PyPI the first time): the run is FINISHED,
  tagged `mlflow.project.env=virtualenv`, with the params and the loss history the script logged;
- Ctrl-C (SIGINT to `swiftflow run`) while the command sleeps: exit 130 within seconds, the
  command's process group gone, the run KILLED;
- `-P epochs=abc` for an int parameter: exit 1 naming the parameter, and no run;
- a docker_env project where no Docker engine answers: exit 1 with a message saying so.
"""
import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = os.path.join(ROOT, "Tests", "Fixtures", "projects", "python")
VENV_BIN = os.path.dirname(os.path.abspath(sys.executable))
failures = []


def check(name, ok, detail=""):
    print(f"  {'PASS' if ok else 'FAIL'}  {name}" + (f"  ({detail})" if detail and not ok else ""), flush=True)
    if not ok:
        failures.append(name)


def runs_of(client, experiment):
    exp = client.get_experiment_by_name(experiment)
    return client.search_runs([exp.experiment_id]) if exp else []


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tracking-uri", required=True)
    parser.add_argument("--swiftflow", required=True)
    args = parser.parse_args()
    os.environ["MLFLOW_TRACKING_URI"] = args.tracking_uri
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    swiftflow = os.path.abspath(args.swiftflow)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    env = dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""))
    for name in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME"):
        env.pop(name, None)

    print("== virtualenv from python_env.yaml (the default for this project)")
    experiment = f"projects-venv-{stamp}"
    p = subprocess.run([swiftflow, "run", PY, "-P", "epochs=2", "-P", "alpha=1.0", "--experiment-name", experiment],
                       env=env, capture_output=True, text=True, timeout=900)
    runs = runs_of(client, experiment)
    ok = p.returncode == 0 and len(runs) == 1
    check("the project ran in its virtualenv", ok, p.stderr[-2000:])
    if ok:
        run = runs[0]
        check("... FINISHED", run.info.status == "FINISHED", run.info.status)
        check("... tagged mlflow.project.env=virtualenv", run.data.tags.get("mlflow.project.env") == "virtualenv",
              run.data.tags)
        check("... with its params", run.data.params.get("alpha") == "1.0" and run.data.params.get("epochs") == "2",
              run.data.params)
        history = sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, "loss"))
        check("... and the loss history the script logged", history == [(0, 1.0), (1, 0.5)], history)

    print("== Ctrl-C")
    experiment = f"projects-sigint-{stamp}"
    proc = subprocess.Popen([swiftflow, "run", PY, "-e", "sleep", "--env-manager", "local",
                             "--experiment-name", experiment],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    line = ""
    while time.time() < deadline and "sleeping" not in line:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
    pgids = subprocess.run(["ps", "-o", "pgid=", "--ppid", str(proc.pid)], capture_output=True, text=True).stdout.split()
    proc.send_signal(signal.SIGINT)
    try:
        rc = proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = None
    check("swiftflow run exits 130 on Ctrl-C", rc == 130, f"exit {rc}: {proc.stderr.read()[-1000:]}")
    alive = [g for g in pgids if subprocess.run(["pgrep", "-g", g], capture_output=True).returncode == 0]
    check("... and the command's process group is gone", pgids and not alive, f"groups {pgids}, alive {alive}")
    runs = runs_of(client, experiment)
    check("... and the run is KILLED", len(runs) == 1 and runs[0].info.status == "KILLED",
          [r.info.status for r in runs])

    print("== a parameter of the wrong type")
    experiment = f"projects-types-{stamp}"
    p = subprocess.run([swiftflow, "run", PY, "-P", "epochs=abc", "--env-manager", "local",
                        "--experiment-name", experiment], env=env, capture_output=True, text=True, timeout=120)
    check("exit 1 naming the parameter", p.returncode == 1 and "'epochs'" in p.stderr and "int" in p.stderr,
          f"{p.returncode}: {p.stderr[-500:]}")
    check("... and no run", runs_of(client, experiment) == [])

    print("== docker_env without a Docker engine")
    with tempfile.TemporaryDirectory() as project:
        with open(os.path.join(project, "MLproject"), "w") as f:
            f.write("name: boxed\ndocker_env:\n  image: python:3.11-slim\n"
                    "entry_points:\n  main:\n    command: python -c 'print(1)'\n")
        engine = subprocess.run(["docker", "info"], capture_output=True).returncode == 0 \
            if any(os.access(os.path.join(d, "docker"), os.X_OK) for d in env["PATH"].split(os.pathsep)) else False
        if engine:
            print("  (a Docker engine answers here; the check is for machines without one)")
        else:
            p = subprocess.run([swiftflow, "run", project, "--experiment-name", f"projects-docker-{stamp}"],
                               env=env, capture_output=True, text=True, timeout=120)
            check("exit 1 saying no Docker engine answers", p.returncode == 1 and "Docker engine" in p.stderr,
                  f"{p.returncode}: {p.stderr[-500:]}")

    if failures:
        print(f"swiftflow run: {len(failures)} check(s) failed")
        sys.exit(1)
    print("swiftflow run: all checks passed")


if __name__ == "__main__":
    main()
