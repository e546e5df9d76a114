"""``cocktail train``: one trial outside any sweep. Its dry run (config, batch arithmetic and model checked,
memory estimated: nothing prepared, downloaded or started), and its run (refused before Ray starts where it fits
no GPU, a finished run of the same config on the same data reused unless forced)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from ftlib.core.errors import ConfigError
from ftlib.models.locate import model_exists
from ftlib.placement.fit import check_trial_memory, every_gpu_type
from ftlib.placement.nodes import alive_nodes, read_cluster_yaml, yaml_node_types
from ftlib.placement.session import ensure_ray
from ftlib.planner.gpu_fit import cpu_estimate, planning_config
from ftlib.run.anchor import load_run_config
from ftlib.run.config import RunConfig
from ftlib.run.resolve import resolve
from ftlib.train.trainer import run_trial
from ftlib.train.trial import check_trial, check_without_side_effects, finished_trial


@dataclass
class TrainOutcome:
    cfg: RunConfig
    trial: dict[str, Any]
    trial_file: str
    reused: bool  # an earlier run of this config on this data, not trained again
    stale: list[str] = field(default_factory=list)  # tasks whose data changed since an earlier run: trained again


def plan_trial(path: str, overrides: Sequence[str] = (), clusters: Sequence[str] = ()) -> dict[str, Any]:
    """What a dry run of the run YAML at ``path`` shows: the resolved trial, and memory per CPU worker, or per GPU
    on the node types of ``clusters`` (else the autoscaler's YAML here, else every known GPU type)."""
    cfg = load_run_config(path, list(overrides))
    res = resolve(cfg, cuda=cfg.use_gpu)
    problem = model_exists(cfg.model.name)
    if problem:
        raise ConfigError(problem)
    check_without_side_effects(cfg)
    out: dict[str, Any] = {"cfg": cfg, "resolved": res, "cpu": None, "memory": {}, "clusters": list(clusters)}
    if not cfg.use_gpu:
        model_config, source = planning_config(cfg.model, dry=True)
        out["cpu"] = (source, cpu_estimate(cfg, model_config, res.precision, bool(res.activation_checkpointing)))
        return out
    groups = [g for path in clusters for g in read_cluster_yaml(path)] or yaml_node_types()
    out["memory"] = check_trial_memory(cfg, [cfg.model.name], groups, multi_node=True, where="train: ",
                                       places=None if groups else every_gpu_type(cfg), dry=True)
    return out


def train(path: str, overrides: Sequence[str] = (), address: str | None = None, force: bool = False,
          notify: Callable[[str], None] = lambda line: None) -> TrainOutcome:
    """Trains the run YAML at ``path`` (``notify``: what it decides before it starts, for the terminal)."""
    cfg = load_run_config(path, list(overrides))
    # A GPU trial that fits none of the GPUs the autoscaler's YAML names is refused before Ray starts.
    check_trial_memory(cfg, [cfg.model.name], yaml_node_types(), multi_node=True, where="train: ")
    checked = check_trial(cfg)
    done, stale = finished_trial(cfg, checked.trial_file)
    if stale:
        notify(f"the prepared data of {', '.join(stale)} changed since {checked.trial_file} was written: "
               f"training again")
    if done is not None and not force:
        return TrainOutcome(cfg, done, checked.trial_file, reused=True)
    ensure_ray(address)
    check_trial_memory(cfg, [cfg.model.name], alive_nodes(), multi_node=True, where="train: ")
    trial = run_trial(cfg, checked=checked, fresh=force or bool(stale))
    return TrainOutcome(cfg, trial, checked.trial_file, reused=False, stale=stale)
