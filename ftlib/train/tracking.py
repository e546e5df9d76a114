"""A run's trackers (its YAML's ``tracking:`` block, `cocktail train`) through Ray's ``setup_mlflow`` and
``setup_wandb``, on the worker of rank 0: one tracker run per run, its mixture and hyperparameters as params,
each report's metrics at its step. A run restarted after a worker failure continues the same MLflow run (found
by its run id) and W&B run (its id is the run id). A sweep's trials have no such block: Tune's callbacks log
them (sweeps/tune/callbacks/)."""
from __future__ import annotations

import os
from numbers import Number
from typing import Any

from mlflow.tracking import MlflowClient
from ray.air.integrations.mlflow import setup_mlflow
from ray.air.integrations.wandb import setup_wandb

from ftlib.core import storage
from ftlib.run.config import RunConfig
from ftlib.run.files import WANDB_DIR
from ftlib.run.mlflow_runs import tagged_run


def run_params(cfg: RunConfig) -> dict[str, Any]:
    return {"run_id": cfg.run_id(), "config_hash": cfg.config_hash(), "seed": cfg.seed, "model": cfg.model.name,
            "method": cfg.method, "optim.lr": cfg.optim.lr, "max_steps": cfg.max_steps,
            **{f"mixture.{task}.{k}": v for task, source in cfg.mixture.sources.items()
               for k, v in source.model_dump().items() if v is not None}}


class RunTrackers:
    def __init__(self, cfg: RunConfig, rank: int):
        self.mlflow = self.wandb = None
        tracking = cfg.tracking
        if tracking is None or rank != 0:
            return
        if tracking.mlflow:
            uri, artifacts = tracking.mlflow.store(cfg.output_dir)
            experiment = tracking.mlflow.experiment or cfg.name
            _continue_mlflow_run(uri, experiment, cfg.run_id())
            self.mlflow = setup_mlflow(run_params(cfg), tracking_uri=uri, experiment_name=experiment,
                                       run_name=cfg.run_id(), tags={"run_id": cfg.run_id()},
                                       create_experiment_if_not_exists=True, artifact_location=artifacts)
        if tracking.wandb:
            directory = storage.join(cfg.output_dir, WANDB_DIR)
            os.makedirs(directory, exist_ok=True)
            if tracking.wandb.mode == "offline":  # Ray's set-up asks for a key unless W&B's own variable says so
                os.environ["WANDB_MODE"] = "offline"
            self.wandb = setup_wandb(run_params(cfg), project=tracking.wandb.project, mode=tracking.wandb.mode,
                                     dir=directory, id=cfg.run_id(), name=cfg.run_id(), resume="allow")

    def log(self, metrics: dict[str, Any], step: int) -> None:
        numbers = {k: float(v) for k, v in metrics.items() if isinstance(v, Number)}
        if self.mlflow is not None:
            self.mlflow.log_metrics(numbers, step=step)
        if self.wandb is not None:
            self.wandb.log(numbers, step=step)

    def close(self) -> None:
        if self.mlflow is not None:
            self.mlflow.end_run()
        if self.wandb is not None:
            self.wandb.finish()


def _continue_mlflow_run(uri: str, experiment: str, run_id: str) -> None:
    """A run restarted by Ray Train continues its MLflow run: ``mlflow.start_run`` resumes MLFLOW_RUN_ID."""
    client = MlflowClient(uri)
    found = client.get_experiment_by_name(experiment)
    existing = tagged_run(client, found.experiment_id, "run_id", run_id) if found else None
    if existing:
        os.environ["MLFLOW_RUN_ID"] = existing
    else:
        os.environ.pop("MLFLOW_RUN_ID", None)
