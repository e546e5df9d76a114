"""A training process killed (SIGKILL) mid-trial, under each executor: a Ray Train worker (the worker group
restarts it), and a trial's own process (the ``tune`` executor: Tune retries the trial). Either way the trial
continues from its last checkpoint (steps go on, not over) and finishes; the sweep records each trial once."""
import json
import threading
import time

import psutil
import pyarrow.parquet as pq
import pytest

from ftlib.core.configs import validate
from sweeps.config import SweepConfig
from sweeps.driver import run_sweep

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]


def _grid_sweep(name: str, prepared, tiny_model, tmp_path, mixtures: list[dict], max_concurrent_trials=None,
                **base) -> SweepConfig:
    """Full fine-tuning for 40 steps, a checkpoint every 10, over the given mixtures (one trial each)."""
    return validate(SweepConfig, {
        "name": name, "pool": ["fpb", "twitter_sentiment"],
        "base": {"model": {"name": tiny_model}, "method": "full", "mixture": {"budget": 2400},
                 "data": {"dir": str(prepared), "seq_len": 256, "val_examples": 16}, "micro_batch_size": 4,
                 "max_steps": 40, "eval_every": 10, **base},
        "search": {"grid": {"mixtures": mixtures}}, "objective": {"limit": 8, "eval_mode": "score"},
        "resources": {"storage_path": str(tmp_path / "sweeps"), "max_concurrent_trials": max_concurrent_trials}},
        name)


def _run_killing(sweep: SweepConfig, trials_dir, process: str) -> tuple[dict, list[int]]:
    """Runs the sweep while a thread kills (SIGKILL) the first process named ``process`` after a checkpoint."""
    done, killed = threading.Event(), []
    killer = threading.Thread(target=_kill_after_first_checkpoint, args=(trials_dir, done, killed, process))
    killer.start()
    try:
        return run_sweep(sweep), killed
    finally:
        done.set()
        killer.join()


def _kill_after_first_checkpoint(trials_dir, done: threading.Event, killed: list, process: str):
    while not done.is_set():
        if [c for c in trials_dir.glob("*/checkpoint_*") if c.is_dir()]:
            for proc in psutil.process_iter(["cmdline"]):
                if any(process in part for part in (proc.info["cmdline"] or [])):
                    proc.kill()
                    killed.append(proc.pid)
                    return
        time.sleep(0.2)


def test_killed_worker_resumes_from_checkpoint_and_finishes(prepared, tiny_model, tmp_path, ray_session):
    sweep = _grid_sweep("worker-kill", prepared, tiny_model, tmp_path, [{"fpb": 0.5, "twitter_sentiment": 0.5}],
                        num_workers=2, max_failures=2)
    trials_dir = tmp_path / "sweeps" / "worker-kill" / "trials"
    out, killed = _run_killing(sweep, trials_dir, "RayTrainWorker")
    assert killed, "no worker was killed"
    rows = pq.read_table(out["trials_file"]).to_pylist()
    assert len(rows) == 1 and rows[0]["state"] == "completed"
    trial = json.loads((trials_dir / rows[0]["trial_id"] / "trial.json").read_text())
    steps = [h["step"] for h in trial["history"]]
    assert steps[-1] == 40 and trial["steps"] == 40
    # Continued from a checkpoint: a restart from step 0 would report some step twice.
    assert len(steps) == len(set(steps)) and set(steps) <= {10, 20, 30, 40}
    # The token count goes on from the checkpoint too: it stays proportional to the steps.
    tokens = [h["tokens"] for h in trial["history"]]
    assert abs(tokens[-1] / tokens[0] - steps[-1] / steps[0]) < 0.5, (steps, tokens)
    assert (trials_dir / rows[0]["trial_id"] / "model" / "model.safetensors").exists()


def test_killed_trial_process_is_retried_from_its_checkpoint(prepared, tiny_model, tmp_path, ray_session):
    """The tune executor: the loop runs in the trial's own process. Killed mid-step after its first checkpoint,
    the trial is retried by Tune (one retry counted), resumes at that checkpoint and finishes; the other trial is
    untouched: 2 trials, 0 lost, 0 duplicated, 1 rerun."""
    from ray.tune import ExperimentAnalysis

    sweep = _grid_sweep("trial-kill", prepared, tiny_model, tmp_path, [{"fpb": 0.5, "twitter_sentiment": 0.5},
                                                                       {"fpb": 1.0}], max_concurrent_trials=1)
    exp = tmp_path / "sweeps" / "trial-kill"
    out, killed = _run_killing(sweep, exp / "trials", "ImplicitFunc.train")  # the process that is training
    assert len(killed) == 1, killed
    rows = pq.read_table(out["trials_file"]).to_pylist()
    assert len(rows) == 2 and len({r["trial_id"] for r in rows}) == 2 and {r["state"] for r in rows} == {"completed"}
    failures = sorted(t.num_failures for t in ExperimentAnalysis(str(exp / "tune")).trials)
    assert failures == [0, 1], failures  # exactly one trial rerun, once
    for row in rows:
        trial = json.loads((exp / "trials" / row["trial_id"] / "trial.json").read_text())
        assert trial["executor"] == "tune"
        steps = [h["step"] for h in trial["history"]]
        assert steps == [10, 20, 30, 40], steps  # continued: a restart from step 0 would report a step twice
        tokens = [h["tokens"] for h in trial["history"]]
        assert abs(tokens[-1] / tokens[0] - 4) < 0.5, tokens
