"""``cocktail sweep run --dry-run``: the design as it would run, and the planner's memory, storage and compute for
it, with nothing downloaded, prepared or trained."""
from __future__ import annotations

import os
from typing import Any, Sequence

from ftlib.placement.fit import check_trial_memory, every_gpu_type, gpu_places
from ftlib.placement.nodes import BOOTSTRAP_CONFIG, CONFIG_ENV, read_cluster_yaml, yaml_node_types
from sweeps.config import SweepConfig
from sweeps.preflight.compute import compute_plan
from sweeps.preflight.disk import check_disk
from sweeps.space import num_runs


def dry_run_plans(sweep: SweepConfig, configs, clusters: Sequence[str] = ()) -> dict[str, Any]:
    """The planner's memory per GPU for each model, on the node types of ``clusters`` (cluster YAMLs; a model
    that fits none is refused), else of the autoscaler's YAML here, else shown for every known GPU type; the
    sweep's storage and its compute (refused over their limits)."""
    cfg = configs[0]
    groups = [g for path in clusters for g in read_cluster_yaml(path)] or yaml_node_types()
    models = sorted(set(sweep.models or [cfg.model.name]))
    found = check_trial_memory(cfg, models, groups, sweep.resources.multi_node_trials, where="sweep: ",
                               places=None if groups else every_gpu_type(cfg), dry=True)
    cost = compute_plan(sweep, configs, gpu_places(cfg, groups, sweep.resources.multi_node_trials)[0], dry=True)
    return {"memory": found, "cost": cost,
            "disk": check_disk(sweep, cfg, num_runs(sweep), sweep.resources.max_concurrent_trials or 1, dry=True),
            "clusters": list(clusters) or ([os.environ.get(CONFIG_ENV) or BOOTSTRAP_CONFIG] if groups else [])}
