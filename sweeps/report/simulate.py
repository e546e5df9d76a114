"""A simulated study with a known truth, written as a finalized sweep directory the report reads like any other:
``sweep.json``, ``trials.parquet``, per-run validation predictions, finalize's selection (made by the real
``select``, from validation only), test predictions and the ledger. Tests use it to check that the report
recovers planted effects with honest intervals; benchmarks/bench_report.py times the report on it.

The truth: target task i answers an example right with probability logistic(base_i + Σ_{j in S, j ≠ i} T[i, j]
+ u + d_e), where S is the run's mixture, u ~ N(0, seed_sd) the run's seed effect, d_e ~ N(0, example_sd) the
example's difficulty (one draw per example, shared by every run: the test set is fixed within a study). A
classification answer that is wrong names another label at random. ``expected_metric`` integrates the same model
over seeds and examples: the value a study estimates.
"""
from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from evaluation.harness import PREDICTION_SCHEMA
from evaluation.outputs import PREDICTIONS
from evaluation.profiles import Outcomes
from evaluation.stats import metric_value
from ftlib.core.encode import json_bytes, parquet_bytes
from ftlib.core.storage import atomic_write_bytes
from ftlib.tasks.catalog import get_task
from sweeps.layout import ledger_file, selection_file, sweep_file, test_dir, trials_table, validation_dir
from sweeps.selection import select
from sweeps.space import point_key

MODEL = "simulated-model"


@dataclass
class Truth:
    pool: list[str]
    targets: list[str]
    base: dict[str, float]  # logit of the target trained alone
    transfer: dict[tuple[str, str], float] = field(default_factory=dict)  # (i, j) -> logit shift on i from j
    seed_sd: float = 0.15
    example_sd: float = 1.0

    def logit(self, task: str, sources: frozenset[str]) -> float:
        return self.base[task] + sum(self.transfer.get((task, j), 0.0) for j in sources if j != task)


def random_truth(rng: np.random.Generator, pool: list[str], targets: list[str], transfer_sd: float) -> Truth:
    base = {t: float(rng.uniform(-0.3, 0.9)) for t in targets}
    transfer = {(i, j): float(rng.normal(0, transfer_sd)) for i in targets for j in pool if j != i} if transfer_sd \
        else {}
    return Truth(pool, targets, base, transfer)


def design(pool: list[str]) -> list[frozenset[str]]:
    """The study's ablation: singles, pairs, leave-one-out, all."""
    k = len(pool)
    sizes = sorted({1, 2, k - 1, k})
    return [frozenset(c) for size in sizes for c in itertools.combinations(pool, size)]


def _outcomes(task: str, p_correct: np.ndarray, gold: np.ndarray, rng: np.random.Generator) -> Outcomes:
    spec = get_task(task)
    right = rng.random(len(gold)) < p_correct
    if not spec.labels:
        return Outcomes.from_correct(right)
    k = len(spec.labels)
    other = (gold + rng.integers(1, k, len(gold))) % k
    return Outcomes("f1_weighted", gold, np.where(right, gold, other), np.zeros_like(gold), k)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def expected_metric(truth: Truth, task: str, sources: frozenset[str], rng: np.random.Generator,
                    draws: int = 200_000) -> float:
    """The metric's value over seeds and examples (Monte Carlo over one large sample)."""
    spec = get_task(task)
    gold = rng.integers(0, max(len(spec.labels), 1), draws)
    z = truth.logit(task, sources) + rng.normal(0, truth.seed_sd, draws) + rng.normal(0, truth.example_sd, draws)
    return float(metric_value(_outcomes(task, _sigmoid(z), gold, rng)))


def write_study(exp: str | Path, truth: Truth, seeds: int, examples: int, rng: np.random.Generator,
                name: str = "simulated", models: int = 1) -> Path:
    """A finalized sweep over the ablation design of ``truth.pool`` for ``models`` base models (the same truth
    each), every configuration run with ``seeds`` seeds, ``examples`` validation and test examples per target."""
    exp = Path(exp)
    seed_list = list(range(seeds))
    splits = {}
    for task in truth.targets:
        labels = max(len(get_task(task).labels), 1)
        for split in ("validation", "test"):
            splits[task, split] = (rng.integers(0, labels, examples), rng.normal(0, truth.example_sd, examples))
    rows, predictions = [], {}
    model_names = [MODEL] if models == 1 else [f"{MODEL}-{m}" for m in range(models)]
    for model, sources in itertools.product(model_names, design(truth.pool)):
        point = {"sources": {t: {"weight": 1.0} for t in sorted(sources)}, "params": {}, "model": model}
        key = point_key(point)
        for seed in seed_list:
            run_id = f"{name}-{key}-s{seed}"
            row = {"trial_id": run_id, "tune_trial_id": run_id, "point_key": key, "point": json.dumps(point),
                   "model": model, "seed": seed, "state": "completed", "config_hash": f"{key}{seed}",
                   **{f"w_{t}": (1 / len(sources) if t in sources else 0.0) for t in truth.pool},
                   "run_config": json.dumps({"data": {"dir": "", "style": "plain"}, "use_gpu": False})}
            for split in ("validation", "test"):
                for task in truth.targets:
                    gold, difficulty = splits[task, split]
                    z = truth.logit(task, sources) + rng.normal(0, truth.seed_sd) + difficulty
                    out = _outcomes(task, _sigmoid(z), gold, rng)
                    predictions[run_id, split, task] = out
                    if split == "validation":
                        row[f"score_{task}"] = float(metric_value(out))
            row["objective"] = float(np.mean([row[f"score_{t}"] for t in truth.targets]))
            rows.append(row)
    sweep = {"name": name, "base": {"mixture": {"budget": 100}}, "pool": truth.pool, "seeds": seed_list,
             "search": {"grid": {"mixtures": [{t: 1.0 for t in s} for s in design(truth.pool)]}},
             "objective": {"tasks": truth.targets}}
    where = str(exp)
    atomic_write_bytes(sweep_file(where), json_bytes(sweep))
    atomic_write_bytes(trials_table(where), parquet_bytes(pa.Table.from_pylist(rows)))
    selection = select(rows, truth.pool, truth.targets, "max")
    atomic_write_bytes(selection_file(where), json_bytes({"sweep": name, "tasks": truth.targets,
                                                         "seeds": seed_list, "selection": selection}))
    selected = {c["point_key"] for by_task in selection.values() for roles in by_task.values()
                for c in roles.values() if "point_key" in c}
    ledger = []
    for row in rows:
        _write_predictions(validation_dir(where, row["trial_id"]), predictions, row["trial_id"], "validation",
                           truth.targets)
        if row["point_key"] in selected:
            _write_predictions(test_dir(where, row["trial_id"]), predictions, row["trial_id"], "test",
                               truth.targets)
            ledger += [json.dumps({"key": row["config_hash"], "task": t, "n": examples, "retest": False,
                                   "run_id": row["trial_id"], "seed": row["seed"]}) for t in truth.targets]
    atomic_write_bytes(ledger_file(where), ("\n".join(ledger) + "\n").encode())
    return exp


def _write_predictions(where: str, predictions, run_id: str, split: str, tasks: list[str]) -> None:
    records = []
    for task in tasks:
        out = predictions[run_id, split, task]
        labels = get_task(task).labels
        for e, (g, p) in enumerate(zip(out.gold, out.pred)):
            if labels:
                gold, parsed = labels[g], labels[p] if p < len(labels) else None
                output = parsed or ""
            else:  # numeric: right answers say the gold number, wrong ones another
                gold, parsed = f"{e}.5", None
                output = gold if g == p else f"{e + 1}.5"
            records.append({"task": task, "id": f"{task}-{e:06d}", "split": split, "mode": "generate", "group": "",
                            "prompt": "", "gold": gold, "output": output, "parsed": parsed, "correct": g == p})
    atomic_write_bytes(Path(where, PREDICTIONS),
                       parquet_bytes(pa.Table.from_pylist(records, schema=PREDICTION_SCHEMA)))
