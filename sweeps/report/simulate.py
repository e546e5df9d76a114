"""A simulated study with a known truth, written as a finalized sweep directory the report reads like any other:
``sweep.json``, ``trials.parquet``, per-run validation predictions, finalize's selection (made by the real
``select``, from validation only), test predictions and the ledger. Tests use it to check that the report
recovers planted effects with honest intervals; benchmarks/bench_report.py times the report on it.

The truth: target task i answers an example right with probability logistic(base_i + Σ_{j in S, j ≠ i} T[i, j]
+ c log2(x) + u + d_e), where S is the run's mixture, x the examples it trained on relative to one epoch of a
target alone (|S| × epochs: every source gives as many rows), c the compute effect (the gain of twice the
training, whatever its content), u ~ N(0, seed_sd) the run's seed effect (one draw per run and task,
the same on validation and test: a lucky run is lucky on both), d_e ~ N(0, example_sd) the example's difficulty
(one draw per example, shared by every run: the test set is fixed within a study). A
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
from sweeps.layout import final_dir, ledger_file, selection_file, sweep_file, test_dir, trials_table, validation_dir
from sweeps.report.measures import Context, compare_of, selected_runs
from sweeps.report.study import load_study
from sweeps.selection import select
from sweeps.space import point_key

MODEL = "simulated-model"
ROWS, TOKENS_PER_EXAMPLE, BATCH = 100, 120, 8  # per source and epoch: a run's tokens and steps follow


@dataclass
class Truth:
    pool: list[str]
    targets: list[str]
    base: dict[str, float]  # logit of the target trained alone
    transfer: dict[tuple[str, str], float] = field(default_factory=dict)  # (i, j) -> logit shift on i from j
    seed_sd: float = 0.15
    example_sd: float = 1.0
    compute: float = 0.0  # logit shift per doubling of the examples trained on

    def logit(self, task: str, sources: frozenset[str], epochs: int = 1) -> float:
        return (self.base[task] + sum(self.transfer.get((task, j), 0.0) for j in sources if j != task)
                + self.compute * float(np.log2(len(sources) * epochs)))


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


def configurations(truth: Truth, controls: bool) -> list[tuple[frozenset[str], int]]:
    """(sources, epochs): the ablation, one epoch each; ``controls``: each target alone for two epochs too, as many
    examples as a pair (what search.grid.compute_matched adds)."""
    extra = [(frozenset({t}), 2) for t in truth.targets] if controls else []
    return [(sources, 1) for sources in design(truth.pool)] + extra


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
                name: str = "simulated", models: int = 1, final_seeds: int | None = None,
                fresh_seeds: bool = True, controls: bool = False) -> Path:
    """A finalized sweep over the ablation design of ``truth.pool`` for ``models`` base models (the same truth
    each): every configuration run with ``seeds`` seeds and scored on ``examples`` validation examples per target;
    the configurations selected on validation replicated with ``final_seeds`` (default ``seeds``) seeds, fresh ones
    as finalize does (``fresh_seeds`` False: the selection's own runs reused, their seed effect and all, to show
    the winner's curse that finalize avoids), and scored on as many test examples. A run's seed effect is drawn
    once per task and holds on validation and test alike. ``controls``: compute-matched controls in the design."""
    exp, where = Path(exp), str(exp)
    final_seeds = final_seeds or seeds
    test_sets = {task: _test_set(task, examples, truth, rng) for task in truth.targets}
    val_sets = {task: _test_set(task, examples, truth, rng) for task in truth.targets}
    model_names = [MODEL] if models == 1 else [f"{MODEL}-{m}" for m in range(models)]
    rows, effects = [], {}
    for model, (sources, epochs) in itertools.product(model_names, configurations(truth, controls)):
        for seed in range(seeds):
            row, effects[_run_id(name, model, sources, epochs, seed)] = _run(truth, model, sources, epochs, seed,
                                                                             name, rng)
            rows.append(row)
            _score(truth, row, effects[row["trial_id"]], sources, val_sets, "validation", where, rng)
    selection = select(rows, truth.pool, truth.targets, "max")
    selected = {c["point_key"] for by_task in selection.values() for roles in by_task.values()
                for c in roles.values() if "point_key" in c}
    replicates = _replicates(truth, rows, selected, seeds, final_seeds, fresh_seeds, name, rng, effects)
    ledger = []
    design_ids = {r["trial_id"] for r in rows}
    for row, sources in replicates:
        if row["trial_id"] not in design_ids:  # a fresh run scores validation as it trains, as finalize's do
            _score(truth, row, effects[row["trial_id"]], sources, val_sets, "validation", where, rng)
        _score(truth, row, effects[row["trial_id"]], sources, test_sets, "test", where, rng)
        ledger += [json.dumps({"key": row["config_hash"], "task": t, "n": examples, "retest": False,
                               "run_id": row["trial_id"], "seed": row["seed"]}) for t in truth.targets]
    sweep = {"name": name, "base": {"mixture": {"budget": 100}}, "pool": truth.pool, "seeds": list(range(seeds)),
             "search": {"grid": {"mixtures": [{t: 1.0 for t in s} for s in design(truth.pool)],
                                 "compute_matched": controls}},
             "objective": {"tasks": truth.targets}}
    seed_list = sorted({row["seed"] for row, _ in replicates})
    atomic_write_bytes(sweep_file(where), json_bytes(sweep))
    atomic_write_bytes(trials_table(where), parquet_bytes(pa.Table.from_pylist(rows)))
    atomic_write_bytes(trials_table(final_dir(where)), parquet_bytes(pa.Table.from_pylist([r for r, _ in replicates])))
    atomic_write_bytes(selection_file(where), json_bytes({"sweep": name, "tasks": truth.targets,
                                                         "seeds": seed_list, "selection": selection}))
    atomic_write_bytes(ledger_file(where), ("\n".join(ledger) + "\n").encode())
    return exp


def _test_set(task: str, examples: int, truth: Truth, rng: np.random.Generator):
    """Gold labels and each example's difficulty (shared by every run scored on it)."""
    labels = max(len(get_task(task).labels), 1)
    return rng.integers(0, labels, examples), rng.normal(0, truth.example_sd, examples)


def _run_id(name: str, model: str, sources: frozenset[str], epochs: int, seed: int) -> str:
    return f"{name}-{point_key(_point(model, sources, epochs))}-s{seed}"


def _point(model: str, sources: frozenset[str], epochs: int) -> dict:
    return {"sources": {t: {"weight": 1.0} for t in sorted(sources)}, "params": {"epochs": epochs}, "model": model}


def _run(truth: Truth, model: str, sources: frozenset[str], epochs: int, seed: int, name: str,
         rng: np.random.Generator):
    """A run's row (no scores yet) and its seed effect per target task."""
    point = _point(model, sources, epochs)
    key, run_id = point_key(point), _run_id(name, model, sources, epochs, seed)
    examples = ROWS * len(sources) * epochs
    row = {"trial_id": run_id, "tune_trial_id": run_id, "point_key": key, "point": json.dumps(point),
           "model": model, "seed": seed, "state": "completed", "config_hash": f"{key}{seed}", "param_epochs": epochs,
           "tokens": examples * TOKENS_PER_EXAMPLE, "steps": examples // BATCH,
           **{f"w_{t}": (1 / len(sources) if t in sources else 0.0) for t in truth.pool},
           "run_config": json.dumps({"data": {"dir": "", "style": "plain"}, "use_gpu": False})}
    return row, {task: rng.normal(0, truth.seed_sd) for task in truth.targets}


def _score(truth: Truth, row: dict, effect: dict, sources, sets, split: str, where: str, rng) -> None:
    """The run's outcomes on each target's examples of ``split``, written as its predictions; validation scores
    go into its row (what selection reads)."""
    outcomes = {}
    for task, (gold, difficulty) in sets.items():
        z = truth.logit(task, sources, row["param_epochs"]) + effect[task] + difficulty
        outcomes[task] = _outcomes(task, _sigmoid(z), gold, rng)
        if split == "validation":
            row[f"score_{task}"] = float(metric_value(outcomes[task]))
    if split == "validation":
        row["objective"] = float(np.mean([row[f"score_{t}"] for t in truth.targets]))
    out = validation_dir(where, row["trial_id"]) if split == "validation" else test_dir(where, row["trial_id"])
    _write_predictions(out, outcomes, split)


def _replicates(truth: Truth, rows, selected, seeds: int, final_seeds: int, fresh: bool, name: str, rng, effects):
    """finalize's runs of the selected configurations: fresh seeds above the sweep's, or the selection's own."""
    out = []
    for row in rows:
        if row["point_key"] not in selected or row["seed"] != 0:
            continue
        sources = frozenset(t for t in truth.pool if row[f"w_{t}"])
        for k in range(final_seeds):
            if not fresh and k < seeds:
                out.append((next(r for r in rows if r["point_key"] == row["point_key"] and r["seed"] == k), sources))
                continue
            epochs = row["param_epochs"]
            again, effects[_run_id(name, row["model"], sources, epochs, seeds + k)] = _run(
                truth, row["model"], sources, epochs, seeds + k, name, rng)
            out.append((again, sources))
    return out


def _write_predictions(where: str, outcomes: dict[str, Outcomes], split: str) -> None:
    records = []
    for task, out in outcomes.items():
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


def best_multi_minus_alone(exp: str | Path, resamples: int = 200) -> list[tuple[float, float]]:
    """(difference, p) of best multi-task − alone on test, per model and target, as section 1 computes them: what
    the winner's-curse checks read off a simulated study."""
    study = load_study(str(exp))
    ctx, out = Context(resamples, seed=1), []
    for model, by_task in study.selection["selection"].items():
        for task, roles in by_task.items():
            runs = {role: selected_runs(study, model, roles[role]) for role in ("best_multi", "alone")}
            comp, _ = compare_of(study, ctx, runs["best_multi"], runs["alone"], task, "test", list(runs.values()))
            out.append((comp.diff, comp.p))
    return out
