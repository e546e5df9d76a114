"""Every report of a run, in order, as ``metrics.jsonl`` in the run directory (Ray keeps only the metrics of
retained checkpoints). Runs on the Ray Train controller, which writes next to the run's storage."""
from __future__ import annotations

import json
from pathlib import Path

from ray.train import UserCallback


class MetricsHistory(UserCallback):
    def __init__(self, path: str | Path):
        self.path = str(path)

    def after_report(self, run_context, metrics, checkpoint):
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as f:
            f.write(json.dumps(metrics[0]) + "\n")


def read_history(path: str | Path) -> list[dict]:
    path = Path(path)
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
