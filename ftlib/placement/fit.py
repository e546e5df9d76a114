"""Which trials a cluster holds: how many at once on its nodes, the resource bundles of one trial, the GPU kinds a
trial may land on, and whether its memory fits them (refused before any resource is claimed)."""
from __future__ import annotations

from typing import Sequence

from ftlib.core.errors import ConfigError
from ftlib.placement.nodes import NodeGroup
from ftlib.planner.gpu_fit import Place, check_memory, plan_memory, planning_config
from ftlib.planner.gpus import GPUS


def trials_that_fit(groups: Sequence[NodeGroup], gpus: int, cpus: float, multi_node: bool) -> int:
    """How many trials (``gpus`` GPUs or, CPU-only, ``cpus`` CPUs each) these nodes hold at once."""
    key, need = ("GPU", gpus) if gpus else ("CPU", cpus)
    if multi_node:
        return int(sum(g.count * g.resources.get(key, 0) for g in groups) // need)
    return sum(g.count * int(g.resources.get(key, 0) // need) for g in groups)


def trial_bundles(cfg) -> list[dict[str, float]]:
    """The resource bundles of one trial's Train workers."""
    bundle = {"CPU": cfg.cpus_per_worker, **({"GPU": 1.0} if cfg.use_gpu else {}), **cfg.worker_resources}
    return [dict(bundle) for _ in range(cfg.num_workers)]


def gpu_places(cfg, groups: Sequence[NodeGroup], multi_node: bool):
    """The GPU node kinds a trial of ``cfg`` may land on (as the planner's places), and the names of GPU node
    kinds whose GPU type is unknown (their memory cannot be checked)."""
    places, unknown = {}, []
    for g in groups:
        gpus = int(g.resources.get("GPU", 0))
        if g.count < 1 or gpus < 1 or (gpus < cfg.num_workers and not multi_node):
            continue
        if g.gpu is None:
            unknown.append(g.name)
        else:
            places.setdefault((g.gpu.name, gpus), Place(g.name, g.gpu, gpus))
    return list(places.values()), sorted(set(unknown))


def every_gpu_type(cfg) -> list:
    """Places for each GPU type the planner knows: what a dry run shows when no cluster is named."""
    return [Place(gpu.name, gpu, min(cfg.num_workers, 8)) for gpu in GPUS.values()]


def check_trial_memory(cfg, models: Sequence[str], groups: Sequence[NodeGroup], multi_node: bool,
                       where: str = "", places=None, dry: bool = False) -> dict[str, list]:
    """Per model of the sweep, the planner's estimate on every GPU kind a trial may land on; refuses a model
    whose trials fit on none. ``places`` instead of the groups' kinds: shown, never refused (no cluster named)."""
    if not cfg.use_gpu:
        return {}
    out = {}
    for model in models:
        run = cfg.model_copy(update={"model": cfg.model.model_copy(update={"name": model})})
        dry = dry or places is not None
        try:
            model_config, source = planning_config(run.model, dry=dry)
        except ConfigError as e:
            if not dry:
                raise
            out[model] = ("config not loaded", [], [f"memory not estimated: {e}"])
            continue
        if places is not None:
            out[model] = (source, plan_memory(run, model_config, places), [])
            continue
        found, unknown = gpu_places(run, groups, multi_node)
        # A GPU kind of unknown type might hold the trial: refuse only when every kind is known and none fits.
        fits = plan_memory(run, model_config, found) if unknown else check_memory(run, model_config, found, where)
        out[model] = (source, fits, [f"{name}: GPU type unknown, memory not checked (add accelerator_type:<GPU> "
                                     f"to its resources)" for name in unknown])
    return out
