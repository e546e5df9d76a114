"""From a sweep YAML to a checked, anchored config: one loader for plain sweeps and two-stage searches, with every
error named by its YAML path (``smoke.yaml: base.optim.lrr: unknown key (did you mean lr?)``). A two-stage YAML
is loaded into the stage sweeps it runs: stage 1's proxy sweep and what stage 3's YAML takes from it."""
from __future__ import annotations

import copy
import json
import os
from typing import Any

from ftlib.core import storage
from ftlib.core.configs import load_config, load_yaml, set_path, validate
from ftlib.core.errors import ConfigError
from ftlib.models.locate import anchor_model
from ftlib.run.anchor import anchor_run
from ftlib.run.config import RunConfig
from sweeps.config import SweepConfig, TwoStageSweep
from sweeps.layout import proxy_name, target_name
from sweeps.propose.design import face_design


def _named(name: str | None):
    return lambda data: {**data, "name": name} if name else data


def load_sweep(path: str, name: str | None = None, overrides: list[str] | None = None) -> SweepConfig:
    sweep = load_config(SweepConfig, path, overrides or [], edit=_named(name))
    check_base(sweep, path)
    return sweep


def check_base(sweep: SweepConfig, where: str) -> None:
    """``base`` as a run config, errors named by their YAML path. The sweep sets the mixture's sources; a
    stand-in takes their place here."""
    base = json.loads(json.dumps(sweep.base))
    mixture = base.get("mixture") if isinstance(base.get("mixture"), dict) else {}
    stand_in = {"weight": 1.0} if mixture.get("budget") is not None else {"rows": "all"}
    base["mixture"] = {**mixture, "sources": {sweep.pool[0]: stand_in}}
    validate(RunConfig, base, where, prefix="base")


def anchor_sweep(sweep: SweepConfig) -> SweepConfig:
    """A sweep with its base run config, models, recipe and storage path absolute."""
    update: dict[str, Any] = {"base": anchor_run(sweep.base),
                              "resources": sweep.resources.model_copy(
                                  update={"storage_path": storage.absolute(sweep.resources.storage_path)})}
    if sweep.models:
        update["models"] = [anchor_model(m) for m in sweep.models]
    grid = sweep.search.grid
    if grid is not None and grid.recipe:
        update["search"] = sweep.search.model_copy(
            update={"grid": grid.model_copy(update={"recipe": os.path.abspath(grid.recipe)})})
    return sweep.model_copy(update=update)


def is_two_stage(path: str) -> bool:
    data = load_yaml(path)
    return isinstance(data, dict) and "two_stage" in data


def load_two_stage(path: str, name: str | None = None, overrides: list[str] | None = None) -> TwoStageSweep:
    def edit(data: dict[str, Any]) -> dict[str, Any]:
        if "search" in data:
            raise ConfigError(f"{path}: search: a two-stage sweep sets its own search (two_stage.proxy); remove it")
        return _named(name)(data)

    spec = load_config(TwoStageSweep, path, overrides or [], edit=edit)
    if storage.is_uri(spec.resources.storage_path):
        raise ConfigError(f"{path}: resources.storage_path {spec.resources.storage_path!r}: a two-stage sweep "
                          f"writes stage 3's YAML beside stage 1 and reads it back; give a (shared) filesystem path")
    proxy_sweep(spec, where=path)  # the stage 1 sweep, checked as any sweep is (base keys named by their path)
    return anchor_two_stage(spec)


def anchor_two_stage(spec: TwoStageSweep) -> TwoStageSweep:
    """Paths absolute, as the saved state keeps them: a resume from anywhere finds the same sweeps."""
    return spec.model_copy(update={"base": anchor_run(spec.base), "resources": spec.resources.model_copy(
        update={"storage_path": storage.absolute(spec.resources.storage_path)})})


def parent_dir(spec: TwoStageSweep) -> str:
    return storage.join(storage.absolute(spec.resources.storage_path), spec.name)


def _stage_resources(spec: TwoStageSweep) -> dict[str, Any]:
    return {**spec.resources.model_dump(mode="json"), "storage_path": parent_dir(spec)}


def proxy_sweep(spec: TwoStageSweep, where: str = "two_stage") -> SweepConfig:
    """Stage 1: the base with the proxy's settings; its mixtures the face-covering design (an explicit grid), or
    Optuna's QMC (or random) sampler over every pool weight."""
    proxy = spec.two_stage.proxy
    base = copy.deepcopy(spec.base)
    for path, value in proxy.set.items():
        set_path(base, path, value)
    if proxy.sampler == "faces":
        design = face_design(proxy.trials, len(spec.pool), proxy.seed)
        shares = [{t: round(float(w), 4) for t, w in zip(spec.pool, row)} for row in design]
        search = {"grid": {"design": "explicit", "mixtures": [{t: w for t, w in m.items() if w > 0} for m in shares]}}
    else:
        search = {"optuna": {"sampler": proxy.sampler, "num_samples": proxy.trials, "weights": spec.pool,
                             "seed": proxy.seed}}
    sweep = validate(SweepConfig, {
        "name": proxy_name(spec.name), "base": base, "pool": spec.pool, "search": search,
        "objective": spec.objective.model_dump(mode="json"), "resources": _stage_resources(spec),
        "seeds": proxy.seeds or spec.seeds}, where, prefix="two_stage.proxy")
    check_base(sweep, f"{where} (two_stage.proxy.set applied)")
    return sweep


def target_extra(spec: TwoStageSweep) -> dict[str, Any]:
    """What stage 3's YAML takes from the two-stage config rather than from the proxy sweep."""
    return {"name": target_name(spec.name), "base": copy.deepcopy(spec.base),
            "scheduler": spec.scheduler.model_dump(mode="json"), "resources": _stage_resources(spec),
            "seeds": list(spec.seeds),
            **({"finalize": spec.finalize.model_dump(mode="json")} if spec.finalize else {}),
            **({"report": spec.report.model_dump(mode="json")} if spec.report else {})}
