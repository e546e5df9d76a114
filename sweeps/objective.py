"""The number a sweep optimises: validation scores of the trained model (never test), read back where a run stored
them; and what ASHA stops trials on by default, ``val_loss_objective``: the validation loss of each objective task,
equally weighted. The token-weighted ``val_loss`` is dominated by the sources with long answers (OpenOrca and
Orca-Math held 78 % of the smoke data's loss tokens), so early stopping on it favours general- and math-heavy
mixtures against a financial objective."""
from __future__ import annotations

from typing import Any, Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from evaluation.harness import headline_metric
from evaluation.outputs import SCORES
from evaluation.profiles import applies
from ftlib.core import storage
from ftlib.core.errors import ConfigError
from ftlib.tasks.catalog import get_task
from sweeps.config import SweepConfig

MEAN = "mean_financial"
OBJECTIVE_LOSS = "val_loss_objective"


def score_key(task: str) -> str:
    return f"score_{task}"


def objective_keys(sweep: SweepConfig) -> list[str]:
    """Report keys of the objective metrics; an unknown name is refused before any trial starts."""
    keys = []

    tasks = sweep.objective_tasks()
    mixture_tasks = set(sweep.pool)
    unscored = [t for t in tasks if not applies(sweep.objective.scoring, get_task(t))]
    if unscored:
        raise ConfigError(f"objective.scoring {sweep.objective.scoring}: the profile has no rule for {unscored}; "
                          f"set objective.tasks to tasks it scores, or use cocktail")
    for name in sweep.objective.metrics:
        if name == MEAN:
            if not tasks:
                raise ConfigError("objective.metrics: mean_financial needs financial tasks in pool or objective.tasks")
            keys.append(MEAN)
        elif name in tasks:
            keys.append(score_key(name))
        elif name == "val_loss" or (name.startswith("val_loss_") and name[len("val_loss_"):] in mixture_tasks):
            keys.append(name)
        else:
            raise ConfigError(f"objective.metrics: {name!r} names no reported metric; expected {MEAN}, one of the "
                              f"objective tasks {tasks}, val_loss or val_loss_<pool task>")
    return keys


def stored_objective(sweep: SweepConfig, out: str) -> dict[str, Any] | None:
    """The objective as ``evaluate_objective`` wrote it under ``out`` (None when it has not, or not for every
    objective task)."""

    data = storage.read_bytes(storage.join(out, SCORES))
    tasks = sweep.objective_tasks()
    if data is None or not tasks:
        return None
    profile = sweep.objective.scoring
    stored = {(r["task"], r["metric"]): r["value"] for r in pq.read_table(pa.BufferReader(data)).to_pylist()
              if r["profile"] == profile}
    wanted = {t: headline_metric(t, profile).split("@")[0] for t in tasks}
    if any((t, m) not in stored for t, m in wanted.items()):
        return None
    scores = {score_key(t): stored[t, m] for t, m in wanted.items()}
    scores[MEAN] = sum(scores.values()) / len(scores)
    return scores


def objective_loss(metrics: dict[str, Any], tasks: Sequence[str]) -> float | None:
    values = [metrics[f"val_loss_{t}"] for t in tasks if metrics.get(f"val_loss_{t}") is not None]
    return sum(values) / len(values) if len(values) == len(tasks) and values else None


def with_objective_loss(metrics: dict[str, Any], tasks: Sequence[str]) -> dict[str, Any]:
    value = objective_loss(metrics, tasks)
    return metrics if value is None else {**metrics, OBJECTIVE_LOSS: value}
