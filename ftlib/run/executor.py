"""Which executor trains a run, and why: ``ray_train`` (a Ray Train V2 worker group: DDP or DeepSpeed across
workers) or ``tune`` (the training loop in the process that asked for it: a Tune trial's own process, or one Ray
task for ``cocktail train``). A worker group of one gains nothing from Ray Train and costs about eight process
starts and a fresh import of the heavy libraries per run; the loop and the checkpoint layout are the same."""
from __future__ import annotations

from typing import NamedTuple

from ftlib.run.config import RunConfig


class Executor(NamedTuple):
    name: str  # "tune" | "ray_train"
    reason: str


def executor_of(cfg: RunConfig) -> Executor:
    asked = cfg.train.executor
    if asked != "auto":
        return Executor(asked, "train.executor")
    if cfg.num_workers > 1:
        return Executor("ray_train", f"{cfg.num_workers} workers")
    if cfg.deepspeed is not None:
        return Executor("ray_train", "DeepSpeed")
    return Executor("tune", "one worker")
