"""``cocktail dashboard DIR``: the viewers a sweep has, started side by side on one host: optuna-dashboard on its
Optuna study, TensorBoard on Tune's event files, the MLflow UI on its MLflow store (a remote tracking server is
only named), and the Ray dashboard's address. Each viewer's output goes to its log file, not the terminal; they
run until Ctrl-C (or SIGTERM), then every process they started is stopped."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ftlib.core import storage
from ftlib.core.errors import ConfigError
from sweeps.layout import OPTUNA_DB, mlflow_url, optuna_url, tune_path
from sweeps.saved import checked_state

RAY_DASHBOARD = "http://127.0.0.1:8265"
START_TIMEOUT_S = 90
# MLflow's UI would start a GenAI job runner (seven worker processes, ~240 MB each) that a sweep never uses.
VIEWER_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


@dataclass
class Viewer:
    name: str
    url: str
    argv: list[str] | None = None  # None: not ours to start (a remote MLflow server)


def viewers(exp: str, host: str, ports: list[int]) -> list[Viewer]:
    """What there is to see of the sweep at ``exp``, each on one of ``ports``."""
    sweep = checked_state(exp)
    found, port = [], iter(ports)
    if storage.read_bytes(storage.join(exp, OPTUNA_DB)) is not None or sweep.resources.optuna_storage:
        p = next(port)
        found.append(Viewer("Optuna", f"http://{host}:{p}/dashboard",
                            [_tool("optuna-dashboard"), optuna_url(sweep, exp), "--host", host, "--port", str(p)]))
    p = next(port)
    found.append(Viewer("TensorBoard", f"http://{host}:{p}/",
                        [_tool("tensorboard"), "--logdir", tune_path(exp), "--host", host, "--port", str(p)]))
    mlflow = mlflow_url(sweep, exp)
    if mlflow and mlflow.startswith("sqlite:"):
        p = next(port)
        found.append(Viewer("MLflow", f"http://{host}:{p}/",
                            [_tool("mlflow"), "ui", "--backend-store-uri", mlflow, "--host", host, "--port", str(p),
                             "--workers", "1"]))
    elif mlflow:
        found.append(Viewer("MLflow", mlflow))
    return found


def free_ports(count: int, host: str) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind((host, 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def serve(exp: str, host: str = "127.0.0.1", port: int | None = None) -> int:
    """Starts the viewers, prints their URLs once each answers, and waits for Ctrl-C; stops them all."""
    exp = storage.absolute(exp)
    if storage.is_uri(exp):
        raise ConfigError(f"{exp}: the viewers read local files; run the dashboard where the sweep's files are")
    ports = list(range(port, port + 3)) if port else free_ports(3, host)
    shown = viewers(exp, host, ports)
    logs = Path(tempfile.mkdtemp(prefix="cocktail-dashboard-"))
    started: list[tuple[Viewer, subprocess.Popen]] = []
    _interrupt_on(signal.SIGINT, signal.SIGTERM)
    try:
        for v in shown:
            if v.argv:
                with open(logs / f"{v.name.lower()}.log", "wb") as log:
                    started.append((v, subprocess.Popen(v.argv, stdout=log, stderr=subprocess.STDOUT,
                                                        env={**os.environ, **VIEWER_ENV}, start_new_session=True)))
        for v, proc in started:
            _wait_until_up(v, proc, logs)
        for v in shown:
            print(f"[dashboard] {v.name}: {v.url}" + ("" if v.argv else " (the sweep's tracking server)"), flush=True)
        print(f"[dashboard] Ray: {RAY_DASHBOARD} " + ("(up)" if _answers(RAY_DASHBOARD) else
                                                      "(not up: it runs while a sweep's Ray does)"), flush=True)
        print(f"[dashboard] logs in {logs}; Ctrl-C stops them all", flush=True)
        while all(proc.poll() is None for _, proc in started):
            time.sleep(0.5)
        ended = [v.name for v, proc in started if proc.poll() is not None]
        raise ConfigError(f"{', '.join(ended)} stopped on its own; see its log in {logs}")
    except KeyboardInterrupt:
        pass
    finally:
        _stop_all([proc for _, proc in started])
    print("[dashboard] stopped", flush=True)
    return 0


def _tool(name: str) -> str:
    """The viewer installed beside this Python (cocktail's environment), else the one on PATH."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    if found is None:
        raise ConfigError(f"{name} is not installed (it comes with cocktail: pip install -c constraints.txt -e .)")
    return found


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # it answered (a login page, a redirect)
    except OSError:
        return False


def _wait_until_up(viewer: Viewer, proc: subprocess.Popen, logs: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not _answers(viewer.url):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise ConfigError(f"{viewer.name} did not start (see {logs / (viewer.name.lower() + '.log')})")
        time.sleep(0.3)


def _interrupt_on(*signals: int) -> None:
    """Ctrl-C, and SIGTERM alike, stop the viewers (also where a shell started this with SIGINT ignored)."""
    def interrupt(*_) -> None:
        raise KeyboardInterrupt

    for sig in signals:
        signal.signal(sig, interrupt)


def _stop_all(procs: list[subprocess.Popen]) -> None:
    """Each viewer's whole process group (MLflow's UI runs server workers): SIGTERM, then SIGKILL after 10 s."""
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # workers left in the group, if any
        except ProcessLookupError:
            pass
        proc.wait()
