#!/usr/bin/env python3
"""Artifact workload: the official MLflow server and swiftflow side by side, through mlflow-artifacts.

    artifacts.py [--quick] [--only official|swiftflow] [--out results.json]

Starts each server in turn (never both at once) on a loopback port over a fresh temp folder, then:

  large   1 file of 1 GiB: PUT, then GET to disk (streamed, as HttpArtifactRepository does)
  small   10,000 files of 10 KiB: PUT one after the other (log_artifacts does), then list the
          folder and GET them with min(2 x CPUs, 20) threads (download_artifacts does)

and prints time and throughput of each phase and the server's memory: the highest VmRSS sampled
every 50 ms during the phase and, at the end, VmHWM (peak) from /proc/PID/status, both summed over
the server process and its children. Downloads are checked (size and SHA-256, or every small file).

Needs `requests`: run it with the official server's venv (~/.cache/mlflow-official-venv, made by
../../shared/bench/compare.sh or `python3 -m venv ... && pip install mlflow==3.17.2`); when started
with another Python it re-runs itself with that venv's.
"""
import argparse
import concurrent.futures
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from proctree import process_tree  # bench/, the script's own folder

HERE = os.path.dirname(os.path.abspath(__file__))
MLFLOW_VENV = os.environ.get("MLFLOW_VENV", os.path.expanduser("~/.cache/mlflow-official-venv"))

try:
    import requests
except ImportError:
    venv_python = os.path.join(MLFLOW_VENV, "bin", "python")
    if os.path.exists(venv_python) and os.path.realpath(sys.executable) != os.path.realpath(venv_python):
        os.execv(venv_python, [venv_python, *sys.argv])
    sys.exit(f"artifacts.py needs `requests`; create {MLFLOW_VENV} (pip install mlflow==3.17.2) or set MLFLOW_VENV")

PROXY = "/api/2.0/mlflow-artifacts/artifacts"
MIB = 1 << 20


# ---------------------------------------------------------------- servers
def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_commands(args, data, port):
    official = [os.path.join(MLFLOW_VENV, "bin", "mlflow"), "server",
                "--backend-store-uri", f"sqlite:///{data}/mlflow.db", "--artifacts-destination", f"{data}/artifacts",
                "--serve-artifacts", "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.mlflow_workers)]
    swiftflow = [args.swiftflow, "server", "--host", "127.0.0.1", "--port", str(port),
                 "--backend-store-uri", f"sqlite:///{data}/mlflow.db", "--artifacts-destination", f"{data}/artifacts"]
    return {"official": official, "swiftflow": swiftflow}


class Server:
    def __init__(self, name, command, data):
        self.name = name
        self.log = open(os.path.join(data, "server.log"), "wb")
        env = dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
        # Its own session, so that the server and its workers stop together.
        self.process = subprocess.Popen(command, cwd=data, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    def wait_ready(self, url, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name} exited early; see {self.log.name}")
            try:
                if requests.get(url + "/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise SystemExit(f"{self.name} did not answer within {timeout} s")

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


# ---------------------------------------------------------------- memory
def memory_kib(pids, field):
    """`field` (VmRSS or VmHWM) of each process in `pids`, summed, in KiB."""
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith(field + ":"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


class RSSSampler:
    """The highest summed VmRSS of the server's processes while a phase runs."""

    def __init__(self, pid):
        self.pids = process_tree(pid)
        self.peak = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.done.is_set():
            self.peak = max(self.peak, memory_kib(self.pids, "VmRSS"))
            self.done.wait(0.05)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()


# ---------------------------------------------------------------- data
def make_large(path, size):
    block = random.Random(1).randbytes(MIB)
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        for i in range(size // MIB):
            chunk = i.to_bytes(8, "little") + block[8:]  # no two MiB alike
            f.write(chunk)
            digest.update(chunk)
    return digest.hexdigest()


def small_content(i, size):
    head = f"file {i:06d}\n".encode()
    return head + bytes((i + j) % 251 for j in range(size - len(head)))


def make_small(folder, count, size):
    os.makedirs(folder)
    for i in range(count):
        with open(os.path.join(folder, f"f{i:06d}.bin"), "wb") as f:
            f.write(small_content(i, size))


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(MIB):
            digest.update(chunk)
    return digest.hexdigest()


# ---------------------------------------------------------------- workloads
def put_file(session, url, path):
    with open(path, "rb") as f:
        r = session.put(url, data=f, timeout=3600)
    r.raise_for_status()


def get_file(session, url, path):
    with session.get(url, stream=True, timeout=3600) as r:
        r.raise_for_status()
        with open(path, "wb") as f:
            for chunk in r.iter_content(chunk_size=MIB):
                f.write(chunk)


def timed(pid, body):
    with RSSSampler(pid) as sampler:
        t0 = time.perf_counter()
        body()
        seconds = time.perf_counter() - t0
    return seconds, round(sampler.peak / 1024, 1)


def run_workloads(args, name, url, pid, work):
    result = {"server": name}
    session = requests.Session()
    result["rss_idle_mib"] = round(memory_kib(process_tree(pid), "VmRSS") / 1024, 1)

    # large: 1 file
    size = args.large_mib * MIB
    s, peak = timed(pid, lambda: put_file(session, f"{url}{PROXY}/bench/large.bin", args.large_file))
    result.update(large_upload_s=round(s, 2), large_upload_mib_s=round(size / MIB / s, 1), large_upload_rss_peak_mib=peak)
    downloaded = os.path.join(work, "large.out")
    s, peak = timed(pid, lambda: get_file(session, f"{url}{PROXY}/bench/large.bin", downloaded))
    result.update(large_download_s=round(s, 2), large_download_mib_s=round(size / MIB / s, 1),
                  large_download_rss_peak_mib=peak)
    if os.path.getsize(downloaded) != size or sha256_file(downloaded) != args.large_sha256:
        result.setdefault("warnings", []).append("large download differs from the upload")
    os.remove(downloaded)

    # small: many files, uploaded one after the other
    names = sorted(os.listdir(args.small_folder))

    def upload_small():
        for n in names:
            put_file(session, f"{url}{PROXY}/bench/small/{n}", os.path.join(args.small_folder, n))

    s, peak = timed(pid, upload_small)
    result.update(small_upload_s=round(s, 2), small_upload_files_s=round(len(names) / s, 1),
                  small_upload_rss_peak_mib=peak)

    out = os.path.join(work, "small.out")
    os.makedirs(out)
    local = threading.local()

    def fetch(n):
        if not hasattr(local, "session"):
            local.session = requests.Session()
        get_file(local.session, f"{url}{PROXY}/bench/small/{n}", os.path.join(out, n))

    def download_small():
        listing = session.get(f"{url}{PROXY}", params={"path": "bench/small"}, timeout=600)
        listing.raise_for_status()
        listed = [f["path"] for f in listing.json().get("files", [])]
        if len(listed) != len(names):
            result.setdefault("warnings", []).append(f"listing has {len(listed)} files, not {len(names)}")
        with concurrent.futures.ThreadPoolExecutor(args.download_workers) as pool:
            list(pool.map(fetch, listed))

    s, peak = timed(pid, download_small)
    result.update(small_download_s=round(s, 2), small_download_files_s=round(len(names) / s, 1),
                  small_download_rss_peak_mib=peak)
    for i, n in enumerate(names):
        with open(os.path.join(out, n), "rb") as f:
            if f.read() != small_content(i, args.small_kib * 1024):
                result.setdefault("warnings", []).append(f"small file {n} differs")
                break
    shutil.rmtree(out)

    result["rss_hwm_mib"] = round(memory_kib(process_tree(pid), "VmHWM") / 1024, 1)
    return result


# ---------------------------------------------------------------- report
ROWS = [
    ("large_upload_mib_s", "1 file upload, MiB/s", True),
    ("large_download_mib_s", "1 file download, MiB/s", True),
    ("small_upload_files_s", "small files upload, files/s", True),
    ("small_download_files_s", "small files download, files/s", True),
    ("large_upload_rss_peak_mib", "RSS peak during large upload, MiB", False),
    ("large_download_rss_peak_mib", "RSS peak during large download, MiB", False),
    ("small_upload_rss_peak_mib", "RSS peak during small uploads, MiB", False),
    ("small_download_rss_peak_mib", "RSS peak during small downloads, MiB", False),
    ("rss_idle_mib", "RSS idle, MiB", False),
    ("rss_hwm_mib", "VmHWM at the end (sum of processes), MiB", False),
]


def report(results):
    names = [r["server"] for r in results]
    print()
    print(f"{'':44}" + "".join(f"{n:>12}" for n in names) + ("   swiftflow/official" if len(names) == 2 else ""))
    for key, label, higher_is_better in ROWS:
        values = [r.get(key) for r in results]
        line = f"{label:44}" + "".join(f"{v:>12}" for v in values)
        if len(values) == 2 and values[0]:
            line += f"   {values[1] / values[0]:.2f}x" + (" (higher is better)" if higher_is_better else " (lower is better)")
        print(line)
    for r in results:
        for w in r.get("warnings", []):
            print(f"WARNING {r['server']}: {w}")


def each_server(args, names, root, workload):
    """Starts each named server in turn over a fresh folder under `root`, runs
    `workload(name, url, pid, data)` against it, stops it; returns what each workload returned."""
    returned = []
    for name in names:
        data = os.path.join(root, name)
        os.makedirs(data)
        port = free_port()
        command = server_commands(args, data, port)[name]
        print(f"== {name}: {' '.join(command)}")
        server = Server(name, command, data)
        try:
            url = f"http://127.0.0.1:{port}"
            server.wait_ready(url, args.start_timeout)
            time.sleep(2)  # let workers settle before the idle reading
            returned.append(workload(name, url, server.process.pid, data))
        finally:
            server.stop()
        shutil.rmtree(data)
    return returned


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="64 MiB and 500 small files, to check that it works")
    ap.add_argument("--large-mib", type=int, default=1024)
    ap.add_argument("--small-count", type=int, default=10000)
    ap.add_argument("--small-kib", type=int, default=10)
    ap.add_argument("--download-workers", type=int, default=min(2 * (os.cpu_count() or 10), 20),
                    help="threads for small downloads (default: the mlflow client's min(2 x CPUs, 20))")
    ap.add_argument("--only", choices=["official", "swiftflow"], help="measure one server")
    ap.add_argument("--swiftflow", default=os.path.join(HERE, "..", ".build", "release", "swiftflow"))
    ap.add_argument("--mlflow-workers", type=int, default=2, help="uvicorn workers of the official server (as compare.sh)")
    ap.add_argument("--start-timeout", type=int, default=180)
    ap.add_argument("--out", help="write the results as JSON")
    args = ap.parse_args()
    if args.quick:
        args.large_mib, args.small_count = 64, 500
    args.swiftflow = os.path.abspath(args.swiftflow)
    names = [args.only] if args.only else ["official", "swiftflow"]
    if "swiftflow" in names and not os.access(args.swiftflow, os.X_OK):
        sys.exit(f"no swiftflow binary at {args.swiftflow}: swift build -c release")
    if "official" in names and not os.access(os.path.join(MLFLOW_VENV, "bin", "mlflow"), os.X_OK):
        sys.exit(f"no official mlflow in {MLFLOW_VENV}: see ../../shared/bench/compare.sh")

    root = tempfile.mkdtemp(prefix="artifact-bench.")
    results = []
    try:
        print(f"data: {args.large_mib} MiB file, {args.small_count} x {args.small_kib} KiB files in {root}")
        args.large_file = os.path.join(root, "large.bin")
        args.large_sha256 = make_large(args.large_file, args.large_mib * MIB)
        args.small_folder = os.path.join(root, "small")
        make_small(args.small_folder, args.small_count, args.small_kib * 1024)
        results = each_server(args, names, root, lambda name, url, pid, data: run_workloads(args, name, url, pid, data))
        for result in results:
            print(json.dumps(result))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    report(results)
    if args.out:
        meta = {"large_mib": args.large_mib, "small_count": args.small_count, "small_kib": args.small_kib,
                "download_workers": args.download_workers, "mlflow_workers": args.mlflow_workers,
                "cpus": os.cpu_count(), "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
        with open(args.out, "w") as f:
            json.dump({"meta": meta, "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
