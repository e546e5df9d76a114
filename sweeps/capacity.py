"""The cluster a sweep runs on: the nodes it has now and the node types its autoscaler can add. A cluster that
scales GPU workers from zero has no GPU when the sweep starts; its node types say what trials can count on."""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import yaml

from ftlib.errors import ConfigError

BOOTSTRAP_CONFIG = "~/ray_bootstrap_config.yaml"  # where `ray up` leaves the autoscaler's config on the head
CONFIG_ENV = "COCKTAIL_AUTOSCALING_CONFIG"  # names that config where it lives elsewhere (a fake cluster)
UNBOUNDED = 10**6


@dataclass(frozen=True)
class NodeGroup:
    resources: dict[str, float]
    count: int  # nodes alive now, or the most the autoscaler may start


def alive_nodes() -> list[NodeGroup]:
    import ray

    return [NodeGroup(dict(n["Resources"]), 1) for n in ray.nodes() if n.get("Alive")]


def autoscaler_node_types() -> list[NodeGroup]:
    """Worker node types the autoscaler may start: from the cluster config reported to the GCS where a platform
    reports one, else from the autoscaler's YAML on the head. Empty when the cluster does not autoscale, or when
    its types cannot be read here (KubeRay)."""
    from ray._private.state import state

    reported = state.get_cluster_config()
    if reported is not None and reported.node_group_configs:
        return [NodeGroup(dict(g.resources), g.max_count if g.max_count >= 0 else UNBOUNDED)
                for g in reported.node_group_configs]
    path = Path(os.environ.get(CONFIG_ENV) or os.path.expanduser(BOOTSTRAP_CONFIG))
    return node_types_from_yaml(yaml.safe_load(path.read_text()), str(path)) if path.exists() else []


def node_types_from_yaml(config: dict[str, Any], source: str) -> list[NodeGroup]:
    types = config.get("available_node_types") if isinstance(config, dict) else None
    if not isinstance(types, dict):
        raise ConfigError(f"{source}: expected an autoscaler config with available_node_types")
    head = config.get("head_node_type")
    return [NodeGroup({k: float(v) for k, v in (t.get("resources") or {}).items()}, int(t.get("max_workers", 0)))
            for name, t in types.items() if name != head]


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


@contextlib.contextmanager
def requested(bundles: list[dict[str, float]]):
    """Asks the autoscaler for every concurrent trial at once, so it picks node types for the whole demand
    (eight 1-GPU trials: one 8-GPU node, not 1-GPU nodes one by one as trials arrive) and scales up before
    worker groups queue. Withdrawn when the sweep ends, so idle nodes scale down."""
    from ray.autoscaler.sdk import request_resources

    request_resources(bundles=bundles)
    try:
        yield
    finally:
        request_resources(bundles=[])


def on_kuberay() -> bool:
    """KubeRay marks every pod it starts; its autoscaler may add GPU pods but reports no node types."""
    return os.environ.get("RAY_USAGE_STATS_KUBERAY_IN_USE") == "1"
