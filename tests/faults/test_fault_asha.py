"""ASHA stops trials where Ray's placement-group cleaner cannot work: with a second Ray instance on the host,
and on a cluster started without the dashboard (there: the shipped smoke preset). Each sweep must finish, every
trial once, every stopped trial's workers released, and checkpoints bounded on disk. The first also runs with secrets in the
environment, and none may reach a file: outputs, config dumps, W&B's run files, or the logs of the run's Ray session;
it tracks to W&B offline, one run per trial. The second tracks to MLflow's default store and opens
`cocktail dashboard` on the finished sweep: each viewer answers, and Ctrl-C leaves no process of it."""
import json
import os
import re
import shutil
import signal
import tempfile
import urllib.request
from pathlib import Path

import psutil
import pyarrow.parquet as pq
import pytest
import yaml
from mlflow.tracking import MlflowClient

from ftlib.core.configs import validate
from ftlib.data.plan import make_plan
from ftlib.run.config import RunConfig

from tests.faults.helpers import (checkpoint_bytes, cli_env, ray_head, run_cli, start_cli, sweep_yaml, trials_table,
                                  wait_for, wandb_runs)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]
SAMPLES = 4


def _assert_finished(exp, result, keep: int = 2):
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    rows = trials_table(exp)
    states = [r["state"] for r in rows]
    assert len(rows) == SAMPLES and len({r["trial_id"] for r in rows}) == SAMPLES, states
    assert states.count("errored") == 0 and states.count("stopped_early") >= 1, states
    assert states.count("completed") >= 1, states
    # Disk stays bounded: each trial keeps at most keep_checkpoints checkpoints.
    total, largest, most = checkpoint_bytes(exp)
    assert most <= keep and total <= SAMPLES * keep * largest


SECRETS = {"HF_TOKEN": "hf_MARKERhftoken0123", "AWS_SECRET_ACCESS_KEY": "MARKERawssecret0123",
           "RAY_AUTH_TOKEN": "MARKERraytoken0123", "WANDB_API_KEY": "MARKERwandbkey0123456789012345678901234"}


def _files_holding(roots, markers) -> list[str]:
    found = []
    for root in roots:
        for path in Path(root).rglob("*"):
            if path.is_file() and not path.is_socket():
                data = path.read_bytes()
                found += [f"{path}: {name}" for name, value in markers.items() if value.encode() in data]
    return found


def test_asha_with_a_second_ray_on_the_host_and_secrets_set(prepared, tiny_model, tmp_path):
    ray_tmp = tempfile.mkdtemp(prefix="rs", dir="/tmp")  # this run's Ray session: logs, runtime envs
    env = cli_env(Path(tiny_model).parent, RAY_TMPDIR=ray_tmp, **SECRETS)
    config = sweep_yaml(tmp_path, "second-ray", prepared,
                        tracking={"wandb": {"project": "cocktail-test", "mode": "offline"}})
    try:
        with ray_head(6391, dashboard=False, cpus=1):  # another sweep, a notebook, a test run ...
            result = run_cli(["sweep", "run", str(config)], env, timeout=900)
        assert "started a new local instance" in result.stderr  # not joined to the other Ray
        _assert_finished(tmp_path / "sweeps" / "second-ray", result)
        _one_wandb_run_per_trial(tmp_path / "sweeps" / "second-ray")
        # A single trial and a submission check, under the same environment.
        run = {"name": "secret-run", "model": {"name": "tiny-phi3"}, "mixture": {"sources": {"fpb": {"weight": 1}},
               "budget": 64}, "data": {"dir": str(prepared), "seq_len": 128, "val_examples": 4}, "max_steps": 2,
               "eval_every": 1, "output_dir": str(tmp_path / "runs"),
               "tracking": {"mlflow": {}, "wandb": {"project": "cocktail-test", "mode": "offline"}}}
        (tmp_path / "run.yaml").write_text(yaml.safe_dump(run))
        train = run_cli(["train", str(tmp_path / "run.yaml")], env, timeout=600)
        assert train.returncode == 0, train.stderr[-3000:]
        _one_tracked_run(tmp_path / "runs")
        submit = run_cli(["submit", "sweeps/smoke.yaml", "--address", "http://127.0.0.1:9", "--dry-run", "--set",
                          "resources.storage_path=s3://bucket/sweeps", "--set", "base.data.dir=/mnt/data"], env, 120)
        assert submit.returncode == 0, submit.stderr
        outputs = [result.stdout + result.stderr, train.stdout + train.stderr, submit.stdout + submit.stderr]
        assert not [name for name, v in SECRETS.items() for text in outputs if v in text]
        assert not _files_holding([tmp_path, ray_tmp], SECRETS)
        assert list(Path(ray_tmp).rglob("session_*/logs/*.log"))  # the session's logs were there to search
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)


def _one_tracked_run(runs: Path) -> None:
    """`cocktail train` with both trackers: one MLflow run (SQLite beside the runs) and one W&B run, each with the
    run's params and a point per report."""
    client = MlflowClient(f"sqlite:///{runs / 'mlflow.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name("secret-run").experiment_id])
    assert run.info.status == "FINISHED" and run.data.params["mixture.fpb.weight"] == "1.0"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "train_loss")] == [1, 2]
    (wandb_run,) = wandb_runs(runs / "wandb").values()
    assert "config_hash" in wandb_run["config"] and sum("train_loss" in h for h in wandb_run["history"]) == 2


def _one_wandb_run_per_trial(exp: Path) -> None:
    runs, rows = wandb_runs(exp / "wandb"), trials_table(exp)
    assert set(runs) == {r["tune_trial_id"] for r in rows} and all(r["files"] == 1 for r in runs.values())
    for row in rows:
        run = runs[row["tune_trial_id"]]
        assert "point" in run["config"] and any("train_loss" in h for h in run["history"])
        if row["state"] == "completed":  # the final report: the objective, and the hash and fingerprint
            assert {"config_hash", "data_fingerprint"} <= run["config"]
            assert any("mean_financial" in h for h in run["history"])


def test_the_smoke_preset_on_a_cluster_without_the_dashboard(prepared, tiny_model, tmp_path):
    """`sweeps/smoke.yaml` as shipped (Optuna + ASHA, 6 trials), joined to a `ray start` cluster with no dashboard:
    it finishes, its tidy table is right, status and the report read it."""
    env = cli_env(Path(tiny_model).parent)
    exp = tmp_path / "sweeps" / "smoke"
    with ray_head(6392, dashboard=False) as address:
        result = run_cli(["sweep", "run", "sweeps/smoke.yaml", "--address", address, "--set",
                          f"base.data.dir={prepared}", "--set", f"resources.storage_path={tmp_path / 'sweeps'}",
                          "--set", "tracking={mlflow: {}}"], env, timeout=900)
    assert f"joined the cluster at {address}" in result.stderr
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    rows = trials_table(exp)
    states = [r["state"] for r in rows]
    assert len(rows) == 6 and len({r["trial_id"] for r in rows}) == 6 and states.count("errored") == 0
    assert states.count("completed") >= 1 and states.count("stopped_early") >= 1  # ASHA stopped some
    total, largest, most = checkpoint_bytes(exp)
    assert most <= 2 and total <= len(rows) * 2 * largest  # disk bounded: keep_checkpoints (2) per trial
    # TensorBoard (installed with cocktail) reads each trial's per-step signal from Tune's event files.
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = sorted((exp / "tune").rglob("events.out.tfevents.*"))
    assert events and any("ray/tune/val_loss_objective" in EventAccumulator(str(e)).Reload().Tags()["scalars"]
                          for e in events)
    # Every trial ended for good (completed or stopped): its checkpoints keep their weights, not optimizer state.
    checkpoints = [c for c in (exp / "trials").glob("*/checkpoint_*") if c.is_dir()]
    assert checkpoints and all((c / "model").is_dir() and not (c / "state").exists() for c in checkpoints)
    pool = ["fpb", "twitter_sentiment", "headline", "orca_math"]
    for r in rows:  # the tidy table: realized shares per pool task, scores and losses as flat columns
        assert sum(r[f"w_{t}"] for t in pool) == pytest.approx(1)
        assert sum(r[f"rows_{t}"] for t in pool) == json.loads(r["run_config"])["mixture"]["budget"]
        assert isinstance(r["param_optim.lr"], float) and r["param_method"] in ("full", "lora")
        assert r["val_loss_fpb"] is not None and r["steps"] > 0
        if r["state"] == "completed":
            targets = ("fpb", "twitter_sentiment", "headline")
            assert r["objective"] == pytest.approx(sum(r[f"score_{t}"] for t in targets) / 3)
            predictions = pq.read_table(exp / "trials" / r["trial_id"] / "validation" / "predictions.parquet")
            assert set(predictions.column("task").to_pylist()) == set(targets)
    best = max((r for r in rows if r["state"] == "completed"), key=lambda r: r["objective"])
    first = result.stdout.split("leaderboard")[1].splitlines()[3]  # after the title, header and rule
    assert first.startswith("1 ") and f"{best['objective']:.4f}" in first  # the best tops the leaderboard
    cfg = validate(RunConfig, json.loads(best["run_config"]), "row")  # the best config, rebuilt from its row
    trial = json.loads((exp / "trials" / cfg.run_id() / "trial.json").read_text())
    assert cfg.config_hash() == best["config_hash"] == trial["config_hash"]
    assert make_plan(cfg.mixture, prepared).hash == trial["plan_hash"]
    # Data and the embedded model were made once, by the driver: no trial has an outputs/ of its own.
    assert not list((exp / "tune").glob("*/outputs"))
    assert os.path.isabs(cfg.model.name) and os.path.isabs(cfg.data.dir)
    status = run_cli(["sweep", "status", str(exp)], env, timeout=300)
    assert f"{states.count('completed')} completed" in status.stdout
    assert f"{states.count('stopped_early')} stopped_early" in status.stdout
    # The report reads an Optuna sweep before finalize: the search is drawn, the test sections say what is missing.
    report = run_cli(["report", str(exp), "--resamples", "100"], env, timeout=300)
    assert report.returncode == 0, report.stderr[-2000:]
    summary = (exp / "report" / "summary.md").read_text()
    assert "Not computed: no selection yet: `cocktail sweep finalize" in summary
    search = summary.split("## 8. The search")[1].split("## 9")[0]
    assert "Not computed" not in search
    _dashboard_serves_and_stops(exp, env, tmp_path)


def _dashboard_serves_and_stops(exp: Path, env: dict, tmp_path: Path) -> None:
    """`cocktail dashboard` on the finished sweep: Optuna's API names the study, TensorBoard and the MLflow UI
    answer (MLflow's API names the experiment), and Ctrl-C stops every process it started."""
    log = tmp_path / "dashboard.log"
    dashboard = start_cli(["dashboard", str(exp)], env, log)
    try:
        wait_for(lambda: "Ctrl-C stops them all" in log.read_text(), "the dashboard's viewers up", 180, dashboard)
        urls = dict(re.findall(r"\[dashboard\] (Optuna|TensorBoard|MLflow): (http://127\.0\.0\.1:\d+/\S*)",
                               log.read_text()))
        assert set(urls) == {"Optuna", "TensorBoard", "MLflow"}, log.read_text()
        for url in urls.values():
            assert urllib.request.urlopen(url, timeout=30).status == 200
        root = urls["Optuna"].removesuffix("dashboard")
        studies = json.loads(urllib.request.urlopen(f"{root}api/studies", timeout=30).read())
        assert [s["study_name"] for s in studies["study_summaries"]] == ["smoke"]
        experiments = urllib.request.urlopen(f"{urls['MLflow']}ajax-api/2.0/mlflow/experiments/search?max_results=10",
                                             timeout=30).read().decode()
        assert '"smoke"' in experiments
        viewers = psutil.Process(dashboard.pid).children(recursive=True)
        assert len(viewers) >= 3
        os.killpg(dashboard.pid, signal.SIGINT)  # Ctrl-C in the dashboard's terminal
        assert dashboard.wait(timeout=60) == 0
    finally:
        if dashboard.poll() is None:
            os.killpg(dashboard.pid, signal.SIGKILL)
    gone, alive = psutil.wait_procs(viewers, timeout=30)
    assert not alive, [p.pid for p in alive]
    assert "[dashboard] stopped" in log.read_text()
