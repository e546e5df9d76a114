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
        best_objective = _best(candidates, lambda runs: mean_of(r["objective"] for r in runs), sign)
        selection[model] = {}
        for task in tasks:
            score = _score_of(task)
            with_task = [c for c in candidates if task in active_tasks(c[0])]
            roles = {
                "alone": _best([c for c in with_task if active_tasks(c[0]) == {task}], score, 1),
                "best_multi": _best([c for c in with_task if len(active_tasks(c[0])) > 1], score, 1),
                "all_sources": _best([c for c in candidates if active_tasks(c[0]) == set(pool)], score, 1),
                "best_objective": best_objective,
            }
            selection[model][task] = {role: (_describe(c, score) if c else {"missing": _why(role, task)})
                                      for role, c in roles.items()}
    return selection


def _score_of(task: str):
    return lambda runs: mean_of(r.get(f"score_{task}") for r in runs)


def _best(candidates, value, sign: int):
    # In point-key order, so that a tie goes to the same configuration every time.
    scored = [(v, c) for v, c in sorted(((value(c), c) for c in candidates), key=lambda vc: vc[1][0]["point_key"])
              if v is not None]
    return max(scored, key=lambda vc: sign * vc[0])[1] if scored else None


def _describe(runs: list[dict[str, Any]], score) -> dict[str, Any]:
    return {"point_key": runs[0]["point_key"], "point": json.loads(runs[0]["point"]), "val": score(runs),
            "seeds": sorted(r["seed"] for r in runs), "runs": sorted(r["trial_id"] for r in runs),
            "tasks": sorted(active_tasks(runs[0]))}


def _why(role: str, task: str) -> str:
    return {"alone": f"no completed run trained on {task} alone", "best_multi": f"no completed run mixed {task} "
            f"with other sources", "all_sources": "no completed run with every pool source",
            "best_objective": "no completed run reported the objective"}[role]


def replication_seeds(sweep: SweepConfig, n: int) -> list[int]:
    """The sweep's seeds, then the next integers above them, until there are ``n``."""
    seeds = list(dict.fromkeys(sweep.seeds))[:n]
    nxt = max(seeds) + 1
    while len(seeds) < n:
        seeds.append(nxt)
        nxt += 1
    return seeds


def selected_points(selection: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every selected configuration once, by point key."""
    return {c["point_key"]: c["point"] for tasks in selection.values() for roles in tasks.values()
            for c in roles.values() if "point" in c}


