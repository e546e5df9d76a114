"""The driver's environment for Tune: bounded waits for workers, our own progress lines, and no secret copied into
trial actors' runtime envs."""
from __future__ import annotations

import os

from ray.tune.execution import class_cache

from ftlib.core.secrets import SECRET_ENV

DRIVER_ENV = {
    "RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S": "120",  # a trial stuck waiting for workers fails, not hangs
    # Per-step training reports cannot carry the objective (it is scored after training), only the last does.
    "TUNE_DISABLE_STRICT_METRIC_CHECKING": "1",
    # Tune's classic reporter at verbose 0 prints nothing; the sweep prints its own progress lines.
    "RAY_AIR_NEW_OUTPUT": "0",
}


def set_driver_env() -> None:
    for key, value in DRIVER_ENV.items():
        os.environ.setdefault(key, value)


def keep_secrets_out_of_tune() -> None:
    """Tune copies AWS keys from the driver's environment into every trial actor's runtime env, which Ray's
    runtime-env agent writes to its log in plain text (runtime_env_agent.log, mode 0644). Nothing needs the
    copy (ftlib/core/secrets.py), so the secret names are taken off Tune's list."""
    class_cache.ENV_VARS_TO_PROPAGATE = set(class_cache.ENV_VARS_TO_PROPAGATE) - set(SECRET_ENV)
