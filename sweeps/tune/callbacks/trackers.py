"""The tracker callbacks a sweep's ``tracking:`` block asks for: one MLflow and/or W&B run per trial."""
from __future__ import annotations

from sweeps.config import SweepConfig
from sweeps.layout import mlflow_url, wandb_dir
from sweeps.tracking import mlflow_experiment
from sweeps.tracking_params import STUDY_TAG, experiment_name
from sweeps.tune.callbacks.mlflow_runs import ResumableMLflowLogger
from sweeps.tune.callbacks.wandb_runs import ResumableWandbLogger


def tracking_callbacks(sweep: SweepConfig, exp: str) -> list:
    tracking, callbacks = sweep.tracking, []
    if tracking and tracking.mlflow:
        mlflow_experiment(sweep, exp)  # created here first: with its artifacts inside the experiment dir
        callbacks.append(ResumableMLflowLogger(mlflow_url(sweep, exp), experiment_name=experiment_name(sweep),
                                               tags={f"{STUDY_TAG}.member": sweep.name}))
    if tracking and tracking.wandb:
        callbacks.append(ResumableWandbLogger(tracking.wandb.project, tracking.wandb.mode, wandb_dir(exp)))
    return callbacks
