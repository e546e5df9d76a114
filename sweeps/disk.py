"""A sweep's disk. Each checkpoint holds the optimizer state (optim.pt or DeepSpeed's shards: about 12 bytes per
trained parameter, ~100 GB for an 8B model) beside the weights. Once a trial has ended for good (completed, or
stopped early by the scheduler) nothing resumes it, so its checkpoints' ``state/`` goes and their ``model/`` (the
weights evaluation loads) stays. Errored or interrupted trials keep theirs: a retry or ``sweep resume``
continues from them."""
from __future__ import annotations

from ray.tune import Callback

from ftlib import storage


def drop_optimizer_state(run_dir: str) -> int:
    """Removes ``state/`` from every checkpoint of a run; returns how many checkpoints it trimmed."""
    trimmed = 0
    for checkpoint in storage.subdirs(run_dir):
        state = storage.join(checkpoint, "state")
        if checkpoint.rstrip("/").rsplit("/", 1)[-1].startswith("checkpoint_") and state in storage.subdirs(checkpoint):
            storage.remove_dir(state)
            trimmed += 1
    return trimmed


class DropEndedTrialState(Callback):
    """Trims the checkpoints of every run of a trial when Tune says the trial ended (not when it errored)."""

    def __init__(self, run_dirs_of):
        self.run_dirs_of = run_dirs_of  # Tune trial -> the run directories of its seeds
        self.trimmed = 0

    def on_trial_complete(self, iteration, trials, trial, **info):
        for run_dir in self.run_dirs_of(trial):
            self.trimmed += drop_optimizer_state(run_dir)
