"""The Tune function trainable: trains each seed of its point through the run's executor (the loop in this very
process, or a Ray Train V2 TorchTrainer fitted from it), forwards per-step reports to Tune (ASHA sees them), then
reports the validation objective. Its resources are the worker's when the loop runs here, else a byte of memory
(the worker group holds the CPUs and GPUs)."""
from __future__ import annotations

import json
import time
from typing import Any

import ray.tune
from ray.train._internal.session import get_session

from ftlib.core import storage
from ftlib.core.hashing import canonical_hash
from ftlib.run.config import RunConfig
from ftlib.run.executor import executor_of
from ftlib.run.files import TRIAL_FILE
from ftlib.train.trainer import run_trial
from ftlib.train.trial import finished_trial
from sweeps.config import SweepConfig
from sweeps.layout import RUNS, VALIDATION
from sweeps.objective import stored_objective, with_objective_loss
from sweeps.space import build_run_config, seeds_of
from sweeps.tune.schedule import trial_reports
from sweeps.tune.scoring import evaluate_objective


def make_trainable(sweep: SweepConfig, experiment_dir: str):
    sweep_data = sweep.model_dump(mode="json")
    trials_dir = storage.join(storage.absolute(experiment_dir), RUNS)

    def trainable(config: dict[str, Any]) -> None:
        sweep_ = SweepConfig.model_validate(sweep_data)
        per_seed = [run_seed(sweep_, config["point"], seed, trials_dir)
                    for seed in seeds_of(sweep_, config["point"])]
        keys = [k for k in per_seed[0] if k not in ("run_id", "config_hash", "data_fingerprint", "final", "executor")]
        report = {k: sum(s[k] for s in per_seed) / len(per_seed) for k in keys}
        report.update(run_ids=[s["run_id"] for s in per_seed], config_hash=per_seed[0]["config_hash"],
                      data_fingerprint=per_seed[0]["data_fingerprint"],
                      per_seed=json.dumps([{k: v for k, v in s.items() if k != "final"} for s in per_seed]),
                      step=per_seed[-1]["final"].get("step", 0), objective_done=True)
        if any(s["executor"] == "ray_train" for s in per_seed):
            wait_for_train_reports()
        ray.tune.report(report)

    return trainable


def trial_resources(sweep: SweepConfig, experiment_dir: str):
    """Tune's resource request for a trial: what its run's one worker needs when the loop runs in the trial's own
    process, else one byte of memory. A trial that only drives a worker group reserves no CPU fraction: 0.01 CPU
    left 0.99 of a 1-CPU node, where no 1-CPU Ray Data task or Train worker could ever be placed (a deadlock seen
    on a 2-node cluster); Tune refuses an empty request."""
    sweep_data = sweep.model_dump(mode="json")
    trials_dir = storage.join(storage.absolute(experiment_dir), RUNS)

    def resources(config: dict[str, Any]) -> ray.tune.PlacementGroupFactory:
        sweep_, point = SweepConfig.model_validate(sweep_data), config["point"]
        cfg = build_run_config(sweep_, {**point, "seed": seeds_of(sweep_, point)[0]}, trials_dir)
        bundle = worker_bundle(cfg) if executor_of(cfg).name == "tune" else {"CPU": 0, "memory": 1}
        return ray.tune.PlacementGroupFactory([bundle])

    return resources


def worker_bundle(cfg: RunConfig) -> dict[str, float]:
    return {**cfg.worker_resources, "CPU": cfg.cpus_per_worker, "GPU": 1 if cfg.use_gpu else 0}


def wait_for_train_reports(timeout_s: float = 60.0) -> None:
    """Ray's TuneReportCallback hands each Train report to this trial's main thread through a one-slot actor
    queue, and ``fit`` can return before the main thread has taken the last one. A report of our own made then
    fills the thread queue that the main thread, holding that last item, waits to put into: both block for good
    (seen: a sweep hung on its last trial, py-spy showing both threads in ``Queue.put``). So the final report
    waits until the hand-over queue is empty, and a moment more for the main thread to pass its item on."""
    queue = get_session()._inter_actor_queue
    deadline = time.monotonic() + timeout_s
    while queue is not None and not queue.empty() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)


def run_seed(sweep: SweepConfig, point: dict[str, Any], seed: int, trials_dir: str) -> dict[str, Any]:
    """One seed of a trial: trained (or its finished run reused), its objective scored (or read back)."""
    cfg = build_run_config(sweep, {**point, "seed": seed}, trials_dir)
    # The same config already finished on the same data (a resumed sweep, a repeated point): reuse it. One trained
    # on data since re-prepared is trained again, from scratch.
    done, stale = finished_trial(cfg, storage.join(trials_dir, cfg.run_id(), TRIAL_FILE))
    trial = done or run_trial(cfg, trial_reports(sweep.objective_tasks()), fresh=bool(stale), here=True)
    final = trial["final_metrics"]
    validation = storage.join(trials_dir, cfg.run_id(), VALIDATION)
    # A finished run's objective is read back, not scored again (resume, finalize's replicates).
    scores = (stored_objective(sweep, validation) if done is not None else None) or \
        evaluate_objective(sweep, cfg, trial["model_dir"], validation, executor_of(cfg).name == "tune")
    return {"run_id": cfg.run_id(), "config_hash": cfg.config_hash(), "executor": executor_of(cfg).name,
            "data_fingerprint": canonical_hash(trial.get("data_fingerprint")), **scores,
            **{k: v for k, v in with_objective_loss(final, sweep.objective_tasks()).items() if k.startswith("val_loss")},
            "final": final}
