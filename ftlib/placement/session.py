"""Connecting to Ray, one rule for every command: a new local instance of its own, unless an address is given
(``--address`` or ``RAY_ADDRESS``, as ``ray job submit`` sets for its entrypoint); then it joins that cluster.
A plain ``ray.init()`` would join whatever ``ray start`` left running on the machine, where ``num_cpus`` is
refused. Every command says which one it runs on."""
from __future__ import annotations

import logging
import os
import sys

import ray

from ftlib.core.verbosity import is_verbose

# Ray Train's controller polls workers every RAY_TRAIN_HEALTH_CHECK_INTERVAL_S (default 2 s), and each
# ray.train.report waits for a poll: ~1.7 s per report measured here; at 0.1 s it is ~0.07 s.
TRAIN_ENV_DEFAULTS = {"RAY_TRAIN_HEALTH_CHECK_INTERVAL_S": "0.1"}
WORKER_STARTUP_CONCURRENCY = 16


def ensure_ray(address: str | None = None, num_cpus: int | None = None, include_dashboard: bool | None = None):
    for key, value in TRAIN_ENV_DEFAULTS.items():
        os.environ.setdefault(key, value)
    if ray.is_initialized():
        return ray
    address = address or os.environ.get("RAY_ADDRESS") or None
    env = {"env_vars": {k: os.environ[k] for k in TRAIN_ENV_DEFAULTS}}
    # Workers' output (Train, Data, model loading) goes to the session's log files; `cocktail -v` shows it here.
    verbose = is_verbose()
    # Without -v, Ray's own start-up lines (token set-up, "Started a local Ray instance") stay out of the terminal:
    # the [ray] line below says where the command runs. ray.init sets the "ray" logger to this level.
    quiet = {"log_to_driver": verbose, "logging_level": logging.INFO if verbose else logging.ERROR}
    if not verbose:
        # Tune's per-trial tracebacks are replaced by the sweep's one line per errored trial
        # (sweeps/tune/callbacks/progress.py), their full text in the trial's error file.
        logging.getLogger("ray.tune").setLevel(logging.CRITICAL)
    if address:
        ctx = ray.init(address=address, runtime_env=env, **quiet)
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        total = ray.cluster_resources()
        print(f"[ray] joined the cluster at {address} ({ctx.address_info.get('gcs_address')}): {len(nodes)} node(s), "
              f"{total.get('CPU', 0):g} CPUs, {total.get('GPU', 0):g} GPUs", file=sys.stderr, flush=True)
    else:
        # A sweep needs more Python workers than this machine has CPUs (trainables and Train controllers ask for
        # fractions of a CPU): the raylet starts at most min(CPUs, ...) at once and warns at 4x that. Let it start
        # them as they are asked for; the raylet reads this from its environment.
        os.environ.setdefault("RAY_worker_maximum_startup_concurrency", str(WORKER_STARTUP_CONCURRENCY))
        ctx = ray.init(address="local", num_cpus=num_cpus, include_dashboard=include_dashboard, runtime_env=env,
                       **quiet)
        total = ray.cluster_resources()
        where = f", dashboard {ctx.dashboard_url}" if ctx.dashboard_url else ""
        print(f"[ray] started a new local instance: {total.get('CPU', 0):g} CPUs, {total.get('GPU', 0):g} GPUs{where}"
              f" (give --address to join a cluster)", file=sys.stderr, flush=True)
    if not verbose:  # past start-up, Ray's warnings stay
        logging.getLogger("ray").setLevel(logging.WARNING)
    return ray
