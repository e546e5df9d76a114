"""One line per finished trial: how many are running / done / errored, and the best so far."""
from __future__ import annotations

from ray.tune import Callback


class Progress(Callback):
    def __init__(self, key: str, mode: str):
        self.key, self.mode = key, mode
        self.best: tuple[float, str] | None = None

    def on_trial_result(self, iteration, trials, trial, result, **info):
        if self.key in result and result.get("objective_done"):
            value = result[self.key]
            better = self.best is None or (value > self.best[0] if self.mode == "max" else value < self.best[0])
            if better:
                self.best = (value, trial.trial_id if not result.get("run_ids") else result["run_ids"][0])

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._line(trials)

    def on_trial_error(self, iteration, trials, trial, **info):
        self._line(trials)

    def _line(self, trials) -> None:
        counts = {s: sum(t.status == s for t in trials) for s in ("RUNNING", "TERMINATED", "ERROR", "PENDING")}
        best = f"best {self.key} {self.best[0]:.4f} ({self.best[1]})" if self.best else "no objective yet"
        print(f"[sweep] running {counts['RUNNING']}, done {counts['TERMINATED']}, errored {counts['ERROR']}, "
              f"pending {counts['PENDING']} | {best}", flush=True)
