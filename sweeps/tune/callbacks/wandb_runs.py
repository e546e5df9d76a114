"""Ray's WandbLoggerCallback, with what a resumed sweep, a secret and a quiet terminal need.

- A trial restarted by a resumed driver continues its W&B run (``resume="allow"`` on the trial's id; Ray's
  default starts the run afresh).
- The trial's config hash and data fingerprint, sent with its final report, go to the run's config (Ray files
  its own result keys there the same way) instead of being dropped as non-numeric metrics.
- Ray's logging actors get WANDB_API_KEY through a runtime env, which Ray's runtime-env agent writes to its log
  in plain text, and restart on failure, which makes Ray's core worker print an error line on the terminal for
  each (ray-project/ray#53727). Ours inherit the key from the node's environment (a local Ray inherits the
  driver's; on a cluster, set it where the nodes start) and are not restarted: a lost logging actor loses that
  trial's later W&B points, not the trial."""
from __future__ import annotations

import os

import ray
from ray.air.integrations.wandb import WandbLoggerCallback
from ray.air.util.node import _force_on_current_node

from sweeps.tracking_params import FINAL_PARAMS


class ResumableWandbLogger(WandbLoggerCallback):
    AUTO_CONFIG_KEYS = [*WandbLoggerCallback.AUTO_CONFIG_KEYS, *FINAL_PARAMS]

    def __init__(self, project: str, mode: str, directory: str):
        super().__init__(project=project, mode=mode, dir=directory, resume="allow")
        os.makedirs(directory, exist_ok=True)

    def setup(self, *args, **kwargs) -> None:
        if self.kwargs["mode"] == "offline":  # no key needed: Ray's set-up would refuse to go on without one
            return
        super().setup(*args, **kwargs)

    def _start_logging_actor(self, trial, exclude_results, **wandb_init_kwargs) -> None:
        if self._remote_logger_class is None:  # Ray's builds it on first use: with the key and restarts
            self._remote_logger_class = ray.remote(num_cpus=0, **_force_on_current_node())(self._logger_actor_cls)
        super()._start_logging_actor(trial, exclude_results, **wandb_init_kwargs)
