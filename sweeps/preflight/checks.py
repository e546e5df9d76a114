"""Everything a sweep can be refused for, before any resource is claimed: configs, objective, models, data
(prepared here, once for the sweep), memory per GPU, compute, storage, and what the cluster can hold."""
from __future__ import annotations

import os
from typing import Sequence

from ftlib.core import storage
from ftlib.core.errors import ConfigError
from ftlib.models.locate import model_exists
from ftlib.placement.fit import check_trial_memory, gpu_places, trials_that_fit
from ftlib.placement.nodes import BOOTSTRAP_CONFIG, CONFIG_ENV, NodeGroup, read_cluster_yaml, yaml_node_types
from ftlib.run.resolve import resolve
from ftlib.train.trial import check_trial, check_without_side_effects, prepare_trial_data
from sweeps.config import SweepConfig
from sweeps.layout import runs_dir
from sweeps.objective import objective_keys
from sweeps.preflight.compute import compute_plan
from sweeps.space import build_run_config, example_points


def check_storage(exp: str) -> None:
    storage.check_writable(str(exp), "resources.storage_path")


def check_planned_resources(sweep: SweepConfig, cfg, clusters: Sequence[str]) -> None:
    """A dry run's check of what a trial asks for: against the node types of the cluster YAMLs (``--cluster``, or
    the autoscaler's on this head), else, for a CPU sweep, against this machine, where its local Ray would run."""
    groups = [g for path in clusters for g in read_cluster_yaml(path)] or yaml_node_types()
    if groups:
        check_resources(sweep, cfg, [], groups)
    elif not cfg.use_gpu:
        check_resources(sweep, cfg, [NodeGroup({"CPU": float(os.cpu_count() or 1)}, 1, None, "this machine")])


def check_sweep(sweep: SweepConfig, exp: str, dry: bool = False, clusters: Sequence[str] = ()):
    """Everything that can be refused, before any trial starts; data is prepared here, once for the sweep.
    A dry run checks configs, batch arithmetic and that each model exists, but downloads, prepares and loads
    nothing (data and models may be on a hub)."""
    objective_keys(sweep)
    configs = [build_run_config(sweep, p, runs_dir(exp)) for p in example_points(sweep)]
    for cfg in configs:
        resolve(cfg, cuda=cfg.use_gpu)
    # What the dry run checks, the run checks first: nothing downloaded, prepared or built for these.
    for problem in filter(None, (model_exists(m) for m in sorted({c.model.name for c in configs}))):
        raise ConfigError(problem)
    for model in sorted({c.model.name for c in configs}):
        check_without_side_effects(configs[0].model_copy(
            update={"model": configs[0].model.model_copy(update={"name": model})}))
    if dry:
        check_planned_resources(sweep, configs[0], clusters)
        return None, configs
    # Memory per GPU against the node types of the autoscaler's YAML, before Ray starts (again on the live cluster).
    check_trial_memory(configs[0], sorted({c.model.name for c in configs}), yaml_node_types(),
                       sweep.resources.multi_node_trials, where="sweep: ")
    everything = configs[0].model_copy(update={"eval_tasks": sorted({*sweep.pool, *sweep.objective_tasks()})})
    prepare_trial_data(everything, prepare_missing=True)
    checked = check_trial(configs[0])
    compute_plan(sweep, configs, gpu_places(configs[0], yaml_node_types(), sweep.resources.multi_node_trials)[0])
    # Every other base model of the sweep (paper_ablation's `models`) loads its config and LoRA targets too.
    for model in sorted({c.model.name for c in configs} - {configs[0].model.name}):
        check_trial(configs[0].model_copy(update={"model": configs[0].model.model_copy(update={"name": model})}))
    return checked, configs


def check_resources(sweep: SweepConfig, cfg, alive: Sequence[NodeGroup], node_types: Sequence[NodeGroup] = ()) -> int:
    """Per-trial demand against the nodes the cluster has and the node types its autoscaler may add; returns
    how many trials fit at once."""
    gpus_per_trial = cfg.num_workers if cfg.use_gpu else 0
    cpus_per_trial = cfg.num_workers * cfg.cpus_per_worker
    largest_gpu = max((g.resources.get("GPU", 0) for g in [*alive, *node_types] if g.count > 0), default=0)
    if cfg.use_gpu and largest_gpu < 1:
        raise ConfigError("base.use_gpu is true but no node of the cluster has a GPU, nor can its autoscaler add one "
                          f"(node types are read from {BOOTSTRAP_CONFIG} on the head, or ${CONFIG_ENV})")
    multi = sweep.resources.multi_node_trials
    if gpus_per_trial > largest_gpu and not multi:
        raise ConfigError(f"a trial asks for {gpus_per_trial} GPUs (num_workers {cfg.num_workers}) but the largest "
                          f"node has {largest_gpu:g}; lower num_workers or set resources.multi_node_trials: true")
    # CPU workers of one trial may spread over nodes; GPU workers of one trial share a node unless multi-node.
    spread = multi or not gpus_per_trial
    fits = max(trials_that_fit(alive, gpus_per_trial, cpus_per_trial, spread),
               trials_that_fit(node_types, gpus_per_trial, cpus_per_trial, spread))
    if fits < 1:
        total = {k: sum(g.count * g.resources.get(k, 0) for g in alive) for k in ("CPU", "GPU")}
        raise ConfigError(f"a trial needs {cpus_per_trial:g} CPUs and {gpus_per_trial} GPUs; the cluster has "
                          f"{total['CPU']:g} CPUs and {total['GPU']:g} GPUs")
    return fits


def trials_at_once(sweep: SweepConfig, cfg, alive: list[NodeGroup], node_types: list[NodeGroup],
                   autoscaling: bool) -> int:
    """``resources.max_concurrent_trials``, or as many trials as fit. An autoscaler whose node types cannot be
    read here (KubeRay reports none) may start the GPUs the sweep needs: there the setting is required."""
    limit = sweep.resources.max_concurrent_trials
    if autoscaling and not node_types:
        if not limit:
            raise ConfigError("resources.max_concurrent_trials: this cluster autoscales but its node types cannot "
                              "be read here (on KubeRay, say how many trials run at once, e.g. the GPU group's "
                              "maxReplicas)")
        return limit
    fits = check_resources(sweep, cfg, alive, node_types)  # refuses a trial no node can hold, limit or not
    return limit or fits
