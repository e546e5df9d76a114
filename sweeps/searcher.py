"""Optuna behind Tune: the study learns the final objective of finished trials and, for trials ASHA stopped,
their per-step stop signal as intermediate values (TPE ranks a pruned trial by how far it got and how well)."""
from __future__ import annotations

from ray.tune.search.optuna import OptunaSearch


class FinalObjectiveOptunaSearch(OptunaSearch):
    """Per-step training reports carry no objective (it is scored after training), only the stop signal. It
    reaches Optuna as an intermediate value, turned to the study's direction (a loss to minimise becomes its
    negative in a study that maximises a score); the final result, through ``on_trial_complete``, tells the
    objective, or PRUNED for a trial that never scored it."""

    # Where a resumed sweep's study lives now. Tune pickles the searcher with its storage URL, an absolute path:
    # a sweep directory copied or moved elsewhere would go on writing into the study where it was.
    relocate_storage: str | None = None

    def __init__(self, *args, signal: str | None = None, signal_mode: str = "min", **kwargs):
        super().__init__(*args, **kwargs)
        self._signal, self._signal_mode = signal, signal_mode

    def restore(self, checkpoint_path: str):
        import optuna

        super().restore(checkpoint_path)
        url = type(self).relocate_storage
        if url is not None and self._storage is not None and getattr(self._storage, "url", None) != url:
            self._storage = optuna.storages.RDBStorage(url)
            self._ot_study = optuna.load_study(study_name=self._ot_study.study_name, storage=self._storage,
                                               sampler=self._sampler)
            self._ot_trials = {tid: optuna.trial.Trial(self._ot_study, t._trial_id)
                               for tid, t in self._ot_trials.items()}
        # A study trial still RUNNING that no unfinished Tune trial will finish (the driver was killed between
        # Tune ending a trial and the study hearing it): FAIL, or TPE would count it as running forever.
        tracked = {t._trial_id for tid, t in self._ot_trials.items() if tid not in self._completed_trials}
        for orphan in self._ot_study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            if orphan._trial_id not in tracked:
                self._ot_study.tell(orphan.number, state=optuna.trial.TrialState.FAIL)

    def on_trial_result(self, trial_id, result):
        if isinstance(self.metric, list) or self._signal is None or result.get(self._signal) is None:
            return None  # Optuna keeps no intermediate values for multi-objective studies
        if trial_id in self._completed_trials or trial_id not in self._ot_trials:
            return None
        sign = 1.0 if self._signal_mode == self.mode else -1.0
        self._ot_trials[trial_id].report(sign * float(result[self._signal]), int(result["training_iteration"]))
        return None
