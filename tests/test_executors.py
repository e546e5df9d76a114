"""One loop, two executors: a one-worker run trains the same steps to the same losses in a Ray Train V2 worker
group and in the process that runs it (the ``tune`` executor), leaves the same checkpoint layout, and each
executor resumes what the other left."""
import json

import pytest

from ftlib.core.configs import validate
from ftlib.core.errors import ConfigError
from ftlib.run.config import RunConfig
from ftlib.run.executor import executor_of
from ftlib.train.kept_checkpoints import SNAPSHOT
from ftlib.train.trainer import run_trial

pytestmark = pytest.mark.slow

SENTIMENT = {"sources": {"fpb": {"weight": 0.5}, "twitter_sentiment": {"weight": 0.5}}, "budget": 600, "seed": 1}


def config(prepared, tiny_model, tmp_path, executor, **kw):
    base = {"name": "eq", "model": {"name": tiny_model}, "mixture": SENTIMENT,
            "data": {"dir": str(prepared), "seq_len": 256, "val_examples": 8},
            "optim": {"lr": 3e-3, "warmup_steps": 2}, "micro_batch_size": 4, "num_workers": 1, "eval_every": 2,
            "max_steps": 6, "keep_checkpoints": 2, "train": {"executor": executor},
            "output_dir": str(tmp_path / executor)}
    return validate(RunConfig, {**base, **kw}, "test")


@pytest.mark.parametrize("method", ["lora", "full"])
def test_both_executors_train_the_same_losses(prepared, tiny_model, tmp_path, ray_session, method):
    extra = {"method": method, **({"lora": {"r": 8, "alpha": 16, "dropout": 0.0}} if method == "lora" else {})}
    train = run_trial(config(prepared, tiny_model, tmp_path, "ray_train", **extra))
    here = run_trial(config(prepared, tiny_model, tmp_path, "tune", **extra))
    assert train["executor"] == "ray_train" and here["executor"] == "tune"
    assert train["config_hash"] == here["config_hash"]  # the executor is not part of what a run is
    assert [h["step"] for h in here["history"]] == [h["step"] for h in train["history"]] == [2, 4, 6]
    for a, b in zip(train["history"], here["history"]):
        for key in ("train_loss", "val_loss", "val_loss_fpb", "tokens", "lr"):
            assert b[key] == pytest.approx(a[key], abs=1e-6), key
    # The same layout: the snapshot (Ray's schema) lists the kept checkpoints, each with model/ and state/.
    for trial, executor in ((train, "ray_train"), (here, "tune")):
        run = tmp_path / executor / trial["run_id"]
        snapshot = json.loads((run / SNAPSHOT).read_text())
        kept = sorted(r["checkpoint_dir_name"] for r in snapshot["checkpoint_results"])
        assert kept == sorted(p.name for p in run.glob("checkpoint_*") if p.is_dir()) and len(kept) == 2
        assert snapshot["latest_checkpoint_result"]["metrics"]["step"] == 6
        for name in kept:
            assert (run / name / "model").is_dir() and (run / name / "state" / "trainer.json").exists()
        assert trial["best_checkpoint"].rsplit("/", 1)[-1] in kept


def test_each_executor_resumes_what_the_other_left(prepared, tiny_model, tmp_path, ray_session):
    """A run stopped after 4 steps by one executor is finished by the other, from its step-4 checkpoint, to the
    losses an uninterrupted run has (a constant schedule: a cosine's shape depends on max_steps)."""
    optim = {"lr": 3e-3, "warmup_steps": 2, "schedule": "constant"}
    whole = run_trial(config(prepared, tiny_model, tmp_path, "tune", name="whole", method="full", optim=optim))
    for first, then in (("tune", "ray_train"), ("ray_train", "tune")):
        name = f"{first}-then-{then}"
        cut = config(prepared, tiny_model, tmp_path, first, name=name, method="full", max_steps=4,
                     optim=optim).model_dump(mode="json")
        run_trial(validate(RunConfig, cut, "test"))
        # Same run dir (max_steps is in the hash): move the partial run under the full run's id.
        full = config(prepared, tiny_model, tmp_path, then, name=name, method="full", optim=optim,
                      output_dir=str(tmp_path / first))
        partial = tmp_path / first / validate(RunConfig, cut, "test").run_id()
        (partial / "trial.json").unlink()
        partial.rename(tmp_path / first / full.run_id())
        resumed = run_trial(full)
        steps = [h["step"] for h in resumed["history"]]
        assert steps == [2, 4, 6], (name, steps)  # 2 and 4 from the first executor, 6 after the resume
        assert resumed["history"][-1]["train_loss"] == pytest.approx(whole["history"][-1]["train_loss"], abs=1e-6)


def test_auto_picks_by_workers_and_deepspeed_and_tune_refuses_a_group():
    base = {"mixture": {"sources": {"fpb": {"weight": 1.0}}, "budget": 100}}
    assert executor_of(validate(RunConfig, base, "t")).name == "tune"
    assert executor_of(validate(RunConfig, {**base, "num_workers": 2}, "t")) == ("ray_train", "2 workers")
    assert executor_of(validate(RunConfig, {**base, "deepspeed": {"stage": 2}}, "t")).name == "ray_train"
    assert executor_of(validate(RunConfig, {**base, "train": {"executor": "ray_train"}}, "t")).name == "ray_train"
    with pytest.raises(ConfigError, match="train.executor tune runs one worker"):
        validate(RunConfig, {**base, "num_workers": 2, "train": {"executor": "tune"}}, "t")


def test_a_trial_reserves_its_worker_only_when_the_loop_runs_in_it(tmp_path):
    """Tune's request for a trial: the worker's CPUs (and GPU, custom resources) under ``tune``; one byte of
    memory under ``ray_train``, whose worker group holds them."""
    from sweeps.config import SweepConfig
    from sweeps.space import describe_trials, grid_points
    from sweeps.tune.trainable import trial_resources

    def sweep(**base):
        return validate(SweepConfig, {"name": "r", "pool": ["fpb"], "base": {"cpus_per_worker": 2, "mixture": {"budget": 100}, **base},
                                      "search": {"grid": {"mixtures": [{"fpb": 1.0}]}}}, "t")

    here = sweep(worker_resources={"node_a": 1})
    request = trial_resources(here, str(tmp_path))({"point": grid_points(here)[0]})
    assert request.bundles == [{"CPU": 2.0, "node_a": 1.0}]
    assert "Tune trial's own process (executor tune: one worker)" in describe_trials(here)
    group = sweep(num_workers=2)
    request = trial_resources(group, str(tmp_path))({"point": grid_points(group)[0]})
    assert request.bundles == [{"memory": 1.0}]
    assert "Ray Train V2 worker group (executor ray_train: 2 workers)" in describe_trials(group)
