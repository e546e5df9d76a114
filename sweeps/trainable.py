"""The Tune function trainable: builds and fits the trial's TorchTrainer (the Ray Train V2 pattern inside
Tune), forwards per-step reports to Tune (ASHA sees them), then reports the validation objective."""
from __future__ import annotations

import json
from typing import Any

from ftlib import storage
from sweeps.config import SweepConfig
from sweeps.space import build_run_config

TRIALS = "trials"
VALIDATION = "validation"  # a run's objective scoring: predictions.parquet, scores.parquet


def seeds_of(sweep: SweepConfig, point: dict[str, Any]) -> list[int]:
    """Grid points carry their seed; an Optuna point runs once per sweep seed (the objective is their mean)."""
    return [point["seed"]] if "seed" in point else list(sweep.seeds)


def run_ids(sweep: SweepConfig, point: dict[str, Any], experiment_dir: str) -> list[str]:
    trials_dir = storage.join(experiment_dir, TRIALS)
    return [build_run_config(sweep, {**point, "seed": s}, trials_dir).run_id() for s in seeds_of(sweep, point)]


def make_trainable(sweep: SweepConfig, experiment_dir: str):
    sweep_data = sweep.model_dump(mode="json")
    trials_dir = storage.join(storage.absolute(experiment_dir), TRIALS)

    def trainable(config: dict[str, Any]) -> None:
        import ray.tune

        from ftlib.train.trial import run_trial, stale_tasks
        from sweeps.objective import evaluate_objective, stored_objective
        from sweeps.stop_signal import report_callback, with_objective_loss

        sweep_ = SweepConfig.model_validate(sweep_data)
        point = config["point"]
        per_seed, final = [], {}
        for seed in seeds_of(sweep_, point):
            cfg = build_run_config(sweep_, {**point, "seed": seed}, trials_dir)
            done = storage.read_bytes(storage.join(trials_dir, cfg.run_id(), "trial.json"))
            # The same config already finished on the same data (a resumed sweep, a repeated point): reuse it.
            # One trained on data since re-prepared is trained again, from scratch.
            stale = done is not None and bool(stale_tasks(json.loads(done), cfg))
            done = None if stale else done
            trial = json.loads(done) if done is not None else run_trial(
                cfg, callbacks=[report_callback(sweep_.objective_tasks())], fresh=stale)
            final = trial["final_metrics"]
            validation = storage.join(trials_dir, cfg.run_id(), VALIDATION)
            # A finished run's objective is read back, not scored again (resume, finalize's replicates).
            scores = (stored_objective(sweep_, validation) if done is not None else None) or \
                evaluate_objective(sweep_, cfg, trial["model_dir"], validation)
            per_seed.append({"run_id": cfg.run_id(), "config_hash": cfg.config_hash(), **scores,
                             **{k: v for k, v in with_objective_loss(final, sweep_.objective_tasks()).items()
                                if k.startswith("val_loss")}})
        keys = [k for k in per_seed[0] if k not in ("run_id", "config_hash")]
        report = {k: sum(s[k] for s in per_seed) / len(per_seed) for k in keys}
        report.update(run_ids=[s["run_id"] for s in per_seed], config_hash=per_seed[0]["config_hash"],
                      per_seed=json.dumps(per_seed), step=final.get("step", 0), objective_done=True)
        ray.tune.report(report)

    return trainable
