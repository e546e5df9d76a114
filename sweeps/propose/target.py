"""What a surrogate learns from a trial row: the sweep's objective, a task's validation score, or a validation
loss, and which way is better."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np


def target_value(target: str, objective_tasks: Sequence[str] = (), objective_mode: str = "max"
                 ) -> tuple[Callable[[dict[str, Any]], float | None], list[str], int]:
    """How a trial row gives ``target``: "objective" (the sweep's, in its mode), a task (its validation headline
    score, higher better), ``val_loss_<task>`` or ``val_loss_objective`` (the objective tasks' validation
    losses, equally weighted; RegMix's choice: a loss separates mixtures long before a small model's scores
    do). Returns the reader, the columns it needs, and the sign of "better"."""
    if target == "objective":
        return (lambda r: r.get("objective")), ["objective"], 1 if objective_mode == "max" else -1
    if target == "val_loss_objective":
        columns = [f"val_loss_{t}" for t in objective_tasks]

        def mean_loss(r):
            values = [r.get(c) for c in columns]
            return None if any(v is None for v in values) else float(np.mean(values))

        return mean_loss, columns, -1
    column = target if target.startswith("val_loss_") else f"score_{target}"
    return (lambda r: r.get(column)), [column], -1 if target.startswith("val_loss_") else 1
