"""``cocktail sweep run / resume``: check everything, prepare data once, run Tune (+ Optuna, ASHA); or go on with
a sweep after a driver crash or Ctrl-C."""
from __future__ import annotations

import contextlib
import os
from typing import Any, Sequence

from ftlib.core import storage
from ftlib.core.encode import json_bytes
from ftlib.placement.fit import check_trial_memory, trial_bundles
from ftlib.placement.nodes import alive_nodes, autoscaler_node_types, on_kuberay, requested
from ftlib.placement.session import ensure_ray
from sweeps.config import SweepConfig
from sweeps.layout import experiment_dir, optuna_url, sweep_file
from sweeps.load import anchor_sweep
from sweeps.lock import check_sweep_dir
from sweeps.objective import objective_keys
from sweeps.preflight.checks import check_planned_resources, check_storage, check_sweep, trials_at_once
from sweeps.preflight.disk import check_disk
from sweeps.preflight.dry_run import dry_run_plans
from sweeps.preflight.listing import describe_executor, listing
from sweeps.space import describe_trials, grid_points, max_reports, num_runs, num_trials
from sweeps.tune.env import set_driver_env
from sweeps.tune.experiment import check_tune_state, fit_experiment, same_sweep_ran, saved_sweep
from sweeps.tune.schedule import describe_stopping
from sweeps.tune.search import FinalObjectiveOptunaSearch


def run_sweep(sweep: SweepConfig, address: str | None = None, dry: bool = False,
              clusters: Sequence[str] = ()) -> dict[str, Any]:
    sweep = anchor_sweep(sweep)
    exp = experiment_dir(sweep)
    if not storage.is_uri(exp):
        check_sweep_dir(exp)
    check_storage(exp)
    if not dry and same_sweep_ran(sweep, exp):
        print(f"[sweep] {exp} holds this same sweep: resuming it (finished trials are kept)", flush=True)
        return resume_sweep(exp, address)
    checked, configs = check_sweep(sweep, exp, dry, clusters)
    keys = objective_keys(sweep)
    if not dry and address is None and not os.environ.get("RAY_ADDRESS"):
        check_planned_resources(sweep, checked.cfg, clusters)  # the local Ray will be this machine
    if dry:
        return {"dry_run": listing(configs) if sweep.search.grid else
                {"space": "optuna", "num_samples": sweep.search.optuna.num_samples,
                 "executor": describe_executor(configs[0])},
                **dry_run_plans(sweep, configs, clusters)}
    set_driver_env()
    ensure_ray(address, include_dashboard=True)
    node_types = autoscaler_node_types()
    check_trial_memory(checked.cfg, sorted({c.model.name for c in configs}), [*alive_nodes(), *node_types],
                       sweep.resources.multi_node_trials, where="sweep: ")
    autoscaling = bool(node_types) or on_kuberay()
    concurrent = min(trials_at_once(sweep, checked.cfg, alive_nodes(), node_types, autoscaling), num_trials(sweep))
    check_disk(sweep, checked.cfg, num_runs(sweep), concurrent)
    storage.write_bytes(sweep_file(exp), json_bytes(sweep.model_dump(mode="json")))
    print(f"[sweep] {describe_trials(sweep)}", flush=True)
    if sweep.scheduler.kind != "none":
        print(f"[sweep] {describe_stopping(sweep)}", flush=True)
    points = grid_points(sweep) if sweep.search.grid is not None else None
    with requested(trial_bundles(checked.cfg) * concurrent) if autoscaling else contextlib.nullcontext():
        return fit_experiment(sweep, exp, keys, concurrent, points=points, max_reports=max_reports(configs[0]))


def resume_sweep(exp: str, address: str | None = None) -> dict[str, Any]:
    exp = storage.absolute(exp)
    sweep = saved_sweep(exp)
    check_tune_state(exp)
    # The study of this directory, wherever the sweep first ran (a copied or moved directory resumes its own).
    FinalObjectiveOptunaSearch.relocate_storage = optuna_url(sweep, exp)
    set_driver_env()
    ensure_ray(address, include_dashboard=True)
    return fit_experiment(sweep, exp, objective_keys(sweep), 0, restore=True)
