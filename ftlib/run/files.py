"""The files of a run directory (``<output_dir>/<run id>/``), named in one place: what a trial writes and what
sweeps, evaluation and reports read back."""
from __future__ import annotations

TRIAL_FILE = "trial.json"  # written last: its presence means the run is complete
MODEL_DIR = "model"  # the final model (adapter for LoRA), what evaluation loads
PLAN_FILE = "plan.parquet"
METRICS_FILE = "metrics.jsonl"
RUN_CONFIG_FILE = "run_config.json"
# Trackers' local stores (tracking: mlflow without a tracking_uri; wandb's run files): beside the runs of
# `cocktail train` (output_dir), inside a sweep's experiment dir.
MLFLOW_DB = "mlflow.db"
MLFLOW_ARTIFACTS = "mlartifacts"  # the SQLite store's artifacts (MLflow's default is ./mlruns wherever one runs)
WANDB_DIR = "wandb"
