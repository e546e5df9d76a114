"""Optuna behind Tune: the study learns the final objective of finished trials and, for trials ASHA stopped,
their per-step stop signal as intermediate values (TPE ranks a pruned trial by how far it got and how well)."""
from __future__ import annotations

from ray.tune.search.optuna import OptunaSearch


class FinalObjectiveOptunaSearch(OptunaSearch):
    """Per-step training reports carry no objective (it is scored after training), only the stop signal. It
    reaches Optuna as an intermediate value, turned to the study's direction (a loss to minimise becomes its
    negative in a study that maximises a score); the final result, through ``on_trial_complete``, tells the
    objective, or PRUNED for a trial that never scored it."""

    def __init__(self, *args, signal: str | None = None, signal_mode: str = "min", **kwargs):
        super().__init__(*args, **kwargs)
        self._signal, self._signal_mode = signal, signal_mode

    def on_trial_result(self, trial_id, result):
        if isinstance(self.metric, list) or self._signal is None or result.get(self._signal) is None:
            return None  # Optuna keeps no intermediate values for multi-objective studies
        if trial_id in self._completed_trials or trial_id not in self._ot_trials:
            return None
        sign = 1.0 if self._signal_mode == self.mode else -1.0
        self._ot_trials[trial_id].report(sign * float(result[self._signal]), int(result["training_iteration"]))
        return None
