"""Finding a tracker run again: a run restarted by Ray Train, a sweep's trial resumed by a new driver and a
sweep's parent run each look up the MLflow run that carries their tag (only MLflow's client: no Ray here)."""
from __future__ import annotations

from mlflow.tracking import MlflowClient


def tagged_run(client: MlflowClient, experiment_id: str, tag: str, value: str) -> str | None:
    """The id of the experiment's run tagged ``tag = value``, if any."""
    runs = client.search_runs([experiment_id], f"tags.`{tag}` = '{value}'", max_results=1)
    return runs[0].info.run_id if runs else None
