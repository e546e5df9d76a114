"""Ending a sweep whose storage is full. A trial that cannot write its checkpoint errors with the storage's
``No space left on device``; every later trial would train up to its first checkpoint and fail the same way. So
the first such error stops the experiment (Tune saves its state, and `sweep resume` continues once there is room)
and the driver ends in one line naming the storage."""
from __future__ import annotations

import os
from errno import ENOSPC

from ray.tune import Callback
from ray.tune.stopper import Stopper

FULL = os.strerror(ENOSPC)


class StopOnFullStorage(Callback, Stopper):
    """A callback that hears trial errors and the stopper that ends the experiment after one of a full disk. A
    resumed experiment runs the instance Tune unpickled, so what it saw is also kept on the class (``seen``), for
    the driver to read after ``fit``."""

    seen: str | None = None

    def __init__(self):
        self.message: str | None = None

    def on_trial_error(self, iteration, trials, trial, **info):
        try:
            text = open(trial.error_file, errors="replace").read() if trial.error_file else ""
        except OSError:
            text = ""
        lines = [line.strip() for line in text.splitlines() if FULL in line]
        if lines and self.message is None:
            self.message = type(self).seen = lines[-1][:500]

    def __call__(self, trial_id, result) -> bool:
        return False

    def stop_all(self) -> bool:
        return self.message is not None
