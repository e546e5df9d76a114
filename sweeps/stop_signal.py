"""What ASHA stops trials on: by default ``val_loss_objective``, the validation loss of each objective task,
equally weighted. The token-weighted ``val_loss`` is dominated by the sources with long answers (OpenOrca and
Orca-Math held 78 % of the smoke data's loss tokens), so early stopping on it favours general- and math-heavy
mixtures against a financial objective."""
from __future__ import annotations

from typing import Any, Sequence

OBJECTIVE_LOSS = "val_loss_objective"


def objective_loss(metrics: dict[str, Any], tasks: Sequence[str]) -> float | None:
    values = [metrics[f"val_loss_{t}"] for t in tasks if metrics.get(f"val_loss_{t}") is not None]
    return sum(values) / len(values) if len(values) == len(tasks) and values else None


def with_objective_loss(metrics: dict[str, Any], tasks: Sequence[str]) -> dict[str, Any]:
    value = objective_loss(metrics, tasks)
    return metrics if value is None else {**metrics, OBJECTIVE_LOSS: value}


def report_callback(tasks: Sequence[str]):
    """Ray Train's TuneReportCallback, each per-step report carrying ``val_loss_objective`` to Tune."""
    from ray.tune.integration.ray_train import TuneReportCallback

    class ObjectiveLossReport(TuneReportCallback):
        def after_report(self, run_context, metrics, checkpoint):
            super().after_report(run_context, [with_objective_loss(m, tasks) for m in metrics], checkpoint)

    return ObjectiveLossReport()


def describe(sweep) -> str:
    s = sweep.scheduler
    what = (f"the validation loss of {', '.join(sweep.objective_tasks())}, equally weighted"
            if s.metric == OBJECTIVE_LOSS else "a per-step training report")
    return f"ASHA stops trials on {s.metric} ({what}), mode {s.mode}"
