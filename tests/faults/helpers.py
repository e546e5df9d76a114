"""What the fault tests share: a small ASHA sweep on the embedded model, the CLI as a user runs it (its own
process group, so a signal reaches it and the local Ray it starts), a second Ray on the host, counts."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pyarrow.parquet as pq
import yaml

RAY = str(Path(sys.executable).parent / "ray")
CLI = [sys.executable, "-m", "sweeps.cli.main"]
POOL = ["fpb", "twitter_sentiment", "headline", "orca_math"]


def sweep_yaml(tmp_path: Path, name: str, data_dir, *, samples: int = 4, asha: bool = True,
               tracking: dict | None = None, **base) -> Path:
    """A sweep of ``samples`` Optuna trials, two at a time, each a few seconds of training (``tracking``: its
    tracking block)."""
    config = {
        "name": name, "pool": POOL,
        "base": {"model": {"name": "tiny-phi3"}, "mixture": {"budget": 400},
                 "data": {"dir": str(data_dir), "seq_len": 256, "val_examples": 8}, "micro_batch_size": 4,
                 "num_workers": 1, "max_steps": 12, "eval_every": 3, **base},
        "search": {"optuna": {"num_samples": samples, "seed": 0, "weights": POOL,
                              "params": {"optim.lr": {"type": "float", "low": 5e-4, "high": 5e-3, "log": True}}}},
        "objective": {"metrics": ["mean_financial"], "modes": ["max"], "limit": 8, "eval_mode": "score"},
        "scheduler": {"kind": "asha", "grace_period": 1, "reduction_factor": 2} if asha else {"kind": "none"},
        "resources": {"max_concurrent_trials": 2, "storage_path": str(tmp_path / "sweeps")},
        **({"tracking": tracking} if tracking else {}),
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def cli_env(models_dir, **extra: str) -> dict[str, str]:
    """The user's environment: no Ray address (each command starts its own local Ray), the embedded model
    already built."""
    return {**os.environ, "RAY_ADDRESS": "", "COCKTAIL_MODELS_DIR": str(models_dir), **extra}


def run_cli(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=timeout,
                          start_new_session=True)


def start_cli(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([*CLI, *args], env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_for(ready, what: str, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if ready():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the command ended (rc {proc.returncode}) before {what}")
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


def tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` and a digest of its bytes: what "nothing changed" compares."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def finished_trials(exp: Path) -> list[Path]:
    return sorted(exp.glob("trials/*/trial.json"))


def trials_table(exp: Path) -> list[dict]:
    return pq.read_table(exp / "trials.parquet").to_pylist()


def process_group_alive(pgid: int) -> list[int]:
    """Processes still in a process group (a command and everything it started, Ray's local instance too)."""
    import psutil

    alive = []
    for proc in psutil.process_iter(["pid"]):
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if os.getpgid(proc.info["pid"]) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(proc.info["pid"])
    return alive


@contextlib.contextmanager
def ray_head(port: int, *, dashboard: bool, cpus: int = 2):
    """A `ray start --head` cluster on this machine, in its own process group and temp dir, ended by a signal
    to its group (`ray stop` would end every Ray on the machine). Yields its address."""
    temp_dir = tempfile.mkdtemp(prefix="rayhead", dir="/tmp")
    cmd = [RAY, "start", "--head", "--block", f"--port={port}", f"--num-cpus={cpus}", "--disable-usage-stats",
           f"--temp-dir={temp_dir}", f"--include-dashboard={'true' if dashboard else 'false'}"]
    node = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    address = f"127.0.0.1:{port}"
    try:
        wait_for(lambda: subprocess.run([RAY, "status", f"--address={address}"], capture_output=True).returncode == 0,
                 "the Ray head", 90, node)
        yield address
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(node.pid, signal.SIGTERM)
            time.sleep(2)
            os.killpg(node.pid, signal.SIGKILL)
        node.wait(timeout=30)


@contextlib.contextmanager
def mlflow_server(root: Path):
    """A real MLflow tracking server on localhost (SQLite store, artifacts served from ``root``); its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([str(Path(sys.executable).parent / "mlflow"), "server", "--backend-store-uri",
                               f"sqlite:///{root / 'server.db'}", "--artifacts-destination", str(root / "artifacts"),
                               "--host", "127.0.0.1", "--port", str(port), "--workers", "1"], cwd=root,
                              env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
                              stdout=open(root / "server.log", "w"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: _answers(f"{url}/health"), "the MLflow server up", 120, server)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def wandb_runs(directory: Path) -> dict[str, dict]:
    """W&B's offline run files under ``directory``, read as W&B's own sync reads them (a LevelDB-style log of
    protobuf records: a 7-byte header, 32 KiB blocks, records of crc32c, length, type): per run id, the history
    keys and steps logged and the config keys set."""
    from wandb.proto import wandb_internal_pb2

    runs: dict[str, dict] = {}
    for path in sorted(directory.rglob("offline-run-*/run-*.wandb")):
        data, pos, block, pending, run = path.read_bytes(), 7, 32768, b"", None
        history, config = [], set()
        while pos + 7 <= len(data):
            if block - pos % block < 7:
                pos += block - pos % block
                continue
            length, kind = int.from_bytes(data[pos + 4:pos + 6], "little"), data[pos + 6]
            pending += data[pos + 7:pos + 7 + length]
            pos += 7 + length
            if kind in (1, 4):  # a whole record, or the last piece of one
                record = wandb_internal_pb2.Record()
                record.ParseFromString(pending)
                pending = b""
                what = record.WhichOneof("record_type")
                if what == "run":  # wandb.init(config=...) arrives with the run
                    run = record.run.run_id
                    config |= {i.key or "/".join(i.nested_key) for i in record.run.config.update}
                elif what == "history":
                    history.append({i.key or "/".join(i.nested_key) for i in record.history.item})
                elif what == "config":
                    config |= {i.key or "/".join(i.nested_key) for i in record.config.update}
        entry = runs.setdefault(run, {"files": 0, "history": [], "config": set()})
        entry["files"] += 1
        entry["history"] += history
        entry["config"] |= config
    return runs


def checkpoint_bytes(exp: Path) -> tuple[int, int, int]:
    """(bytes of every checkpoint, bytes of the largest one, most checkpoints kept by one trial)."""
    sizes, most = [], 0
    for trial in (exp / "trials").iterdir():
        checkpoints = [c for c in trial.glob("checkpoint_*") if c.is_dir()]
        most = max(most, len(checkpoints))
        sizes += [sum(f.stat().st_size for f in c.rglob("*") if f.is_file()) for c in checkpoints]
    return sum(sizes), max(sizes, default=0), most


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())
