"""Early stopping: ASHA over a trial's per-step reports, and the stop signal those reports carry to Tune (by
default ``val_loss_objective``: sweeps/objective.py)."""
from __future__ import annotations

import ray.tune
from ray.tune.integration.ray_train import TuneReportCallback
from ray.tune.schedulers import ASHAScheduler

from ftlib.train.trainer import Reports
from sweeps.config import SweepConfig
from sweeps.objective import OBJECTIVE_LOSS, with_objective_loss


def asha_scheduler(sweep: SweepConfig, max_reports: int):
    """ASHA over a trial's reports (``max_reports`` of them, then the objective), or none."""
    if sweep.scheduler.kind == "none":
        return None
    s = sweep.scheduler
    return ASHAScheduler(time_attr="training_iteration", metric=s.metric, mode=s.mode, grace_period=s.grace_period,
                         reduction_factor=s.reduction_factor, max_t=max(max_reports + 1, s.grace_period + 1))


class ObjectiveLossReport(TuneReportCallback):
    """Ray Train's TuneReportCallback, each per-step report carrying ``val_loss_objective`` to Tune."""

    def __init__(self, tasks):
        super().__init__()
        self.tasks = list(tasks)

    def after_report(self, run_context, metrics, checkpoint):
        super().after_report(run_context, [with_objective_loss(m, self.tasks) for m in metrics], checkpoint)


def trial_reports(tasks) -> Reports:
    """A trial's per-step reports to Tune, each with ``val_loss_objective``: through Ray Train's callback from a
    worker group, or straight from the trial's own thread (the ``tune`` executor)."""
    tasks = list(tasks)
    return Reports(train_callbacks=lambda: [ObjectiveLossReport(tasks)],
                   on_report=lambda metrics: ray.tune.report(with_objective_loss(metrics, tasks)))


def describe_stopping(sweep: SweepConfig) -> str:
    s = sweep.scheduler
    what = (f"the validation loss of {', '.join(sweep.objective_tasks())}, equally weighted"
            if s.metric == OBJECTIVE_LOSS else "a per-step training report")
    return f"ASHA stops trials on {s.metric} ({what}), mode {s.mode}"
