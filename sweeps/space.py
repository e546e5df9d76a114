"""From a sweep to trial points: grid designs (explicit, or the study's 55-run ablation) and the Optuna
define-by-run space. A point is what differs between trials: mixture sources, run-config params, seed,
model; ``build_run_config`` turns one into a full ``RunConfig``. And the counts that follow from them: trials,
runs, reports."""
from __future__ import annotations

import copy
import itertools
import math
from typing import Any

from ftlib.core.configs import get_path, load_yaml, set_path, validate
from ftlib.core.errors import ConfigError
from ftlib.core.hashing import canonical_hash
from ftlib.run.config import RunConfig
from ftlib.run.executor import Executor, executor_of
from sweeps.config import SweepConfig
from sweeps.layout import runs_dir


def build_run_config(sweep: SweepConfig, point: dict[str, Any], trials_dir: str) -> RunConfig:
    data = copy.deepcopy(sweep.base)
    data.setdefault("mixture", {})
    data["mixture"] = {**data["mixture"], "sources": point["sources"], "seed": point["seed"]}
    for path, value in point.get("params", {}).items():
        set_path(data, path, value)
    if point.get("model"):
        set_path(data, "model.name", point["model"])
    # Every run measures the validation loss of every pool source, in the mixture or not: how a mixture moves
    # general ability (OpenOrca's perplexity) is read from runs that never trained on it; and of every objective
    # task, which ASHA's default signal averages.
    data.setdefault("eval_tasks", sorted({*sweep.pool, *sweep.objective_tasks()}))
    data.update(name=sweep.name, seed=point["seed"], output_dir=trials_dir)
    return validate(RunConfig, data, f"sweep {sweep.name!r} trial point {point}")


def point_key(point: dict[str, Any]) -> str:
    """A configuration without its seed: the runs that replicate it over seeds share this key."""
    return canonical_hash({"sources": point.get("sources", {}), "params": point.get("params", {}),
                           "model": point.get("model")})


def grid_points(sweep: SweepConfig) -> list[dict[str, Any]]:
    grid = sweep.search.grid
    if grid.design == "paper_ablation" or (grid.design == "subsets" and grid.recipe):
        designs = ablation_designs(sweep)
    elif grid.design == "subsets":
        designs = [({t: {"weight": 1.0} for t in subset}, {}) for subset in subsets(sweep.pool, grid.sizes)]
    else:
        if not grid.mixtures:
            raise ConfigError("search.grid.mixtures: the explicit design needs at least one mixture")
        designs = [({t: {"weight": w} for t, w in m.items()}, {}) for m in grid.mixtures]
    names = list(grid.params)
    combos = list(itertools.product(*(grid.params[n] for n in names))) or [()]
    points = []
    for model in sweep.models or [None]:
        for sources, params in designs:
            for combo in combos:
                for seed in sweep.seeds:
                    points.append({"sources": sources, "params": {**params, **dict(zip(names, combo))},
                                   "seed": seed, "model": model})
    return points


def subsets(pool: list[str], sizes: list[int]) -> list[tuple[str, ...]]:
    """Every subset of the pool of each size (0: the pool, -k: the pool's size less k), each once, in order."""
    n = len(pool)
    resolved = sorted({s if s > 0 else n + s for s in sizes})
    bad = [s for s in sizes if not 0 < (s if s > 0 else n + s) <= n]
    if bad:
        raise ConfigError(f"search.grid.sizes {bad}: with a pool of {n} sources a size is 1..{n}, 0 (all) or "
                          f"-1..-{n - 1} (all but k)")
    return [c for size in resolved for c in itertools.combinations(pool, size)]


def ablation_designs(sweep: SweepConfig) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    grid = sweep.search.grid
    if not grid.recipe:
        raise ConfigError("search.grid.recipe: the paper_ablation design needs the study's recipe YAML")
    recipe = load_yaml(grid.recipe)
    sources = recipe.get("sources") if isinstance(recipe, dict) else None
    if not isinstance(sources, dict):
        raise ConfigError(f"{grid.recipe}: expected a mixture recipe with sources: (task -> rows or cap)")
    missing = [t for t in sweep.pool if t not in sources]
    if missing:
        raise ConfigError(f"{grid.recipe}: no recipe for pool tasks {missing}")
    designs = []
    for subset in subsets(sweep.pool, grid.sizes):
        designs.append(({t: sources[t] for t in subset}, _epochs(grid, len(subset))))
    if grid.compute_matched:
        designs += compute_matched_controls(sweep, sources, designs)
    return designs


def _epochs(grid, sources: int) -> dict[str, Any]:
    """The study: 3 epochs when a mix has <= 3 datasets, else 2 epochs with 10 warmup steps."""
    if not grid.epochs_rule:
        return {}
    return {"epochs": 3} if sources <= 3 else {"epochs": 2, "optim.warmup_steps": 10}


def compute_matched_controls(sweep: SweepConfig, sources: dict[str, Any], designs) -> list[tuple[dict, dict]]:
    """Target i alone, trained on as many examples as the pair (i, j) is (more epochs over i's own rows), for each
    objective target i and pair of the design; sizes from the recipe's caps."""
    size = {t: recipe_rows(sources[t]) for t in sweep.pool}
    base_epochs = get_path(sweep.base, "epochs", RunConfig.model_fields["epochs"].default)
    out, seen = [], set()
    for mixture, params in designs:
        pair = sorted(mixture)
        for i in (t for t in pair if len(pair) == 2 and t in sweep.objective_tasks()):
            j = next(t for t in pair if t != i)
            if size[i] is None or size[j] is None:
                continue
            per = params.get("epochs", base_epochs)
            epochs = round(per * (size[i] + size[j]) / size[i])
            if epochs > per and (i, epochs) not in seen:
                seen.add((i, epochs))
                out.append(({i: sources[i]}, {**params, "epochs": epochs}))
    return out


def recipe_rows(source: dict[str, Any]) -> int | None:
    """Examples a recipe source gives at most, from its caps alone (None where only the data can tell)."""
    rows = source.get("rows")
    if isinstance(rows, dict) and "sum_of" in rows:
        caps = rows["sum_of"].values()
        return None if None in caps else int(rows.get("scale", 1.0) * sum(caps))
    if isinstance(rows, int):
        return rows if source.get("cap") is None else min(rows, source["cap"])
    return source.get("cap")


def dirichlet_weights(uniforms: dict[str, float]) -> dict[str, float]:
    """Flat Dirichlet from independent uniforms: x_i = -log(u_i), normalised (a uniform point on the simplex).
    Every u at the upper bound 1 (a sampler may propose it: Optuna's GP sampler did) gives equal shares."""
    raw = {t: -math.log(min(max(u, 1e-12), 1 - 1e-12)) for t, u in uniforms.items()}
    total = sum(raw.values())
    return {t: x / total for t, x in raw.items()}


class DefineByRun:
    """The Optuna space as a define-by-run callable (conditionals and the simplex need code, not a dict).
    It returns the point's constants, so the normalised weights are recorded in the trial config.
    A module-level class: Tune pickles the searcher, and with it this space, at every checkpoint."""

    def __init__(self, sweep: SweepConfig):
        self.sweep = sweep

    def __call__(self, trial) -> dict[str, Any]:
        sweep, opt = self.sweep, self.sweep.search.optuna
        included = [t for t in opt.include if trial.suggest_categorical(f"use_{t}", [True, False])]
        if opt.include and not included:
            included = [opt.include[0]]  # an empty mixture is not a trial: keep the first candidate
        active = [t for t in sweep.pool if t not in opt.include] + included
        searched = [t for t in opt.weights if t in active]
        if searched:
            share = dirichlet_weights({t: trial.suggest_float(f"w_{t}", 1e-6, 1.0) for t in searched})
            rest = [t for t in active if t not in searched]
            # Searched tasks split the mass their equal-weight share would have had; the rest keep theirs.
            mass = len(searched) / len(active)
            weights = {**{t: mass * share[t] for t in searched}, **{t: (1 - mass) / len(rest) for t in rest}}
        else:
            weights = {t: 1.0 / len(active) for t in active}
        params: dict[str, Any] = {}
        for path, p in opt.params.items():
            if p.when and any(_value(sweep, params, k) != v for k, v in p.when.items()):
                continue
            if p.type == "categorical":
                params[path] = trial.suggest_categorical(path, p.choices)
            elif p.type == "int":
                params[path] = trial.suggest_int(path, int(p.low), int(p.high), log=p.log,
                                                 step=int(p.step) if p.step else 1)
            else:
                params[path] = trial.suggest_float(path, p.low, p.high, log=p.log, step=p.step)
        return {"point": {"sources": {t: {"weight": w} for t, w in weights.items()}, "params": params}}


def _value(sweep: SweepConfig, sampled: dict[str, Any], path: str) -> Any:
    """A run-config value as this point will have it: sampled, else the base, else RunConfig's default."""
    if path in sampled:
        return sampled[path]
    field = RunConfig.model_fields.get(path)
    return get_path(sweep.base, path, field.default if field else None)


def seeds_of(sweep: SweepConfig, point: dict[str, Any]) -> list[int]:
    """Grid points carry their seed; an Optuna point runs once per sweep seed (the objective is their mean)."""
    return [point["seed"]] if "seed" in point else list(sweep.seeds)


def run_ids(sweep: SweepConfig, point: dict[str, Any], experiment_dir: str) -> list[str]:
    trials_dir = runs_dir(experiment_dir)
    return [build_run_config(sweep, {**point, "seed": s}, trials_dir).run_id() for s in seeds_of(sweep, point)]


def example_points(sweep: SweepConfig) -> list[dict[str, Any]]:
    """The trial points a sweep's checks look at: its grid, or the whole pool at equal weights per seed."""
    if sweep.search.grid is not None:
        return grid_points(sweep)
    return [{"sources": {t: {"weight": 1.0} for t in sweep.pool}, "params": {}, "seed": s} for s in sweep.seeds]


def point_executor(sweep: SweepConfig, point: dict[str, Any]) -> Executor:
    """Where a trial point's runs train (ftlib/run/executor.py), from its first seed's run config."""
    return executor_of(build_run_config(sweep, {**point, "seed": seeds_of(sweep, point)[0]}, "."))


def sweep_executor(sweep: SweepConfig) -> Executor:
    """The executor the sweep's example points share, or ``ray_train`` where any trains through it."""
    found = {point_executor(sweep, p) for p in example_points(sweep)}
    return next(iter(found)) if len(found) == 1 else \
        next((e for e in found if e.name == "ray_train"), Executor("ray_train", "mixed"))


def describe_trials(sweep: SweepConfig) -> str:
    """How the sweep's trials train, for its start line."""
    executor = sweep_executor(sweep)
    where = "in its Tune trial's own process" if executor.name == "tune" else "in a Ray Train V2 worker group"
    return f"each trial trains {where} (executor {executor.name}: {executor.reason})"


def num_trials(sweep: SweepConfig) -> int:
    return len(grid_points(sweep)) if sweep.search.grid is not None else sweep.search.optuna.num_samples


def num_runs(sweep: SweepConfig) -> int:
    """Training runs: a grid point trains one seed, an Optuna trial each of the sweep's seeds."""
    return len(grid_points(sweep)) if sweep.search.grid is not None else \
        sweep.search.optuna.num_samples * len(sweep.seeds)


def max_reports(cfg: RunConfig) -> int:
    """Reports a full run makes (for ASHA's max_t): steps / eval_every, when steps are bounded."""
    steps = cfg.max_steps or 10**6
    return -(-steps // cfg.eval_every)


def reports_per_trial(sweep: SweepConfig, reports_per_run: int, grid: bool) -> int:
    """A grid trial trains one seed; an Optuna trial trains each sweep seed in turn, its reports counted on across
    them: ASHA's max_t must cover them all, or the second seed's reports end every trial "stopped early"."""
    return max(1, reports_per_run) * (1 if grid else len(sweep.seeds))
