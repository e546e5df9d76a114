"""One Tune experiment under an experiment dir: the sweep's, or finalize's reruns. Assembled (trainable, search,
scheduler, callbacks), run or resumed, and read back as the tidy rows of ``trials.parquet``.

Sweeps never wait forever on workers: when a trial ends for any reason its Train workers' placement group is
released by our own callback (callbacks/release_workers.py; Ray's cleaner needs the state API,
ray-project/ray#54305), and a trial whose worker group cannot start fails after a bounded number of timed-out
starts (``controller_failure_limit`` × ``RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S``).
"""
from __future__ import annotations

import json
import time
from typing import Any

import ray.tune
from ray.tune import ExperimentAnalysis

from ftlib.core import storage
from ftlib.core.configs import changed_keys
from ftlib.core.errors import ConfigError
from ftlib.core.storage import StorageError
from sweeps.config import SweepConfig
from sweeps.layout import SWEEP_FILE, TUNE, mlflow_url, run_dir, sweep_file, tune_parent, tune_path
from sweeps.lock import driver_running
from sweeps.preflight.checks import check_storage
from sweeps.saved import checked_state
from sweeps.space import num_trials, reports_per_trial, run_ids, sweep_executor
from sweeps.trial_table import UNFINISHED, leaderboard, load_trials, trial_rows, write_trials
from sweeps.tune.callbacks.full_storage import StopOnFullStorage
from sweeps.tune.callbacks.progress import Progress
from sweeps.tune.callbacks.release_workers import ReleaseEndedTrials
from sweeps.tune.callbacks.trackers import tracking_callbacks
from sweeps.tune.callbacks.trim_checkpoints import DropEndedTrialState
from sweeps.tune.env import keep_secrets_out_of_tune
from sweeps.tune.schedule import asha_scheduler
from sweeps.tune.search import make_searcher
from sweeps.tune.trainable import make_trainable, trial_resources


def saved_sweep(exp: str) -> SweepConfig:
    """The sweep as its run saved it (``sweep.json``, paths anchored) beside Tune's state, its state files
    checked."""
    sweep = checked_state(exp)
    if not ray.tune.Tuner.can_restore(tune_path(exp)):
        raise ConfigError(f"{exp}: not a sweep Tune can read (no {TUNE}/ experiment state beside {SWEEP_FILE}); "
                          f"restore {TUNE}/ from a copy, or run the sweep again under another --name")
    return sweep


def _tune_trials(where: str) -> list:
    try:
        return ExperimentAnalysis(where).trials
    except Exception as e:  # Tune raises what its JSON and pickle readers raise
        raise ConfigError(f"{where}: Tune's experiment state cannot be read ({type(e).__name__}: "
                          f"{str(e).splitlines()[0] if str(e) else ''}); nothing was changed (restore {TUNE}/ "
                          f"from a copy of the sweep directory)") from None


def same_sweep_ran(sweep: SweepConfig, exp: str) -> bool:
    """True when ``exp`` holds a resumable run of this very sweep. A different sweep there is refused: its Optuna
    study and Tune state would silently take in the new sweep's trials."""
    if storage.read_bytes(sweep_file(exp)) is None:
        return False
    old, new = checked_state(exp).model_dump(mode="json"), sweep.model_dump(mode="json")
    if old != new:
        changed = sorted(changed_keys(old, new))
        raise ConfigError(f"{exp} holds a different sweep named {sweep.name!r} (changed: {', '.join(changed)}); "
                          f"give this one another name (--name NAME) or remove that directory")
    return ray.tune.Tuner.can_restore(tune_path(exp))


def check_tune_state(exp: str, tune_dir: str = TUNE) -> None:
    """Refuses to resume from a Tune state that cannot be read or knows fewer trials than the sweep's table:
    Tune would start over from what it can read, and the table and study would lose trials."""
    where = tune_path(exp, tune_dir)
    known = {t.trial_id for t in _tune_trials(where)}
    tabled = {r["tune_trial_id"] for r in load_trials(tune_parent(exp, tune_dir))}
    if tabled - known:
        raise ConfigError(f"{where}: Tune's experiment state knows {len(known)} trial(s) but trials.parquet has "
                          f"{len(tabled)}: the state is damaged or older than the table; nothing was resumed "
                          f"(restore the tune/ folder from a copy, or run the sweep again under another --name)")


def sweep_status(exp: str, live: bool | None = None, tune_dir: str = TUNE) -> list[dict[str, Any]]:
    """The runs of a sweep (or of its finalize reruns), finished or not, read from Tune's experiment state.
    ``live`` (default: whether a driver holds the sweep's lock): unfinished runs are pending or running, else
    ``unfinished``, as the table of an interrupted sweep says."""
    exp = storage.absolute(exp)
    sweep = saved_sweep(exp)
    live = driver_running(exp) if live is None else live
    return trial_rows(sweep, exp, _tune_trials(tune_path(exp, tune_dir)), live=live)


def fit_experiment(sweep: SweepConfig, exp: str, keys: list[str], concurrent: int, *,
                   points: list[dict] | None = None, max_reports: int = 1, tune_dir: str = TUNE,
                   restore: bool = False) -> dict[str, Any]:
    """Runs (or, ``restore``, resumes) one Tune experiment under ``exp/tune_dir``: the given ``points`` (a grid;
    a point with a seed runs that seed only), else the sweep's Optuna search; its tidy rows go to
    ``trials.parquet`` beside it. Finalize runs its reruns through here with its own ``tune_dir``."""
    keep_secrets_out_of_tune()
    total = len(points) if points is not None else num_trials(sweep)
    started = time.time()
    full, StopOnFullStorage.seen = StopOnFullStorage(), None
    tuner = _tuner(sweep, exp, keys, concurrent, points, max_reports, tune_dir, restore, total, full)
    try:
        tuner.fit()
    except Exception:
        check_storage(exp)  # a full or lost storage explains a failed sweep in one line
        raise
    if StopOnFullStorage.seen is not None:
        raise StorageError(f"{exp}: the sweep stopped: a trial could not write its storage "
                           f"({StopOnFullStorage.seen}); free space there, then `cocktail sweep resume {exp}`")
    rows = sweep_status(exp, live=False, tune_dir=tune_dir)
    path = write_trials(tune_parent(exp, tune_dir), rows)
    tune_trials = {r["tune_trial_id"] for r in rows}
    unfinished = len({r["tune_trial_id"] for r in rows if r["state"] in UNFINISHED}) + max(0, total - len(tune_trials))
    return {"experiment_dir": exp, "trials_file": path, "wall_s": round(time.time() - started, 1),
            "rows": rows, "leaderboard": leaderboard(rows, "objective", sweep.objective.modes[0]),
            "objective": keys[0], "mode": sweep.objective.modes[0], "unfinished": unfinished,
            "mlflow_url": mlflow_url(sweep, exp)}


def _tuner(sweep: SweepConfig, exp: str, keys: list[str], concurrent: int, points: list[dict] | None,
           max_reports: int, tune_dir: str, restore: bool, total: int, full: StopOnFullStorage) -> ray.tune.Tuner:
    trainable = ray.tune.with_resources(make_trainable(sweep, exp), trial_resources(sweep, exp))
    if restore:
        return ray.tune.Tuner.restore(tune_path(exp, tune_dir), trainable=trainable, resume_unfinished=True,
                                      resume_errored=True)
    tune_config = ray.tune.TuneConfig(
        search_alg=None if points is not None else make_searcher(sweep, exp, keys),
        scheduler=asha_scheduler(sweep, reports_per_trial(sweep, max_reports, grid=points is not None)),
        num_samples=1 if points is not None else sweep.search.optuna.num_samples,
        max_concurrent_trials=concurrent,
        # A new trial takes over the finished one's process, its imports and cached base weights, instead of
        # starting one. Not with ASHA over worker groups: a stopped trial's thread is still inside
        # TorchTrainer.fit, its reset fails, and Tune marks the trial that was to reuse it as errored (a loop in
        # the trial's own thread ends at the report where Tune stops it).
        reuse_actors=sweep.scheduler.kind == "none" or sweep_executor(sweep).name == "tune",
        trial_name_creator=_trial_name(sweep, exp), trial_dirname_creator=_trial_name(sweep, exp))
    return ray.tune.Tuner(trainable,
                          param_space={"point": ray.tune.grid_search(points)} if points is not None else {},
                          tune_config=tune_config,
                          run_config=_tune_run_config(sweep, exp, tune_dir, keys[0], total, full))


def _tune_run_config(sweep: SweepConfig, exp: str, tune_dir: str, key: str, total: int,
                     full: StopOnFullStorage) -> ray.tune.RunConfig:
    def run_dirs(trial) -> list[str]:
        point = trial.config.get("point")
        return [run_dir(exp, run_id) for run_id in run_ids(sweep, point, exp)] if point else []

    return ray.tune.RunConfig(name=tune_dir.split("/")[-1], storage_path=tune_parent(exp, tune_dir),
                              callbacks=[Progress(key, sweep.objective.modes[0], total), ReleaseEndedTrials(),
                                         DropEndedTrialState(run_dirs), full, *tracking_callbacks(sweep, exp)],
                              stop=full,
                              failure_config=ray.tune.FailureConfig(max_failures=sweep.resources.trial_retries),
                              verbose=0)


def _trial_name(sweep: SweepConfig, exp: str):
    def name(trial) -> str:
        point = trial.config.get("point")
        return run_ids(sweep, point, exp)[0] if point else trial.trial_id

    return name
