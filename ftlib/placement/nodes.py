"""The cluster a sweep runs on: the nodes it has now and the node types its autoscaler can add. A cluster that
scales GPU workers from zero has no GPU when the sweep starts; its node types say what trials can count on."""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray
from ray._private.state import state
from ray.autoscaler.sdk import request_resources

from ftlib.core.configs import load_yaml
from ftlib.core.errors import ConfigError
from ftlib.planner.gpus import GPU, gpu_of_node_config, gpu_of_resources

BOOTSTRAP_CONFIG = "~/ray_bootstrap_config.yaml"  # where `ray up` leaves the autoscaler's config on the head
CONFIG_ENV = "COCKTAIL_AUTOSCALING_CONFIG"  # names that config where it lives elsewhere (a fake cluster)
UNBOUNDED = 10**6


@dataclass(frozen=True)
class NodeGroup:
    resources: dict[str, float]
    count: int  # nodes alive now, or the most the autoscaler may start
    gpu: GPU | None = None  # its GPU type, where Ray or the node type tells
    name: str = "node"


def alive_nodes() -> list[NodeGroup]:
    return [NodeGroup(dict(n["Resources"]), 1, gpu_of_resources(n["Resources"]), f"node {n.get('NodeManagerAddress')}")
            for n in ray.nodes() if n.get("Alive")]


def autoscaler_node_types() -> list[NodeGroup]:
    """Worker node types the autoscaler may start: from the cluster config reported to the GCS where a platform
    reports one, else from the autoscaler's YAML on the head. Empty when the cluster does not autoscale, or when
    its types cannot be read here (KubeRay)."""
    reported = state.get_cluster_config()
    if reported is not None and reported.node_group_configs:
        return [NodeGroup(dict(g.resources), g.max_count if g.max_count >= 0 else UNBOUNDED,
                          gpu_of_resources(g.resources), g.name or "node type")
                for g in reported.node_group_configs]
    return yaml_node_types()


def yaml_node_types() -> list[NodeGroup]:
    """The node types of the autoscaler's YAML on this machine (the head), read without Ray; [] where none."""
    path = Path(os.environ.get(CONFIG_ENV) or os.path.expanduser(BOOTSTRAP_CONFIG))
    return node_types_from_yaml(load_yaml(path), str(path)) if path.exists() else []


def node_types_from_yaml(config: dict[str, Any], source: str) -> list[NodeGroup]:
    types = config.get("available_node_types") if isinstance(config, dict) else None
    if not isinstance(types, dict):
        raise ConfigError(f"{source}: expected an autoscaler config with available_node_types")
    head = config.get("head_node_type")
    groups = []
    for name, t in types.items():
        if name == head:
            continue
        resources = {k: float(v) for k, v in (t.get("resources") or {}).items()}
        gpu = gpu_of_resources(resources) or gpu_of_node_config(t.get("node_config") or {})
        groups.append(NodeGroup(resources, int(t.get("max_workers", 0)), gpu, name))
    return groups


def read_cluster_yaml(path: str) -> list[NodeGroup]:
    """The worker node types of a Ray cluster launcher YAML (``--cluster cluster/aws.yaml``)."""
    try:
        config = load_yaml(path)
    except ConfigError as e:
        raise ConfigError(f"--cluster {e}") from None
    return node_types_from_yaml(config, path)


@contextlib.contextmanager
def requested(bundles: list[dict[str, float]]):
    """Asks the autoscaler for every concurrent trial at once, so it picks node types for the whole demand
    (eight 1-GPU trials: one 8-GPU node, not 1-GPU nodes one by one as trials arrive) and scales up before
    worker groups queue. Withdrawn when the sweep ends, so idle nodes scale down."""
    request_resources(bundles=bundles)
    try:
        yield
    finally:
        request_resources(bundles=[])


def on_kuberay() -> bool:
    """KubeRay marks every pod it starts; its autoscaler may add GPU pods but reports no node types."""
    return os.environ.get("RAY_USAGE_STATS_KUBERAY_IN_USE") == "1"
