"""One line per ended trial: how many are done, running and left, an ETA, and the best so far."""
from __future__ import annotations

import time

from ray.tune import Callback


class Progress(Callback):
    def __init__(self, key: str, mode: str, total: int):
        self.key, self.mode, self.total = key, mode, total
        self.best: tuple[float, str] | None = None
        self.started = time.monotonic()

    def on_trial_result(self, iteration, trials, trial, result, **info):
        if self.key in result and result.get("objective_done"):
            value = result[self.key]
            better = self.best is None or (value > self.best[0] if self.mode == "max" else value < self.best[0])
            if better:
                self.best = (value, trial.trial_id if not result.get("run_ids") else result["run_ids"][0])

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._line(trials, trial)

    def on_trial_error(self, iteration, trials, trial, **info):
        print(f"[sweep] trial {trial.trial_id} errored: {_last_line(trial.error_file)}", flush=True)
        self._line(trials, trial)

    def _line(self, trials, ended) -> None:
        # Tune calls back before it marks the ended trial: count it as ended here.
        status = {t.trial_id: t.status for t in trials}
        status[ended.trial_id] = "ERROR" if status[ended.trial_id] == "ERROR" else "TERMINATED"
        done, errored = sum(s == "TERMINATED" for s in status.values()), sum(s == "ERROR" for s in status.values())
        running = sum(s == "RUNNING" for s in status.values())
        left = max(self.total - done - errored, 0)
        elapsed = time.monotonic() - self.started
        eta = f", ETA {_duration(elapsed / (done + errored) * left)}" if left and done + errored else ""
        best = f"best {self.key} {self.best[0]:.4f} ({self.best[1]})" if self.best else "no objective yet"
        print(f"[sweep] {done + errored}/{self.total} ended ({errored} errored), {running} running, {left} left · "
              f"{_duration(elapsed)}{eta} · {best}", flush=True)


def _duration(seconds: float) -> str:
    minutes, s = divmod(int(seconds), 60)
    return f"{minutes}m{s:02d}s" if minutes else f"{s}s"


def _last_line(path: str | None) -> str:
    """The error's last line (the exception), and where the whole of it is."""
    try:
        lines = [line for line in open(path, errors="replace").read().splitlines() if line.strip()] if path else []
    except OSError:
        lines = []
    return f"{lines[-1].strip()[:300]} (full error: {path})" if lines else f"(no error text; see {path})"
