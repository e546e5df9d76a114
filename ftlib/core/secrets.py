"""Secrets (hub tokens, cloud keys, the Ray auth token, trackers' keys) come from the environment and never reach a log, a
config dump, a job's metadata or a result. Workers get them the way their process does: a local Ray inherits
the driver's environment; cluster nodes have their own identity (instance profile, service account)."""
from __future__ import annotations

SECRET_ENV = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
              "AWS_SECURITY_TOKEN", "RAY_AUTH_TOKEN", "WANDB_API_KEY", "MLFLOW_TRACKING_TOKEN",
              "MLFLOW_TRACKING_PASSWORD")

