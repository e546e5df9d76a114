"""Optuna behind Tune, hearing only final objectives."""
from __future__ import annotations

from ray.tune.search.optuna import OptunaSearch


class FinalObjectiveOptunaSearch(OptunaSearch):
    """Per-step training reports carry no objective (it is scored after training). OptunaSearch forwards
    every result to Optuna as an intermediate value for Optuna's pruners; early stopping here is ASHA's job,
    so only the final result, through ``on_trial_complete``, reaches the study."""

    def on_trial_result(self, trial_id, result):
        return None
