"""A two-stage search as one sweep (after RegMix): stage 1 trains many cheap proxy trials on space-filling random
mixtures of the whole pool; stage 2 fits the mixture surrogates on them and proposes the best mixtures; stage 3
runs the proposals (and baselines) at target scale, then finalize and the report.

Everything lives under ``<storage_path>/<name>/`` (sweeps/layout.py): ``<name>-proxy/`` (stage 1, with ``surrogate.json`` and
``proposals.yaml`` from stage 2) and ``<name>-target/`` (stage 3). ``two_stage.json`` there keeps the config and
which stages have ended; running the same YAML again resumes at the first unfinished stage, and each stage's
sweep resumes its own trials.
"""
from __future__ import annotations

from typing import Any, Callable

from ftlib.core import storage
from ftlib.core.configs import changed_keys, validate
from ftlib.core.encode import json_bytes
from ftlib.core.errors import ConfigError
from sweeps.config import SweepConfig, TwoStageSweep, objective_tasks
from sweeps.driver import run_sweep
from sweeps.layout import proposals_file, two_stage_file
from sweeps.load import load_sweep, parent_dir, proxy_sweep, target_extra
from sweeps.preflight.checks import check_storage
from sweeps.propose.propose import baseline_mixtures, propose_sweep
from sweeps.saved import two_stage_state


def _write_state(parent: str, state: dict[str, Any]) -> None:
    storage.write_bytes(two_stage_file(parent), json_bytes(state))


def run_two_stage(spec: TwoStageSweep, address: str | None = None,
                  on_stage: Callable[[str, dict[str, Any]], None] = lambda stage, out: None) -> dict[str, Any]:
    """Runs (or resumes) the stages in order; ``on_stage(stage, result)`` after each, for the CLI's printing.
    Returns the last stage's result, with ``stage`` saying which one it is (an unfinished stage 1 stops here)."""
    parent = parent_dir(spec)
    check_storage(parent)
    config = spec.model_dump(mode="json")
    state = two_stage_state(parent) or {"config": config, "ended": []}
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
    yaml_path = proposals_file(proxy_exp)
    if "propose" not in state["ended"]:
        p = spec.two_stage.propose
        out = propose_sweep(proxy_exp, p.target, p.top, p.constraints, yaml_path, model=None, samples=p.samples,
                            seed=p.seed, baselines=p.baselines, extra=target_extra(spec),
                            acquisition=p.acquisition)
        on_stage("propose", out)
        state["ended"].append("propose")
        _write_state(parent, state)
    out = run_sweep(load_sweep(yaml_path), address)
    on_stage("target", out)
    return {**out, "stage": "target"}


def plan_two_stage(spec: TwoStageSweep, clusters=()) -> dict[str, Any]:
    """Stage 1 as it will run, and a stand-in for stage 3, whose mixtures are known only after stage 2: the
    proposals (counted as the pool at equal weights) and the baselines."""
    p = spec.two_stage.propose
    mixtures = [{t: 1.0 for t in spec.pool}] * p.top
    if p.baselines:
        mixtures += baseline_mixtures(spec.pool, objective_tasks(spec.pool, spec.objective))
    target = validate(SweepConfig, {**spec.model_dump(mode="json", exclude={"two_stage"}), **target_extra(spec),
                                    "search": {"grid": {"design": "explicit", "mixtures": mixtures}}},
                      "two_stage (stage 3 stand-in)")
    return {"proxy": run_sweep(proxy_sweep(spec), dry=True, clusters=clusters),
            "target": run_sweep(target, dry=True, clusters=clusters)}
