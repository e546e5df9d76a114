"""Names a sweep's tracker runs share: the MLflow experiment, the parent run's tag, and what a trial's run records
as params: its point (what differs between trials), and, with its final report, the config hash and data
fingerprint that name its outputs and its data."""
from __future__ import annotations

from typing import Any

FINAL_PARAMS = ("config_hash", "data_fingerprint")
STUDY_TAG = "cocktail.study"  # marks a sweep's parent run (value: the sweep's name); trials carry STUDY_TAG.member


def experiment_name(sweep) -> str:
    """The MLflow experiment: the tracking block's, else the sweep's name."""
    return (sweep.tracking.mlflow.experiment if sweep.tracking and sweep.tracking.mlflow else None) or sweep.name


def point_params(point: dict[str, Any]) -> dict[str, Any]:
    """``mixture.<task>.weight`` (and rows, cap), the searched run-config paths as written, seed and model."""
    params: dict[str, Any] = {f"mixture.{task}.{key}": value for task, source in point.get("sources", {}).items()
                              for key, value in (source or {}).items() if value is not None}
    params.update(point.get("params", {}))
    params.update({k: point[k] for k in ("seed", "model") if point.get(k) is not None})
    return params
