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
from ftlib.planner.gpus import GPU, GPUS, gpu_of_node_config, gpu_of_resources

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
    import ray

    return [NodeGroup(dict(n["Resources"]), 1, gpu_of_resources(n["Resources"]), f"node {n.get('NodeManagerAddress')}")
            for n in ray.nodes() if n.get("Alive")]


def autoscaler_node_types() -> list[NodeGroup]:
    """Worker node types the autoscaler may start: from the cluster config reported to the GCS where a platform
    reports one, else from the autoscaler's YAML on the head. Empty when the cluster does not autoscale, or when
    its types cannot be read here (KubeRay)."""
    from ray._private.state import state

    reported = state.get_cluster_config()
    if reported is not None and reported.node_group_configs:
        return [NodeGroup(dict(g.resources), g.max_count if g.max_count >= 0 else UNBOUNDED,
                          gpu_of_resources(g.resources), g.name or "node type")
                for g in reported.node_group_configs]
    return yaml_node_types()


def yaml_node_types() -> list[NodeGroup]:
    """The node types of the autoscaler's YAML on this machine (the head), read without Ray; [] where none."""
    path = Path(os.environ.get(CONFIG_ENV) or os.path.expanduser(BOOTSTRAP_CONFIG))
    return node_types_from_yaml(yaml.safe_load(path.read_text()), str(path)) if path.exists() else []


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
        config = yaml.safe_load(Path(path).read_text())
    except OSError as e:
        raise ConfigError(f"--cluster {path}: cannot read ({e.strerror})") from None
    return node_types_from_yaml(config, path)


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


def gpu_places(cfg, groups: Sequence[NodeGroup], multi_node: bool):
    """The GPU node kinds a trial of ``cfg`` may land on (as the planner's places), and the names of GPU node
    kinds whose GPU type is unknown (their memory cannot be checked)."""
    from ftlib.planner.fit import Place

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
    from ftlib.planner.fit import Place

    return [Place(gpu.name, gpu, min(cfg.num_workers, 8)) for gpu in GPUS.values()]


def check_disk(sweep, cfg, runs: int, concurrent: int, dry: bool = False) -> tuple[float, list]:
    """The sweep's disk (GB) and, per model, the planner's parts; refused over ``resources.max_disk_gb``. A model
    whose config a dry run cannot have is left out."""
    from ftlib.planner.disk import sweep_disk
    from ftlib.planner.fit import planning_config, shape_of
    from ftlib.train.resolve import resolve

    res = resolve(cfg, cuda=cfg.use_gpu)
    models = sorted(set(sweep.models or [cfg.model.name]))
    parts = []
    for model in models:
        run = cfg.model_copy(update={"model": cfg.model.model_copy(update={"name": model})})
        try:
            model_config, _ = planning_config(run.model, dry=dry)
        except ConfigError:
            if not dry:
                raise
            continue
        parts.append((model, sweep_disk(shape_of(run, model_config), run, res.precision, res.autocast,
                                        runs // len(models), concurrent)))
    # Finished trials of every model stay; the running ones are at most `concurrent` of the largest model.
    total = sum(d.finished_gb for _, d in parts) + max((d.running_gb for _, d in parts), default=0.0)
    limit = sweep.resources.max_disk_gb
    if limit is not None and total > limit:
        raise ConfigError(f"resources.max_disk_gb {limit:g}: the sweep would need about {total:,.0f} GB of storage ("
                          + "; ".join(f"{m}: {describe_disk(d)}" for m, d in parts)
                          + "); raise it, lower base.keep_checkpoints, or run fewer trials")
    return total, parts


def describe_disk(d) -> str:
    return (f"{d.finished_gb:,.1f} GB of finished trials' weights ({d.weights_gb:,.2f} GB a copy), "
            f"{d.running_gb:,.1f} GB of running trials' optimizer state")


def check_trial_memory(cfg, models: Sequence[str], groups: Sequence[NodeGroup], multi_node: bool,
                       where: str = "", places=None, dry: bool = False) -> dict[str, list]:
    """Per model of the sweep, the planner's estimate on every GPU kind a trial may land on; refuses a model
    whose trials fit on none. ``places`` instead of the groups' kinds: shown, never refused (no cluster named)."""
    from ftlib.planner.fit import check_memory, plan_memory, planning_config

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
