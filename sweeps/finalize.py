"""``cocktail sweep finalize DIR``: from a finished sweep to the configurations a study reports, chosen on
validation alone, replicated over seeds and scored on the test split once.

1. **Select** (validation only; ``select`` is never given a test number): per model and target task, the
   target trained alone, the best multi-task configuration that includes the target, the configuration with
   every pool source, and the best by the sweep's objective. Written to ``final/selection.json`` with the
   validation means behind each choice.
2. **Replicate**: every selected configuration runs with each of ``seeds`` seeds, through the same Tune machinery
   as the sweep (a grid of explicit points in ``final/tune-<hash>``); runs that exist are reused by their config
   hash, so finalize resumes where it stopped.
3. **Test once**: each selected (configuration, seed) is scored on the full test split of every target task,
   predictions kept per example under ``final/test/<run id>/``; every scoring goes to ``test_ledger.jsonl``; a
   run already scored on a task is not scored again unless ``retest``.
"""
from __future__ import annotations

import json
import math
from collections import defaultdict
from typing import Any

from ftlib import storage
from ftlib.errors import ConfigError
from ftlib.io import canonical_hash, json_bytes
from sweeps.config import SweepConfig

FINAL = "final"
SELECTION = "selection.json"
ROLES = ("alone", "best_multi", "all_sources", "best_objective")
ROLE_TITLES = {"alone": "target alone", "best_multi": "best multi-task", "all_sources": "all sources",
               "best_objective": "best by objective"}


def active_tasks(row: dict[str, Any]) -> frozenset[str]:
    return frozenset(k[2:] for k, v in row.items() if k.startswith("w_") and v)


def mean_of(values) -> float | None:
    """The mean of the values that are numbers (None and NaN left out), or None."""
    values = [v for v in values if v is not None and not math.isnan(v)]
    return sum(values) / len(values) if values else None


def select(rows: list[dict[str, Any]], pool: list[str], tasks: list[str], mode: str) -> dict[str, Any]:
    """The selection, from validation columns only (``score_<task>``, ``objective``) of completed runs:
    ``{model: {task: {role: {point_key, point, val, seeds, runs}}}}``; a role with no candidate says why."""
    configs: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if r["state"] == "completed":
            configs[r["model"], r["point_key"]].append(r)
    by_model: dict[str, list[list[dict[str, Any]]]] = defaultdict(list)
    for (model, _), runs in sorted(configs.items()):
        by_model[model].append(runs)
    sign = 1 if mode == "max" else -1
    selection: dict[str, Any] = {}
    for model, candidates in by_model.items():
        best_objective = _best(candidates, lambda runs: mean_of(r["objective"] for r in runs), sign)
        selection[model] = {}
        for task in tasks:
            score = _score_of(task)
            with_task = [c for c in candidates if task in active_tasks(c[0])]
            roles = {
                "alone": _best([c for c in with_task if active_tasks(c[0]) == {task}], score, 1),
                "best_multi": _best([c for c in with_task if len(active_tasks(c[0])) > 1], score, 1),
                "all_sources": _best([c for c in candidates if active_tasks(c[0]) == set(pool)], score, 1),
                "best_objective": best_objective,
            }
            selection[model][task] = {role: (_describe(c, score) if c else {"missing": _why(role, task)})
                                      for role, c in roles.items()}
    return selection


def _score_of(task: str):
    return lambda runs: mean_of(r.get(f"score_{task}") for r in runs)


def _best(candidates, value, sign: int):
    # In point-key order, so that a tie goes to the same configuration every time.
    scored = [(v, c) for v, c in sorted(((value(c), c) for c in candidates), key=lambda vc: vc[1][0]["point_key"])
              if v is not None]
    return max(scored, key=lambda vc: sign * vc[0])[1] if scored else None


def _describe(runs: list[dict[str, Any]], score) -> dict[str, Any]:
    return {"point_key": runs[0]["point_key"], "point": json.loads(runs[0]["point"]), "val": score(runs),
            "seeds": sorted(r["seed"] for r in runs), "runs": sorted(r["trial_id"] for r in runs),
            "tasks": sorted(active_tasks(runs[0]))}


def _why(role: str, task: str) -> str:
    return {"alone": f"no completed run trained on {task} alone", "best_multi": f"no completed run mixed {task} "
            f"with other sources", "all_sources": "no completed run with every pool source",
            "best_objective": "no completed run reported the objective"}[role]


def replication_seeds(sweep: SweepConfig, n: int) -> list[int]:
    """The sweep's seeds, then the next integers above them, until there are ``n``."""
    seeds = list(dict.fromkeys(sweep.seeds))[:n]
    nxt = max(seeds) + 1
    while len(seeds) < n:
        seeds.append(nxt)
        nxt += 1
    return seeds


def selected_points(selection: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every selected configuration once, by point key."""
    return {c["point_key"]: c["point"] for tasks in selection.values() for roles in tasks.values()
            for c in roles.values() if "point" in c}


def finalize(exp: str, seeds: int = 3, tasks: list[str] | None = None, retest: bool = False,
             address: str | None = None) -> dict[str, Any]:
    from sweeps.driver import fit_experiment, saved_sweep, set_driver_env
    from sweeps.objective import objective_keys
    from sweeps.results import load_trials

    exp = storage.absolute(exp)
    sweep = saved_sweep(exp)
    rows = load_trials(exp)
    if not rows:
        raise ConfigError(f"{exp}: no trials.parquet yet; finish the sweep first (`cocktail sweep resume {exp}`)")
    targets = tasks or sweep.objective_tasks()
    unknown = sorted(set(targets) - set(sweep.objective_tasks()) - set(sweep.pool))
    if unknown:
        raise ConfigError(f"--tasks {unknown}: not tasks of sweep {sweep.name!r} (pool {sweep.pool})")
    if seeds < 1:
        raise ConfigError(f"--seeds {seeds}: expected at least 1")
    selection = select(rows, sweep.pool, targets, sweep.objective.modes[0])
    seed_list = replication_seeds(sweep, seeds)
    final = storage.join(exp, FINAL)
    points = [{**p, "seed": s} for p in selected_points(selection).values() for s in seed_list]
    if not points:
        raise ConfigError(f"{exp}: no completed run to select from")
    storage.write_bytes(storage.join(final, SELECTION), json_bytes({
        "sweep": sweep.name, "tasks": targets, "seeds": seed_list, "selected_on": "validation",
        "objective": objective_keys(sweep)[0], "mode": sweep.objective.modes[0], "selection": selection}))

    from ftlib.raysession import ensure_ray

    set_driver_env()
    ensure_ray(address)
    tune_dir = f"{FINAL}/tune-{canonical_hash(points, 8)}"
    import ray.tune

    replicate = sweep.model_copy(update={"scheduler": sweep.scheduler.model_copy(update={"kind": "none"})})
    restore = ray.tune.Tuner.can_restore(storage.join(exp, tune_dir))
    reruns = fit_experiment(replicate, exp, objective_keys(sweep), _concurrency(replicate, points),
                            points=points, tune_dir=tune_dir, restore=restore)
    if reruns["unfinished"]:
        return {**reruns, "selection": selection, "tested": []}
    tested = score_test(sweep, exp, reruns["rows"], targets, retest)
    return {**reruns, "selection": selection, "tested": tested, "seeds": seed_list}


def _concurrency(sweep: SweepConfig, points: list[dict[str, Any]]) -> int:
    from sweeps.capacity import alive_nodes, autoscaler_node_types
    from sweeps.driver import trials_at_once
    from sweeps.space import build_run_config

    types = autoscaler_node_types()
    return min(len(points), trials_at_once(sweep, build_run_config(sweep, points[0], ""), alive_nodes(), types,
                                           bool(types)))


def score_test(sweep: SweepConfig, exp: str, rows: list[dict[str, Any]], tasks: list[str],
               retest: bool) -> list[dict[str, Any]]:
    """Each completed rerun on the full test split of every target task, once (the ledger decides)."""
    from evaluation.harness import evaluate
    from evaluation.ledger import LEDGER, TestLedger
    from evaluation.run import write_results
    from sweeps.objective import backend_for

    ledger = TestLedger(storage.join(exp, LEDGER))
    tested = []
    for row in rows:
        if row["state"] != "completed":
            continue
        todo = [t for t in tasks if retest or not ledger.scored(row["config_hash"], t)]
        if not todo:
            continue
        cfg = json.loads(row["run_config"])
        model_dir = storage.join(exp, "trials", row["trial_id"], "model")
        backend = backend_for(cfg["use_gpu"], model_dir, cfg["model"].get("trust_remote_code", False))
        results = evaluate(backend, todo, data_dir=cfg["data"]["dir"], split="test", mode=sweep.objective.eval_mode,
                           style=cfg["data"]["style"])
        out = storage.join(exp, FINAL, "test", row["trial_id"])
        write_results(out, results, "test", row["config_hash"])
        for r in results:
            ledger.record(row["config_hash"], r.task, n=r.n, out=out, retest=retest, run_id=row["trial_id"],
                          seed=row["seed"], point_key=row["point_key"])
            tested.append({"run_id": row["trial_id"], "task": r.task, "n": r.n})
    return tested
