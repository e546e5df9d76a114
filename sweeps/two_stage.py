"""A two-stage search as one sweep (after RegMix): stage 1 trains many cheap proxy trials on space-filling random
mixtures of the whole pool; stage 2 fits the mixture surrogates on them and proposes the best mixtures; stage 3
runs the proposals (and baselines) at target scale, then finalize and the report.

Everything lives under ``<storage_path>/<name>/``: ``<name>-proxy/`` (stage 1, with ``surrogate.json`` and
``proposals.yaml`` from stage 2) and ``<name>-target/`` (stage 3). ``two_stage.json`` there keeps the config and
which stages have ended; running the same YAML again resumes at the first unfinished stage, and each stage's
sweep resumes its own trials.
"""
from __future__ import annotations

import copy
import json
from typing import Any, Callable

from ftlib import storage
from ftlib.config import load_yaml, validate
from ftlib.errors import ConfigError
from ftlib.io import json_bytes
from sweeps.config import SweepConfig, TwoStageSweep, objective_tasks

STATE = "two_stage.json"
PROPOSALS = "proposals.yaml"


def is_two_stage(path: str) -> bool:
    data = load_yaml(path)
    return isinstance(data, dict) and "two_stage" in data


def load_two_stage(path: str, name: str | None = None, overrides: list[str] | None = None) -> TwoStageSweep:
    from ftlib.train.config import apply_overrides

    data = apply_overrides(load_yaml(path), overrides or [])
    if name:
        data["name"] = name
    if "search" in data:
        raise ConfigError(f"{path}: search: a two-stage sweep sets its own search (two_stage.proxy); remove it")
    spec = validate(TwoStageSweep, data, path)
    if storage.is_uri(spec.resources.storage_path):
        raise ConfigError(f"{path}: resources.storage_path {spec.resources.storage_path!r}: a two-stage sweep "
                          f"writes stage 3's YAML beside stage 1 and reads it back; give a (shared) filesystem path")
    proxy_sweep(spec, where=path)  # the stage 1 sweep, checked as any sweep is (base keys named by their path)
    return anchor(spec)


def anchor(spec: TwoStageSweep) -> TwoStageSweep:
    """Paths absolute, as the saved state keeps them: a resume from anywhere finds the same sweeps."""
    from ftlib.paths import anchor_run

    return spec.model_copy(update={"base": anchor_run(spec.base), "resources": spec.resources.model_copy(
        update={"storage_path": storage.absolute(spec.resources.storage_path)})})


def parent_dir(spec: TwoStageSweep) -> str:
    return storage.join(storage.absolute(spec.resources.storage_path), spec.name)


def _stage_resources(spec: TwoStageSweep) -> dict[str, Any]:
    return {**spec.resources.model_dump(mode="json"), "storage_path": parent_dir(spec)}


def proxy_sweep(spec: TwoStageSweep, where: str = "two_stage") -> SweepConfig:
    """Stage 1: the base with the proxy's settings, Optuna's QMC (or random) sampler over every pool weight."""
    from ftlib.train.config import set_path
    from sweeps.driver import check_base

    proxy = spec.two_stage.proxy
    base = copy.deepcopy(spec.base)
    for path, value in proxy.set.items():
        set_path(base, path, value)
    sweep = validate(SweepConfig, {
        "name": f"{spec.name}-proxy", "base": base, "pool": spec.pool,
        "search": {"optuna": {"sampler": proxy.sampler, "num_samples": proxy.trials, "weights": spec.pool,
                              "seed": proxy.seed}},
        "objective": spec.objective.model_dump(mode="json"), "resources": _stage_resources(spec),
        "seeds": proxy.seeds or spec.seeds}, where, prefix="two_stage.proxy")
    check_base(sweep, f"{where} (two_stage.proxy.set applied)")
    return sweep


def target_extra(spec: TwoStageSweep) -> dict[str, Any]:
    """What stage 3's YAML takes from the two-stage config rather than from the proxy sweep."""
    return {"name": f"{spec.name}-target", "base": copy.deepcopy(spec.base),
            "scheduler": spec.scheduler.model_dump(mode="json"), "resources": _stage_resources(spec),
            "seeds": list(spec.seeds),
            **({"finalize": spec.finalize.model_dump(mode="json")} if spec.finalize else {}),
            **({"report": spec.report.model_dump(mode="json")} if spec.report else {})}


def _read_state(parent: str) -> dict[str, Any] | None:
    raw = storage.read_bytes(storage.join(parent, STATE))
    return json.loads(raw) if raw else None


def _write_state(parent: str, state: dict[str, Any]) -> None:
    storage.write_bytes(storage.join(parent, STATE), json_bytes(state))


def saved_two_stage(parent: str) -> TwoStageSweep | None:
    state = _read_state(storage.absolute(parent))
    return TwoStageSweep.model_validate(state["config"]) if state else None


def report_dir(exp: str) -> str:
    """A two-stage search's directory stands for its stage 3 sweep, whose report covers the three stages."""
    spec = saved_two_stage(exp)
    return storage.join(storage.absolute(exp), f"{spec.name}-target") if spec else exp


def run_two_stage(spec: TwoStageSweep, address: str | None = None,
                  on_stage: Callable[[str, dict[str, Any]], None] = lambda stage, out: None) -> dict[str, Any]:
    """Runs (or resumes) the stages in order; ``on_stage(stage, result)`` after each, for the CLI's printing.
    Returns the last stage's result, with ``stage`` saying which one it is (an unfinished stage 1 stops here)."""
    from sweeps.driver import changed_keys, check_storage, load_sweep, run_sweep
    from sweeps.proposals import propose_sweep

    parent = parent_dir(spec)
    check_storage(parent)
    config = spec.model_dump(mode="json")
    state = _read_state(parent) or {"config": config, "ended": []}
    if state["config"] != config:
        raise ConfigError(f"{parent} holds a different two-stage sweep named {spec.name!r} (changed: "
                          f"{', '.join(sorted(changed_keys(state['config'], config)))}); give this one another "
                          f"name (--name NAME) or remove that directory")
    _write_state(parent, state)
    proxy = proxy_sweep(spec)
    proxy_exp = storage.join(parent, proxy.name)
    if "proxy" not in state["ended"]:
        out = run_sweep(proxy, address)
        on_stage("proxy", out)
        if out["unfinished"]:
            return {**out, "stage": "proxy"}
        state["ended"].append("proxy")
        _write_state(parent, state)
    yaml_path = storage.join(proxy_exp, PROPOSALS)
    if "propose" not in state["ended"]:
        p = spec.two_stage.propose
        out = propose_sweep(proxy_exp, p.target, p.top, p.constraints, yaml_path, model=None, samples=p.samples,
                            seed=p.seed, baselines=p.baselines, extra=target_extra(spec))
        on_stage("propose", out)
        state["ended"].append("propose")
        _write_state(parent, state)
    out = run_sweep(load_sweep(yaml_path), address)
    on_stage("target", out)
    return {**out, "stage": "target"}


def dry_run(spec: TwoStageSweep, clusters=()) -> dict[str, Any]:
    """Stage 1 as it will run, and a stand-in for stage 3, whose mixtures are known only after stage 2: the
    proposals (counted as the pool at equal weights) and the baselines."""
    from sweeps.driver import run_sweep
    from sweeps.proposals import baseline_mixtures

    p = spec.two_stage.propose
    mixtures = [{t: 1.0 for t in spec.pool}] * p.top
    if p.baselines:
        mixtures += baseline_mixtures(spec.pool, objective_tasks(spec.pool, spec.objective))
    target = validate(SweepConfig, {**spec.model_dump(mode="json", exclude={"two_stage"}), **target_extra(spec),
                                    "search": {"grid": {"design": "explicit", "mixtures": mixtures}}},
                      "two_stage (stage 3 stand-in)")
    return {"proxy": run_sweep(proxy_sweep(spec), dry=True, clusters=clusters),
            "target": run_sweep(target, dry=True, clusters=clusters)}
