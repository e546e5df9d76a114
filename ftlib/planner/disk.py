"""A sweep's disk, from the model's size: every finished trial keeps its final weights and the weights of its
``keep_checkpoints`` checkpoints (their optimizer state is dropped when it ends: sweeps/tune/callbacks/trim_checkpoints.py); trials still
running also keep their checkpoints' optimizer state (DeepSpeed's or torch's: fp32 moments, plus the fp32 master
copy under mixed precision)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ftlib.planner.memory import ModelShape

GB = 1e9


@dataclass
class Disk:
    weights_gb: float  # one copy of what a checkpoint's model/ holds
    state_gb: float  # one checkpoint's optimizer state
    finished_gb: float  # every trial's final model and checkpoints' weights
    running_gb: float  # optimizer state of the trials running at once

    @property
    def total_gb(self) -> float:
        return self.finished_gb + self.running_gb


def sweep_disk(shape: ModelShape, cfg, precision: str, autocast: bool, trials: int, concurrent: int) -> Disk:
    if cfg.method == "lora":
        weights = shape.trainable * 4  # adapters in fp32 (PEFT keeps them so under bf16)
    else:
        weights = shape.params * (4 if precision == "fp32" or autocast else 2)
    mixed = precision != "fp32" and not autocast and cfg.deepspeed is not None
    state = shape.trainable * (8 + (4 if mixed else 0))
    keep = cfg.keep_checkpoints
    return Disk(weights / GB, state / GB, trials * (1 + keep) * weights / GB, concurrent * keep * state / GB)


def describe_disk(d) -> str:
    return (f"{d.finished_gb:,.1f} GB of finished trials' weights ({d.weights_gb:,.2f} GB a copy), "
            f"{d.running_gb:,.1f} GB of running trials' optimizer state")
