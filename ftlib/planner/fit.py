"""Does a trial fit the GPUs it may land on? Estimates per GPU type, the verdict, and the knobs that fix it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ftlib.errors import ConfigError
from ftlib.planner.gpus import GPU
from ftlib.planner.memory import Estimate, ModelShape, estimate, fixes, model_shape, setup_of


@dataclass(frozen=True)
class Place:
    """A kind of node a trial may run on: its name (a node type, or "cluster"), GPU and GPUs per node."""
    name: str
    gpu: GPU
    gpus_per_node: int


@dataclass
class Fit:
    place: Place
    estimate: Estimate
    fixes: list[str]

    @property
    def fits(self) -> bool:
        return self.estimate.total_gib <= self.place.gpu.memory_gib


def planning_config(model_cfg, dry: bool = False):
    """The model's config (no weights): loaded as training will, or from the shipped table of dimensions of a
    known hub id, first in a dry run (which downloads nothing) and where the hub cannot be reached. Returns
    (config, where it came from)."""
    from ftlib.models.load import load_config
    from ftlib.planner.known_models import known_config

    known = known_config(model_cfg.name)
    if dry and known is not None:
        return known, "dimensions shipped with cocktail"
    try:
        return load_config(model_cfg), "config"
    except ConfigError:
        if known is None:
            raise
        return known, "dimensions shipped with cocktail: the hub was not reached"


def shape_of(cfg, model_config) -> ModelShape:
    from ftlib.models.load import lora_targets

    targets = lora_targets(model_config, cfg.lora) if cfg.method == "lora" else None
    return model_shape(model_config, cfg.method, targets, cfg.lora.r)


def _precision(cfg, gpu: bool) -> str:
    return cfg.precision if cfg.precision != "auto" else ("bf16" if gpu else "fp32")


def needs_checkpointing(cfg, model_config, precision: str, memory_gib: float, gpus_per_node: int | None = None
                        ) -> bool:
    """auto for LoRA: on only when the trial does not fit this GPU without it."""
    s = setup_of(cfg, precision, True, False, gpus_per_node)
    return estimate(shape_of(cfg, model_config), s).total_gib > memory_gib


def checkpointing_for(cfg, shape: ModelShape, place: Place) -> bool:
    from ftlib.train.resolve import activation_checkpointing

    decided = activation_checkpointing(cfg, cuda=True)
    if decided is not None:
        return decided
    s = setup_of(cfg, _precision(cfg, True), True, False, place.gpus_per_node)
    return estimate(shape, s).total_gib > place.gpu.memory_gib


def plan_memory(cfg, model_config, places: Sequence[Place]) -> list[Fit]:
    shape = shape_of(cfg, model_config)
    out = []
    for place in places:
        s = setup_of(cfg, _precision(cfg, True), True, checkpointing_for(cfg, shape, place), place.gpus_per_node)
        est = estimate(shape, s)
        out.append(Fit(place, est, [] if est.total_gib <= place.gpu.memory_gib else
                       fixes(shape, s, place.gpu.memory_gib)))
    return out


def check_memory(cfg, model_config, places: Sequence[Place], where: str = "") -> list[Fit]:
    """Refuses a GPU trial that fits on none of ``places``; returns the fits (print them with ``describe``)."""
    if not cfg.use_gpu or not places:
        return []
    fits = plan_memory(cfg, model_config, places)
    if not any(f.fits for f in fits):
        lines = [f"{where}{cfg.model.name}: a trial needs more GPU memory than any GPU it may run on has"]
        lines += [describe(f) for f in fits]
        raise ConfigError("\n".join(lines))
    return fits


def cpu_estimate(cfg, model_config, precision: str, checkpointing: bool) -> Estimate:
    """Host memory per CPU worker (a CPU run: no CUDA context)."""
    return estimate(shape_of(cfg, model_config), setup_of(cfg, precision, False, checkpointing))


def placement_advice(fits: Sequence[Fit]) -> str | None:
    """Where a trial fits some GPU kinds but not others, how to keep it off the ones it does not fit."""
    good = sorted({f.place.gpu.name for f in fits if f.fits})
    bad = sorted({f.place.gpu.name for f in fits if not f.fits} - set(good))
    if not good or not bad:
        return None
    return (f"  trials could be placed on {', '.join(bad)}, where they do not fit: ask for a GPU type with "
            f'base.worker_resources: {{"accelerator_type:{good[-1]}": 0.001}}')


def describe(fit: Fit) -> str:
    e, gpu = fit.estimate, fit.place.gpu
    parts = ", ".join(f"{k} {v:.1f}" for k, v in e.parts_gib.items())
    verdict = "fits" if fit.fits else "does NOT fit"
    kind = f"{gpu.name}, " if fit.place.name != gpu.name else ""
    line = (f"  {fit.place.name} ({kind}{gpu.memory_gib:g} GiB): {e.total_gib:.1f} GiB per GPU {verdict} "
            f"[{parts}; activation checkpointing {'on' if e.setup.checkpointing else 'off'}]")
    if e.cpu_gib:
        line += f"; host memory for offloaded states {e.cpu_gib:.0f} GiB per node"
    if not fit.fits:
        line += "\n    fix with: " + ("; or ".join(fit.fixes) if fit.fixes else
                                     "more GPUs per trial (num_workers) with deepspeed.stage 3")
    return line
