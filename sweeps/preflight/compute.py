"""A sweep's compute before it runs: per trial and in total, tokens, optimizer steps, FLOPs and GPU-hours at an
assumed MFU on the GPU type it will use, the range ASHA may save, and the cost at a price per GPU-hour;
``resources.max_gpu_hours`` refuses a sweep over it before any resource is claimed."""
from __future__ import annotations

from typing import Any, Sequence

from ftlib.core.errors import ConfigError
from ftlib.planner.cost import asha_fraction, trial_cost
from ftlib.planner.gpu_fit import planning_config, shape_of
from ftlib.planner.gpus import GPU, GPUS, gpu_named
from ftlib.run.resolve import resolve
from sweeps.config import SweepConfig
from sweeps.preflight.listing import listing
from sweeps.space import reports_per_trial

DEFAULT_GPU = "H100"


def gpu_for(sweep, places: Sequence = ()) -> tuple[GPU, str]:
    """``resources.gpu_type``, else the cluster's GPU kind, else an H100 (said so)."""
    named = sweep.resources.gpu_type
    if named:
        gpu = gpu_named(named)
        if gpu is None:
            raise ConfigError(f"resources.gpu_type {named!r}: expected one of {sorted(GPUS)}")
        return gpu, "resources.gpu_type"
    if places:
        return places[0].gpu, f"the cluster's {places[0].name}"
    return GPUS[DEFAULT_GPU], "assumed; set resources.gpu_type"


def sweep_cost(sweep, configs: Sequence, tokens: Sequence[int | None], gpu: GPU, runs_per_config: int = 1,
               dry: bool = False) -> dict[str, Any]:
    """``tokens``: each config's planned tokens (None where its data is not prepared)."""
    shapes: dict[str, Any] = {}
    trials = []
    no_model = 0
    mfu = sweep.resources.assumed_mfu
    for cfg, n in zip(configs, tokens):
        if n is None:
            trials.append(None)
            continue
        if cfg.model.name not in shapes:
            try:
                shapes[cfg.model.name] = shape_of(cfg, planning_config(cfg.model, dry=dry)[0])
            except ConfigError:
                if not dry:
                    raise
                shapes[cfg.model.name] = None
        shape = shapes[cfg.model.name]
        no_model += shape is None
        res = resolve(cfg, cuda=cfg.use_gpu)
        trials.append(None if shape is None else trial_cost(shape, cfg, res.global_batch_size, n,
                                                            gpu.bf16_tflops * 1e12, mfu))
    known = [t for t in trials if t is not None]
    total = {"gpu_hours": runs_per_config * sum(t.gpu_hours for t in known),
             "flops": runs_per_config * sum(t.flops for t in known),
             "tokens": runs_per_config * sum(t.tokens for t in known),
             "steps": runs_per_config * sum(t.steps for t in known)}
    s = sweep.scheduler
    saving = None
    if s.kind == "asha" and known:
        reports = -(-max(t.steps for t in known) // configs[0].eval_every)
        max_t = reports_per_trial(sweep, reports, grid=sweep.search.grid is not None)
        saving = asha_fraction(s.grace_period, s.reduction_factor, max(max_t, s.grace_period + 1))
    price = sweep.resources.price_per_gpu_hour
    return {"trials": trials, "total": total, "unknown": len(trials) - len(known) - no_model, "no_model": no_model,
            "gpu": gpu.name, "mfu": mfu,
            "asha_least_fraction": saving, "cost": None if price is None else price * total["gpu_hours"],
            "price": price, "use_gpu": configs[0].use_gpu if configs else False}


def check_gpu_hours(sweep, cost: dict[str, Any]) -> None:
    limit = sweep.resources.max_gpu_hours
    total = cost["total"]
    if limit is not None and total["gpu_hours"] > limit:
        raise ConfigError(f"resources.max_gpu_hours {limit:g}: the sweep's estimate is {total['gpu_hours']:,.1f} "
                          f"GPU-hours ({total['tokens']:,} tokens, {total['steps']:,} optimizer steps, "
                          f"{total['flops']:.3g} FLOPs on {cost['gpu']} at an assumed MFU of {cost['mfu']:.0%}"
                          + (f"; ASHA may bring it down to {cost['asha_least_fraction']:.0%} of that"
                             if cost["asha_least_fraction"] else "") + "): raise it, or plan fewer or smaller trials")


def compute_plan(sweep: SweepConfig, configs, places: Sequence = (), dry: bool = False) -> dict[str, Any]:
    """Tokens, steps, FLOPs and GPU-hours of every trial (an Optuna sweep: its example trial × num_samples);
    refused over resources.max_gpu_hours."""
    gpu, where = gpu_for(sweep, places)
    rows = listing(configs)["trials"]
    per = 1 if sweep.search.grid is not None else sweep.search.optuna.num_samples
    cost = sweep_cost(sweep, configs, [t["est_tokens"] for t in rows], gpu, per, dry=dry)
    cost["where"] = where
    check_gpu_hours(sweep, cost)
    return cost
