"""A sweep's disk. Each checkpoint holds the optimizer state (optim.pt or DeepSpeed's shards: about 12 bytes per
trained parameter, ~100 GB for an 8B model) beside the weights. Once a trial has ended for good (completed, or
stopped early by the scheduler) nothing resumes it, so its checkpoints' ``state/`` goes and their ``model/`` (the
weights evaluation loads) stays; a checkpoint Ray Train's manager no longer keeps (its snapshot does not list
it) goes too: a trial stopped while its workers write a checkpoint leaves one the manager never registered, one
more than ``keep_checkpoints`` (seen with a W&B-tracked sweep). Errored or interrupted trials keep theirs: a
retry or ``sweep resume`` continues from them."""
from __future__ import annotations

import json
import time

from ray.train.v2._internal.constants import CHECKPOINT_MANAGER_SNAPSHOT_FILENAME
from ray.tune import Callback

from ftlib.core import storage


def drop_unkept_checkpoints(run_dir: str) -> None:
    """Removes the checkpoints of an ended run that Ray Train's checkpoint manager does not list as kept."""
    data = storage.read_bytes(storage.join(run_dir, CHECKPOINT_MANAGER_SNAPSHOT_FILENAME))
    if data is None:
        return
    snapshot = json.loads(data)
    kept = {r["checkpoint_dir_name"] for r in snapshot.get("checkpoint_results", [])}
    if snapshot.get("latest_checkpoint_result"):
        kept.add(snapshot["latest_checkpoint_result"]["checkpoint_dir_name"])
    for checkpoint in storage.subdirs(run_dir):
        name = checkpoint.rstrip("/").rsplit("/", 1)[-1]
        if kept and name.startswith("checkpoint_") and name not in kept:
            storage.remove_dir(checkpoint)


def drop_optimizer_state(run_dir: str) -> int:
    """Removes ``state/`` from every checkpoint of an ended run (and the checkpoints Ray no longer keeps); returns
    how many checkpoints it trimmed."""
    drop_unkept_checkpoints(run_dir)
    trimmed = 0
    for checkpoint in storage.subdirs(run_dir):
        state = storage.join(checkpoint, "state")
        if checkpoint.rstrip("/").rsplit("/", 1)[-1].startswith("checkpoint_") and state in storage.subdirs(checkpoint):
            storage.remove_dir(state)
            trimmed += 1
    return trimmed


class DropEndedTrialState(Callback):
    """Trims the checkpoints of every run of a trial when Tune says the trial ended (not when it errored), and
    again every ``interval_s`` and when the sweep ends: a trial the scheduler stopped may still finish writing a
    checkpoint just after Tune heard it was stopped."""

    def __init__(self, run_dirs_of, interval_s: float = 10.0):
        self.run_dirs_of = run_dirs_of  # Tune trial -> the run directories of its seeds
        self.interval_s = interval_s
        self.ended: dict[str, list[str]] = {}
        self.trimmed = 0
        self._last = 0.0

    def _trim(self, run_dirs) -> None:
        self._last = time.monotonic()
        for run_dir in run_dirs:
            self.trimmed += drop_optimizer_state(run_dir)

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.ended[trial.trial_id] = self.run_dirs_of(trial)
        self._trim(self.ended[trial.trial_id])

    def on_step_begin(self, iteration, trials, **info):
        if self.ended and time.monotonic() - self._last >= self.interval_s:
            self._trim([d for dirs in self.ended.values() for d in dirs])

    def on_experiment_end(self, trials, **info):
        self._trim([d for dirs in self.ended.values() for d in dirs])
