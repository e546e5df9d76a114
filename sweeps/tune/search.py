"""Optuna behind Tune: the study learns the final objective of finished trials and, for trials ASHA stopped,
their per-step stop signal as intermediate values (TPE ranks a pruned trial by how far it got and how well)."""
from __future__ import annotations

import warnings

import optuna
from ray.tune.search.optuna import OptunaSearch

from ftlib.core.verbosity import is_verbose
from sweeps.config import SweepConfig
from sweeps.layout import optuna_url
from sweeps.space import DefineByRun


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


def make_sampler(name: str, seed: int):
    # TPE models the space jointly and by the groups its conditionals open (include toggles, params with `when`),
    # and lies "constant" for trials still running, so parallel trials do not all probe one region.
    return {"tpe": lambda: optuna.samplers.TPESampler(multivariate=True, group=True, constant_liar=True, seed=seed),
            "cmaes": lambda: optuna.samplers.CmaEsSampler(seed=seed),
            "nsga2": lambda: optuna.samplers.NSGAIISampler(seed=seed),
            "qmc": lambda: optuna.samplers.QMCSampler(qmc_type="sobol", scramble=True, seed=seed),
            "random": lambda: optuna.samplers.RandomSampler(seed=seed)}[name]()


def make_searcher(sweep: SweepConfig, exp: str, keys: list[str]) -> FinalObjectiveOptunaSearch:
    """The sweep's Optuna search, its study in the experiment's storage (sweeps/layout.py: optuna_url)."""
    opt = sweep.search.optuna
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)  # QMCSampler is experimental
    if not is_verbose():  # "A new study created in RDB": the sweep's own lines say what runs
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = optuna_url(sweep, exp)
    multi = len(keys) > 1
    return FinalObjectiveOptunaSearch(space=DefineByRun(sweep), metric=keys if multi else keys[0],
                                      mode=list(sweep.objective.modes) if multi else sweep.objective.modes[0],
                                      sampler=make_sampler(opt.sampler, opt.seed),
                                      storage=optuna.storages.RDBStorage(url) if url else None,
                                      study_name=sweep.name,
                                      points_to_evaluate=opt.points_to_evaluate or None,
                                      signal=sweep.scheduler.metric if sweep.scheduler.kind != "none" else None,
                                      signal_mode=sweep.scheduler.mode)
