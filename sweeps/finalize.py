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
from typing import Any

import ray.tune

from evaluation.harness import evaluate
from evaluation.ledger import TestLedger
from evaluation.outputs import write_results
from ftlib.core import storage
from ftlib.core.encode import json_bytes
from ftlib.core.errors import ConfigError
from ftlib.placement.nodes import alive_nodes, autoscaler_node_types
from ftlib.placement.session import ensure_ray
from ftlib.tasks.catalog import resolve_tasks
from sweeps.config import SweepConfig
from sweeps.layout import (
    ledger_file,
    rerun_tune_dir,
    run_model,
    selection_file,
    test_dir,
    tune_path,
    untuned_dir,
    untuned_key,
)
from sweeps.lock import driver_lock
from sweeps.objective import objective_keys
from sweeps.preflight.checks import trials_at_once
from sweeps.selection import replication_seeds, select, selected_points
from sweeps.space import build_run_config, point_key
from sweeps.tracking import log_study
from sweeps.trial_table import load_trials
from sweeps.tune.env import set_driver_env
from sweeps.tune.experiment import fit_experiment, saved_sweep
from sweeps.tune.scoring import backend_for


def finalize(exp: str, seeds: int = 3, tasks: list[str] | None = None, retest: bool = False,
             address: str | None = None) -> dict[str, Any]:
    if tasks is not None:
        resolve_tasks(tasks)
    exp = storage.absolute(exp)
    sweep = saved_sweep(exp)
    rows = load_trials(exp)
    if not rows:
        raise ConfigError(f"{exp}: no trials.parquet yet; finish the sweep first (`cocktail sweep resume {exp}`)")
    # Default: the tasks the sweep's own `finalize:` names (the verb then does what `sweep run` did), else the
    # objective's tasks.
    targets = tasks or (sweep.finalize.tasks if sweep.finalize and sweep.finalize.tasks else sweep.objective_tasks())
    unknown = sorted(set(targets) - set(sweep.objective_tasks()) - set(sweep.pool))
    if unknown:
        raise ConfigError(f"--tasks {unknown}: not tasks of sweep {sweep.name!r} (pool {sweep.pool})")
    if seeds < 1:
        raise ConfigError(f"--seeds {seeds}: expected at least 1")
    with driver_lock(exp):
        return _finalize(sweep, exp, rows, targets, seeds, retest, address)


def _finalize(sweep: SweepConfig, exp: str, rows: list[dict[str, Any]], targets: list[str], seeds: int,
              retest: bool, address: str | None) -> dict[str, Any]:
    selection = select(rows, sweep.pool, targets, sweep.objective.modes[0])
    seed_list = replication_seeds(sweep, seeds)
    points = [{**p, "seed": s} for p in selected_points(selection).values() for s in seed_list]
    if not points:
        raise ConfigError(f"{exp}: no completed run to select from")
    storage.write_bytes(selection_file(exp), json_bytes({
        "sweep": sweep.name, "tasks": targets, "seeds": seed_list, "selected_on": "validation",
        "objective": objective_keys(sweep)[0], "mode": sweep.objective.modes[0], "selection": selection}))
    print(f"[finalize] {len(points)} runs: {len(points) // len(seed_list)} selected configuration(s) × fresh seeds "
          f"{seed_list} (never the seed that selected them), about {_tokens(rows, points):,} training tokens",
          flush=True)
    set_driver_env()
    ensure_ray(address)
    tune_dir = rerun_tune_dir(points)
    replicate = sweep.model_copy(update={"scheduler": sweep.scheduler.model_copy(update={"kind": "none"})})
    reruns = fit_experiment(replicate, exp, objective_keys(sweep), _concurrency(replicate, points),
                            points=points, tune_dir=tune_dir,
                            restore=ray.tune.Tuner.can_restore(tune_path(exp, tune_dir)))
    if reruns["unfinished"]:
        return {**reruns, "selection": selection, "tested": []}
    tested = score_test(sweep, exp, reruns["rows"], targets, retest)
    tested += score_untuned(sweep, exp, reruns["rows"], targets, retest)
    log_study(sweep, exp)
    return {**reruns, "selection": selection, "tested": tested, "seeds": seed_list}


def _tokens(rows: list[dict[str, Any]], points: list[dict[str, Any]]) -> int:
    """What the reruns train: each selected configuration's tokens in the sweep, once per fresh seed."""
    tokens = {r["point_key"]: r.get("tokens") or 0 for r in rows if r["state"] == "completed"}
    return int(sum(tokens.get(point_key(p), 0) for p in points))


def _concurrency(sweep: SweepConfig, points: list[dict[str, Any]]) -> int:
    types = autoscaler_node_types()
    return min(len(points), trials_at_once(sweep, build_run_config(sweep, points[0], ""), alive_nodes(), types,
                                           bool(types)))


def score_test(sweep: SweepConfig, exp: str, rows: list[dict[str, Any]], tasks: list[str],
               retest: bool) -> list[dict[str, Any]]:
    """Each completed rerun on the full test split of every target task, once (the ledger decides)."""
    ledger = TestLedger(ledger_file(exp))
    tested = []
    for row in rows:
        if row["state"] != "completed":
            continue
        todo = [t for t in tasks if retest or not ledger.scored(row["config_hash"], t)]
        if not todo:
            continue
        cfg = json.loads(row["run_config"])
        model_dir = run_model(exp, row["trial_id"])
        backend = backend_for(cfg["use_gpu"], model_dir, cfg["model"].get("trust_remote_code", False))
        results = evaluate(backend, todo, data_dir=cfg["data"]["dir"], split="test", mode=sweep.objective.eval_mode,
                           style=cfg["data"]["style"])
        out = test_dir(exp, row["trial_id"])
        write_results(out, results, "test", row["config_hash"])
        for r in results:
            ledger.record(row["config_hash"], r.task, n=r.n, out=out, retest=retest, run_id=row["trial_id"],
                          seed=row["seed"], point_key=row["point_key"])
            tested.append({"run_id": row["trial_id"], "task": r.task, "n": r.n})
    return tested


def score_untuned(sweep: SweepConfig, exp: str, rows: list[dict[str, Any]], tasks: list[str],
                  retest: bool) -> list[dict[str, Any]]:
    """Each base model, untuned, on the same test splits: the arm fine-tuning is measured against (the report's
    section 6). Scored once, on the ledger under ``untuned:<model>``."""
    ledger = TestLedger(ledger_file(exp))
    tested = []
    for model in sorted({r["model"] for r in rows if r["state"] == "completed"}):
        cfg = json.loads(next(r["run_config"] for r in rows if r["model"] == model and r["state"] == "completed"))
        key = untuned_key(model)
        todo = [t for t in tasks if retest or not ledger.scored(key, t)]
        if not todo:
            continue
        backend = backend_for(cfg["use_gpu"], model, cfg["model"].get("trust_remote_code", False))
        results = evaluate(backend, todo, data_dir=cfg["data"]["dir"], split="test", mode=sweep.objective.eval_mode,
                           style=cfg["data"]["style"])
        out = untuned_dir(exp, model)
        write_results(out, results, "test", key)
        for r in results:
            ledger.record(key, r.task, n=r.n, out=out, retest=retest, run_id=key, model=model)
            tested.append({"run_id": key, "task": r.task, "n": r.n})
    return tested
