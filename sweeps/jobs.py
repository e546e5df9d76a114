"""``cocktail submit``: a thin layer over Ray's Job Submission SDK. It checks the sweep, the upload and the
environment locally, then submits ``cocktail sweep run`` as a job and says how to follow it."""
from __future__ import annotations

import asyncio
import fnmatch
import os
import shlex
import time
from pathlib import Path
from typing import Any, Callable

from ray.job_submission import JobSubmissionClient

from ftlib.core import storage
from ftlib.core.configs import Strict, get_path, load_config
from ftlib.core.errors import ConfigError
from ftlib.core.secrets import SECRET_ENV
from ftlib.run.config import DataConfig
from sweeps.load import load_sweep

UPLOAD_CAP_BYTES = 100 * 1024 * 1024  # Ray's limit on a working_dir upload


class EnvVars(Strict):
    required: list[str] = []
    optional: list[str] = []


class RuntimeEnvFile(Strict):
    working_dir: str = "."
    excludes: list[str] = []
    env_vars: EnvVars = EnvVars()


def load_runtime_env(path: str | Path) -> RuntimeEnvFile:
    """The runtime env file; names a secret in ``env_vars`` refused (job env vars show in `ray job list`)."""
    spec = load_config(RuntimeEnvFile, path)
    secrets = [n for n in [*spec.env_vars.required, *spec.env_vars.optional] if n in SECRET_ENV]
    if secrets:
        raise ConfigError(f"{path}: env_vars names secrets {secrets}: a job's environment is shown in plain text by "
                          f"`ray job list` and the jobs API; give the nodes their own identity (instance profile, "
                          f"service account) or mount the token as a file instead")
    return spec


def env_values(spec: RuntimeEnvFile, environ: dict[str, str] | None = None) -> dict[str, str]:
    """Values of the named variables from the local environment; a missing required one is an error."""
    environ = dict(os.environ if environ is None else environ)
    missing = [name for name in spec.env_vars.required if not environ.get(name)]
    if missing:
        raise ConfigError(f"the runtime env needs environment variables {missing}; set them in your shell "
                          f"(values are sent with the job, never written to a file)")
    names = spec.env_vars.required + [n for n in spec.env_vars.optional if environ.get(n)]
    return {name: environ[name] for name in names}


def _excluded(rel: str, patterns: list[str]) -> bool:
    parts = rel.split("/")
    for pattern in patterns:
        p = pattern.rstrip("/")
        if fnmatch.fnmatch(rel, p) or any(fnmatch.fnmatch(part, p) for part in parts):
            return True
        if p.startswith("**/") and any(fnmatch.fnmatch(part, p[3:]) for part in parts):
            return True
    return False


def upload_size(working_dir: str | Path, excludes: list[str]) -> tuple[int, list[tuple[str, int]]]:
    """Bytes Ray would upload, and the largest top-level entries (to say what to exclude)."""
    root = Path(working_dir)
    total, by_top = 0, {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root)
        dirnames[:] = [d for d in dirnames if not _excluded((rel_dir / d).as_posix(), excludes)]
        for name in filenames:
            rel = (rel_dir / name).as_posix()
            if _excluded(rel, excludes):
                continue
            size = (Path(dirpath) / name).stat().st_size
            total += size
            top = rel.split("/")[0]
            by_top[top] = by_top.get(top, 0) + size
    return total, sorted(by_top.items(), key=lambda kv: -kv[1])[:5]


def check_cluster_paths(sweep) -> None:
    """A relative path would name a place inside the job's temporary working dir on the head: gone when the job
    ends, and unseen by the other nodes."""
    for key, value in (("resources.storage_path", sweep.resources.storage_path),
                       ("base.data.dir", get_path(sweep.base, "data.dir", DataConfig().dir))):
        if not storage.is_uri(value) and not os.path.isabs(value):
            raise ConfigError(f"{key} {value!r} is relative: on the cluster it would land in the job's temporary "
                              f"working dir; give an object-store URI (s3://..., gs://...) or an absolute path "
                              f"every node mounts (--set {key}=...)")


def build_job(sweep_path: str, runtime_env_path: str, overrides: list[str],
              environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Everything checked locally, with the overrides applied; returns the Job API arguments."""
    sweep = load_sweep(sweep_path, overrides=overrides)
    check_cluster_paths(sweep)
    spec = load_runtime_env(runtime_env_path)
    working_dir = Path(spec.working_dir if Path(spec.working_dir).is_absolute() else
                       Path(runtime_env_path).parent.parent / spec.working_dir).resolve()
    size, biggest = upload_size(working_dir, spec.excludes)
    if size > UPLOAD_CAP_BYTES:
        listing = ", ".join(f"{name} {b / 2**20:.0f} MiB" for name, b in biggest)
        raise ConfigError(f"the working dir {working_dir} uploads {size / 2**20:.0f} MiB, over Ray's 100 MiB cap; "
                          f"add excludes in {runtime_env_path} (largest: {listing})")
    rel_sweep = os.path.relpath(Path(sweep_path).resolve(), working_dir)
    if rel_sweep.startswith(".."):
        raise ConfigError(f"{sweep_path} is outside the working dir {working_dir}: the job could not read it")
    extra_args = [part for item in overrides for part in ("--set", shlex.quote(item))]
    entrypoint = " ".join(["python -m sweeps.cli.main sweep run", rel_sweep, "--address auto", *extra_args])
    return {"entrypoint": entrypoint,
            "runtime_env": {"working_dir": str(working_dir), "excludes": spec.excludes,
                            "env_vars": env_values(spec, environ)},
            "submission_id": f"cocktail-{sweep.name}-{time.strftime('%Y%m%d-%H%M%S')}",
            "upload_bytes": size}


def client_for(address: str):
    try:
        return JobSubmissionClient(address)
    except (ConnectionError, RuntimeError, ValueError, OSError) as e:
        raise ConfigError(f"cannot reach the Ray job server at {address!r} ({type(e).__name__}); is the cluster up? "
                          f"`ray dashboard cluster/aws.yaml` opens a tunnel to http://localhost:8265") from None


AGENT_WAIT_S = 120  # a cluster just started (`ray up`, a new head) has no job agent for a while


def submit(sweep_path: str, address: str, runtime_env_path: str, overrides: list[str]) -> str:
    job = build_job(sweep_path, runtime_env_path, overrides)
    client = client_for(address)
    deadline = time.monotonic() + AGENT_WAIT_S
    while True:
        try:
            return client.submit_job(entrypoint=job["entrypoint"], runtime_env=job["runtime_env"],
                                     submission_id=job["submission_id"])
        except RuntimeError as e:  # the job server answers 500 until a node's job agent is up
            if "No available agent" not in str(e):
                raise
            if time.monotonic() > deadline:
                raise ConfigError(f"the Ray job server at {address} has had no job agent for {AGENT_WAIT_S} s; "
                                  "see dashboard_agent.log on the head node (often its port, "
                                  "--dashboard-agent-listen-port, default 52365, is held by another Ray "
                                  "on that host)") from None
            time.sleep(3)


def follow_job(address: str, job_id: str, echo: Callable[[str], None]) -> str:
    """Passes the job's log lines to ``echo`` until it ends; returns its final status."""
    client = client_for(address)

    async def follow() -> None:
        async for lines in client.tail_job_logs(job_id):
            echo(lines)

    asyncio.run(follow())
    return str(client.get_job_status(job_id))
