"""Select on validation, the pure half of finalize: per model and target task, the target trained alone, the best
multi-task configuration that includes the target, the configuration with every pool source, and the best by the
sweep's objective; the seeds the selected configurations are replicated with. ``select`` is never given a test
number."""
from __future__ import annotations

import json
import math
from collections import defaultdict
from typing import Any

from sweeps.config import SweepConfig

ROLES = ("alone", "best_multi", "all_sources", "best_objective")
ROLE_TITLES = {"alone": "target alone", "best_multi": "best multi-task", "all_sources": "all sources",
               "best_objective": "best by objective"}


def active_tasks(row: dict[str, Any]) -> frozenset[str]:
    return frozenset(k[2:] for k, v in row.items() if k.startswith("w_") and v)


def mean_of(values) -> float | None:
    """The mean of the values that are numbers (None and NaN left out), or None."""
    values = [v for v in values if v is not None and not math.isnan(v)]
    return sum(values) / len(values) if values else None


def select(rows: list[dict[str, Any]], pool: list[str], tasks: list[str], mode: str) -> dict[str, Any]:
    """The selection, from validation columns only (``score_<task>``, ``objective``) of completed runs:
    ``{model: {task: {role: {point_key, point, val, seeds, runs}}}}``; a role with no candidate says why."""
    configs: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if r["state"] == "completed":
            configs[r["model"], r["point_key"]].append(r)
    by_model: dict[str, list[list[dict[str, Any]]]] = defaultdict(list)
    for (model, _), runs in sorted(configs.items()):
        by_model[model].append(runs)
    sign = 1 if mode == "max" else -1
    selection: dict[str, Any] = {}
    for model, candidates in by_model.items():
        best_objective = _best(candidates, lambda runs: mean_of(r["objective"] for r in runs), sign,
                               "val_loss_objective")
        selection[model] = {}
        for task in tasks:
            score, loss = _score_of(task), f"val_loss_{task}"
            with_task = [c for c in candidates if task in active_tasks(c[0])]
            roles = {
                "alone": _best([c for c in with_task if active_tasks(c[0]) == {task}], score, 1, loss),
                "best_multi": _best([c for c in with_task if len(active_tasks(c[0])) > 1], score, 1, loss),
                "all_sources": _best([c for c in candidates if active_tasks(c[0]) == set(pool)], score, 1, loss),
                "best_objective": best_objective,
            }
            selection[model][task] = {role: (_describe(*c, score) if c[0] else {"missing": _why(role, task)})
                                      for role, c in roles.items()}
    return selection


def _score_of(task: str):
    return lambda runs: mean_of(r.get(f"score_{task}") for r in runs)


TIE_BREAK = "lower validation loss, then fewer training tokens, then point key"


def _best(candidates, value, sign: int, loss: str) -> tuple[list[dict[str, Any]] | None, list[str]]:
    """The best candidate by ``value``, and the point keys of the others that tie with it. A tie (a discrete
    score on a small validation set ties often) goes to the lower validation loss ``loss``, then the fewer
    training tokens, then the point key: every step declared, and the same choice every time."""
    scored = [(v, c) for c in candidates if (v := value(c)) is not None]
    if not scored:
        return None, []
    top = max(sign * v for v, _ in scored)
    tied = [c for v, c in scored if sign * v == top]
    tied.sort(key=lambda c: (_or_inf(mean_of(r.get(loss) for r in c)), _or_inf(mean_of(r.get("tokens") for r in c)),
                             c[0]["point_key"]))
    return tied[0], [c[0]["point_key"] for c in tied[1:]]


def _or_inf(x: float | None) -> float:
    return math.inf if x is None else x


def _describe(runs: list[dict[str, Any]], tied: list[str], score) -> dict[str, Any]:
    return {"point_key": runs[0]["point_key"], "point": json.loads(runs[0]["point"]), "val": score(runs),
            "seeds": sorted(r["seed"] for r in runs), "runs": sorted(r["trial_id"] for r in runs),
            "tasks": sorted(active_tasks(runs[0])), "tied_with": tied, **({"tie_break": TIE_BREAK} if tied else {})}


def _why(role: str, task: str) -> str:
    return {"alone": f"no completed run trained on {task} alone", "best_multi": f"no completed run mixed {task} "
            f"with other sources", "all_sources": "no completed run with every pool source",
            "best_objective": "no completed run reported the objective"}[role]


def replication_seeds(sweep: SweepConfig, n: int) -> list[int]:
    """``n`` fresh seeds, above every seed of the sweep: a selected configuration's test numbers never come from
    the run whose validation score selected it (that run's luck would come along: the winner's curse)."""
    start = max(sweep.seeds) + 1
    return list(range(start, start + n))


def selected_points(selection: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every selected configuration once, by point key."""
    return {c["point_key"]: c["point"] for tasks in selection.values() for roles in tasks.values()
            for c in roles.values() if "point" in c}


