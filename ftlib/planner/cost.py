"""Compute and cost of a trial before it runs: tokens, optimizer steps, training FLOPs, GPU-hours at an assumed MFU.

FLOPs are the model's work per trained token: 6·N for full fine-tuning (forward 2N, backward 4N); 4·N for LoRA
(forward 2N, backward 2N for the activations' gradients: the frozen base gets no weight gradients, and the
adapters' own 6·r·(in + out) per adapted Linear is under 1 % of N). Activation checkpointing's recomputed forward
(another 2N) is hardware work that MFU, by convention, does not count. Attention's seq_len² term is left out too
(under 5 % at 4k tokens for these models).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ftlib.planner.memory import ModelShape

DEFAULT_MFU = 0.35  # full fine-tuning with ZeRO on H100-class GPUs typically reaches 30-45 %; an assumption
PACK_FILL = 0.99  # packed rows are this full (ftlib/data/pack.py; benchmarks/bench_data.py measures it)


@dataclass
class TrialCost:
    tokens: int  # trained (all epochs, capped by max_steps)
    steps: int  # optimizer steps
    flops: float
    gpu_hours: float  # summed over the trial's GPUs

    def hours_on(self, gpus: int) -> float:
        return self.gpu_hours / max(gpus, 1)


def flops_per_token(shape: ModelShape, method: str) -> float:
    return (6 if method == "full" else 4) * shape.params


def trial_cost(shape: ModelShape, cfg, global_batch: int, tokens: int, peak_flops: float,
               mfu: float = DEFAULT_MFU) -> TrialCost:
    """``tokens``: the plan's tokens over all its epochs."""
    per_step = global_batch * cfg.data.seq_len * PACK_FILL
    steps = max(1, math.ceil(tokens / per_step))
    if cfg.max_steps:
        steps = min(steps, cfg.max_steps)
        tokens = min(tokens, int(steps * per_step))
    flops = flops_per_token(shape, cfg.method) * tokens
    return TrialCost(tokens, steps, flops, flops / (mfu * peak_flops) / 3600)


def training_seconds(history: list[dict]) -> float:
    """Time spent training, from the per-report token counts and throughputs (no start-up, evaluation or
    checkpointing): what a FLOPs estimate predicts."""
    seconds, tokens = 0.0, 0
    for h in history:
        if h.get("tokens_per_s"):
            seconds += (h["tokens"] - tokens) / h["tokens_per_s"]
        tokens = h.get("tokens", tokens)
    return seconds


def asha_fraction(grace: int, eta: float, max_t: int) -> float:
    """The least compute ASHA can use, as a fraction of training every trial to the end: as in synchronous
    successive halving, a 1/eta share of the trials goes on at each rung (grace, grace·eta, ... < max_t)."""
    rungs = []
    r = grace
    while r < max_t:
        rungs.append(r)
        r *= eta
    used, alive = 0.0, 1.0
    for rung in rungs:
        used += alive * (1 - 1 / eta) * rung
        alive /= eta
    return (used + alive * max_t) / max_t
