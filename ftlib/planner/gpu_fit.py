"""Does a trial fit the GPUs it may land on? Memory estimates per GPU type and the knobs that fix it."""
from __future__ import annotations

from typing import Sequence

from ftlib.core.errors import ConfigError
from ftlib.models.inspect import load_model_config, lora_targets
from ftlib.planner.fits import GpuFit, Place, describe_fit
from ftlib.planner.known_models import known_config
from ftlib.planner.memory import MemoryEstimate, ModelShape, estimate_memory, fixes, model_shape, setup_of
from ftlib.run.resolve import activation_checkpointing


def planning_config(model_cfg, dry: bool = False):
    """The model's config (no weights): loaded as training will, or from the shipped table of dimensions of a
    known hub id, first in a dry run (which downloads nothing) and where the hub cannot be reached. Returns
    (config, where it came from)."""
    known = known_config(model_cfg.name)
    if dry and known is not None:
        return known, "dimensions shipped with cocktail"
    try:
        return load_model_config(model_cfg), "config"
    except ConfigError:
        if known is None:
            raise
        return known, "dimensions shipped with cocktail: the hub was not reached"


def shape_of(cfg, model_config) -> ModelShape:
    targets = lora_targets(model_config, cfg.lora) if cfg.method == "lora" else None
    return model_shape(model_config, cfg.method, targets, cfg.lora.r)


def _precision(cfg, gpu: bool) -> str:
    return cfg.precision if cfg.precision != "auto" else ("bf16" if gpu else "fp32")


def needs_checkpointing(cfg, model_config, precision: str, memory_gib: float, gpus_per_node: int | None = None
                        ) -> bool:
    """auto for LoRA: on only when the trial does not fit this GPU without it."""
    s = setup_of(cfg, precision, True, False, gpus_per_node)
    return estimate_memory(shape_of(cfg, model_config), s).total_gib > memory_gib


def checkpointing_for(cfg, shape: ModelShape, place: Place) -> bool:
    decided = activation_checkpointing(cfg, cuda=True)
    if decided is not None:
        return decided
    s = setup_of(cfg, _precision(cfg, True), True, False, place.gpus_per_node)
    return estimate_memory(shape, s).total_gib > place.gpu.memory_gib


def plan_memory(cfg, model_config, places: Sequence[Place]) -> list[GpuFit]:
    shape = shape_of(cfg, model_config)
    out = []
    for place in places:
        s = setup_of(cfg, _precision(cfg, True), True, checkpointing_for(cfg, shape, place), place.gpus_per_node)
        est = estimate_memory(shape, s)
        out.append(GpuFit(place, est, [] if est.total_gib <= place.gpu.memory_gib else
                       fixes(shape, s, place.gpu.memory_gib)))
    return out


def check_memory(cfg, model_config, places: Sequence[Place], where: str = "") -> list[GpuFit]:
    """Refuses a GPU trial that fits on none of ``places``; returns the fits (print them with ``describe_fit``)."""
    if not cfg.use_gpu or not places:
        return []
    fits = plan_memory(cfg, model_config, places)
    if not any(f.fits for f in fits):
        lines = [f"{where}{cfg.model.name}: a trial needs more GPU memory than any GPU it may run on has"]
        lines += [describe_fit(f) for f in fits]
        raise ConfigError("\n".join(lines))
    return fits


def cpu_estimate(cfg, model_config, precision: str, checkpointing: bool) -> MemoryEstimate:
    """Host memory per CPU worker (a CPU run: no CUDA context)."""
    return estimate_memory(shape_of(cfg, model_config), setup_of(cfg, precision, False, checkpointing))
