"""The sweep driver interrupted (SIGINT to its process group, as Ctrl-C sends it) and, once resumed, killed
(SIGKILL to its process group): each stop is clean (no process of it left), and `cocktail sweep resume` finishes
the sweep with no trial lost, duplicated or rerun; the Optuna study holds each finished trial once. The last
resume runs on a copy of the sweep directory, which must use its own study, not the original's; a damaged Tune
state is refused, not silently started over. The sweep tracks to a real MLflow server: one run per trial
however often the driver stopped, the report's files in the sweep's parent run, and no secret anywhere in it."""
import os
import shutil
import signal
from pathlib import Path

import optuna
import pytest
from mlflow.tracking import MlflowClient

from tests.faults.helpers import (cli_env, finished_trials, mlflow_server, process_group_alive, run_cli, start_cli,
                                  sweep_yaml, tree, trials_table, wait_for)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]
SAMPLES = 5


def _stop_after(args, env, log: Path, exp: Path, finished: int, sig: int, status: bool = False
                ) -> tuple[int, dict[str, int]]:
    """Starts the command, sends ``sig`` to its process group once ``finished`` trials have ended; returns its
    exit code and the trials finished by then (run id -> trial.json mtime). ``status``: first, `sweep status`
    reads the running sweep."""
    driver = start_cli(args, env, log)
    try:
        wait_for(lambda: len(finished_trials(exp)) >= finished, f"{finished} finished trial(s)", 600, driver)
        if status:
            live = run_cli(["sweep", "status", str(exp)], env, timeout=120)
            assert live.returncode == 0 and "completed" in live.stdout, live.stdout[-2000:] + live.stderr[-2000:]
            # A second driver into the same directory is refused, naming the first; the first runs on.
            second = run_cli(args, env, timeout=120)
            assert second.returncode == 2 and f"pid {driver.pid} " in second.stderr, second.stderr[-2000:]
            assert driver.poll() is None
        os.killpg(driver.pid, sig)
        rc = driver.wait(timeout=120)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
            driver.wait()
    wait_for(lambda: not process_group_alive(driver.pid), "every process of the stopped sweep gone", 60)
    return rc, {p.parent.name: p.stat().st_mtime_ns for p in finished_trials(exp)}


TOKEN = "MARKERmlflowtoken0123"  # the server ignores it; it must reach no param, tag, artifact or output


@pytest.fixture
def tracking_server(tmp_path):
    root = tmp_path / "mlflow"
    root.mkdir()
    with mlflow_server(root) as url:
        yield url


def test_ctrl_c_then_a_killed_driver_then_resume(prepared, tiny_model, tmp_path, tracking_server):
    env = cli_env(Path(tiny_model).parent, MLFLOW_TRACKING_TOKEN=TOKEN)
    # Trials of ~15 s (160 steps, a report every 40): the sweep must still run while `sweep status` and a second
    # driver look at it, after its first trial has ended (trials of 12 steps end before those two commands do).
    config = sweep_yaml(tmp_path, "stops", prepared, samples=SAMPLES, asha=False, epochs=30, max_steps=160,
                        eval_every=40, tracking={"mlflow": {"tracking_uri": tracking_server}})
    exp = tmp_path / "sweeps" / "stops"
    rc, first = _stop_after(["sweep", "run", str(config)], env, tmp_path / "run.log", exp, 1, signal.SIGINT,
                            status=True)
    log = (tmp_path / "run.log").read_text()
    assert rc == 130 and "cocktail sweep resume" in log, log[-3000:]
    rc, second = _stop_after(["sweep", "resume", str(exp)], env, tmp_path / "resume.log", exp, len(first) + 1,
                             signal.SIGKILL)
    assert rc == -signal.SIGKILL and {k: second[k] for k in first} == first  # the first stop's trials kept
    original, exp = exp, tmp_path / "moved" / "stops"
    shutil.copytree(original, exp)
    original_study = (original / "optuna.db").read_bytes()
    resumed = run_cli(["sweep", "resume", str(exp)], env, timeout=900)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-3000:]
    assert (original / "optuna.db").read_bytes() == original_study  # the copy resumed into its own study
    rows = trials_table(exp)
    assert len(rows) == SAMPLES and len({r["trial_id"] for r in rows}) == SAMPLES  # none lost, none duplicated
    assert all(r["state"] == "completed" for r in rows)
    final = {p.parent.name: p.stat().st_mtime_ns for p in finished_trials(exp)}
    assert len(final) == SAMPLES and {k: final[k] for k in second} == second  # finished trials were not rerun
    study = optuna.load_study(study_name="stops", storage=f"sqlite:///{exp / 'optuna.db'}")
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == SAMPLES and len({tuple(sorted(t.params.items())) for t in complete}) == SAMPLES
    _one_tracked_run_per_trial(tracking_server, exp, env, tmp_path)
    # A copy whose Optuna study is damaged: refused in one line; neither the copy nor the original study changes.
    original_trials = len(optuna.load_study(study_name="stops", storage=f"sqlite:///{exp / 'optuna.db'}").trials)
    study_bytes = (exp / "optuna.db").read_bytes()
    damaged_copy = tmp_path / "damaged" / "stops"
    shutil.copytree(exp, damaged_copy)
    (damaged_copy / "optuna.db").write_bytes(study_bytes[: len(study_bytes) // 3])
    copy_tree = tree(damaged_copy)
    refused = run_cli(["sweep", "resume", str(damaged_copy)], env, timeout=300)
    assert refused.returncode == 2 and "optuna.db" in refused.stderr, refused.stderr[-2000:]
    assert tree(damaged_copy) == copy_tree and (exp / "optuna.db").read_bytes() == study_bytes
    assert len(optuna.load_study(study_name="stops", storage=f"sqlite:///{exp / 'optuna.db'}").trials) == \
        original_trials
    # A report written onto the sweep itself is refused; the sweep's files stay as they were.
    sweep_tree = tree(exp)
    onto = run_cli(["report", str(exp), "--out", str(exp)], env, timeout=300)
    assert onto.returncode == 2 and "--out" in onto.stderr and tree(exp) == sweep_tree, onto.stderr[-2000:]
    # A truncated experiment state: resume refuses, and the table and the study stay as they were.
    state = max((exp / "tune").glob("experiment_state-*.json"))
    state.write_bytes(state.read_bytes()[: state.stat().st_size // 2])
    table, db = (exp / "trials.parquet").read_bytes(), (exp / "optuna.db").read_bytes()
    damaged = run_cli(["sweep", "resume", str(exp)], env, timeout=300)
    assert damaged.returncode == 2 and "nothing was changed" in damaged.stderr, damaged.stderr[-2000:]
    assert (exp / "trials.parquet").read_bytes() == table and (exp / "optuna.db").read_bytes() == db


def _one_tracked_run_per_trial(url: str, exp: Path, env: dict, tmp_path: Path) -> None:
    """After a Ctrl-C, a kill and a resume of a copy: MLflow holds one finished run per trial, with the trial's
    point, hash and fingerprint as params and per-report metric histories; the report adds its files to the
    sweep's parent run; the token is nowhere in the tracker."""
    client = MlflowClient(url)
    experiment = client.get_experiment_by_name("stops").experiment_id
    trials = [r for r in client.search_runs([experiment]) if "trial_name" in r.data.tags]
    names = sorted(r.data.tags["trial_name"] for r in trials)
    assert len(trials) == SAMPLES and len(set(names)) == SAMPLES, names  # none duplicated by the stops
    table = trials_table(exp)
    assert set(names) == {r["trial_id"] for r in table}  # a trial is named by its run (one seed)
    by_name = {r["trial_id"]: r for r in table}
    for run in trials:
        params, row = run.data.params, by_name[run.data.tags["trial_name"]]
        assert run.info.status == "FINISHED", run.info
        assert float(params["optim.lr"]) == row["param_optim.lr"] and params["config_hash"] == row["config_hash"]
        assert len(params["data_fingerprint"]) == 12 and any(k.startswith("mixture.") for k in params)
        # A train-loss point per Tune report of training, at Tune's iteration, none skipped (160 steps, a report
        # every 40: 4 points when nothing was cut off). A report the kill cut off between Ray Train's checkpoint and the
        # callback is in neither Tune's stream nor here; a trial restarted after its training ended reports only its
        # objective, again from iteration 1 (seen: one such trial's iterations 1, 1, 2, 3, 4).
        steps = {m.step for m in client.get_metric_history(run.info.run_id, "train_loss")}
        assert len(steps) >= 2 and steps == set(range(1, max(steps) + 1)), steps
        assert run.data.metrics["mean_financial"] == pytest.approx(row["objective"])
    report = run_cli(["report", str(exp), "--out", str(tmp_path / "report")], env, timeout=300)
    assert report.returncode == 0, report.stderr[-2000:]
    parents = [r for r in client.search_runs([experiment]) if r.data.tags.get("cocktail.study") == "stops"]
    assert len(parents) == 1
    artifacts = client.download_artifacts(parents[0].info.run_id, "", str(tmp_path / "tracked"))
    assert {"index.html", "summary.md"} <= {p.name for p in Path(artifacts).iterdir()}
    texts = [str(r.data.params) + str(r.data.tags) for r in client.search_runs([experiment])]
    texts += [p.read_text(errors="replace") for p in Path(artifacts).rglob("*") if p.is_file()]
    assert not [t for t in texts if TOKEN in t] and TOKEN not in report.stdout + report.stderr
