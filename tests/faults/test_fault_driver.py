"""The sweep driver killed (SIGKILL to its process group) or interrupted (SIGINT, as Ctrl-C sends it) mid-sweep:
`cocktail sweep resume` finishes it with no trial lost, duplicated or rerun, and the Optuna study holds each
finished trial once."""
import os
import signal
from pathlib import Path

import optuna
import pytest

from tests.faults.helpers import (cli_env, finished_trials, process_group_alive, run_cli, start_cli, sweep_yaml,
                                  trials_table, wait_for)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]
SAMPLES = 4


def _interrupt_then_resume(prepared, tiny_model, tmp_path, name: str, sig: int):
    env = cli_env(Path(tiny_model).parent)
    config = sweep_yaml(tmp_path, name, prepared, samples=SAMPLES, asha=False)
    exp = tmp_path / "sweeps" / name
    driver = start_cli(["sweep", "run", str(config)], env, tmp_path / "run.log")
    try:
        wait_for(lambda: finished_trials(exp), "a finished trial", 600, driver)
        os.killpg(driver.pid, sig)
        rc = driver.wait(timeout=120)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
            driver.wait()
    before = {p.parent.name: p.stat().st_mtime_ns for p in finished_trials(exp)}
    assert before, "no trial finished before the signal"
    wait_for(lambda: not process_group_alive(driver.pid), "every process of the stopped sweep gone", 60)
    resumed = run_cli(["sweep", "resume", str(exp)], env, timeout=900)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-3000:]
    rows = trials_table(exp)
    assert len(rows) == SAMPLES and len({r["trial_id"] for r in rows}) == SAMPLES  # none lost, none duplicated
    assert all(r["state"] == "completed" for r in rows)
    after = {p.parent.name: p.stat().st_mtime_ns for p in finished_trials(exp)}
    assert len(after) == SAMPLES
    assert {k: after[k] for k in before} == before  # trials finished before the signal were not run again
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{exp / 'optuna.db'}")
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == SAMPLES and len({tuple(sorted(t.params.items())) for t in complete}) == SAMPLES
    return rc, (tmp_path / "run.log").read_text()


def test_killed_driver_resumes_with_every_trial_counted_once(prepared, tiny_model, tmp_path):
    _interrupt_then_resume(prepared, tiny_model, tmp_path, "killed", signal.SIGKILL)


def test_ctrl_c_exits_cleanly_and_resumes(prepared, tiny_model, tmp_path):
    rc, log = _interrupt_then_resume(prepared, tiny_model, tmp_path, "ctrl-c", signal.SIGINT)
    assert rc == 130, log[-3000:]
    assert "cocktail sweep resume" in log
