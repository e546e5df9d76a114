"""What a report reads, and only reads: a sweep directory's runs (the sweep's and finalize's reruns), its
selection, its validation and test predictions, its test ledger. Nothing here trains or scores a model."""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from evaluation.ledger import TestLedger
from evaluation.outputs import PREDICTIONS
from evaluation.profiles import Outcomes, outcomes
from ftlib.core import storage
from ftlib.core.errors import ConfigError
from ftlib.tasks.catalog import get_task
from sweeps.config import SweepConfig
from sweeps.layout import (
    TRIALS_TABLE,
    final_dir,
    ledger_file,
    selection_file,
    test_dir,
    untuned_dir,
    untuned_key,
    validation_dir,
)
from sweeps.saved import checked_state, saved_config
from sweeps.selection import active_tasks
from sweeps.trial_table import load_trials


@dataclass
class Study:
    exp: str
    sweep: SweepConfig
    rows: list[dict[str, Any]]  # every run: the sweep's, then finalize's reruns (by run id, once)
    selection: dict[str, Any] | None  # final/selection.json, or None before finalize
    ledger: list[dict[str, Any]]
    profile: str = "cocktail"
    design: frozenset[str] = frozenset()  # the sweep's own runs (not finalize's reruns): what the design trained
    _outcomes: dict[tuple[str, str, str], Outcomes | None] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return self.sweep.name

    @cached_property
    def by_run(self) -> dict[str, dict[str, Any]]:
        return {r["trial_id"]: r for r in self.rows}

    def completed(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["state"] == "completed"]

    def configs(self, model: str, design_only: bool = False) -> dict[str, list[dict[str, Any]]]:
        """Completed runs of one model by configuration (point key), seeds in order; ``design_only``: the sweep's
        own runs, leaving out finalize's reruns of the configurations it selected."""
        out: dict[str, list[dict[str, Any]]] = {}
        for r in sorted(self.completed(), key=lambda r: (r["seed"], r["trial_id"])):
            if r["model"] == model and (not design_only or r["trial_id"] in self.design):
                out.setdefault(r["point_key"], []).append(r)
        return out

    def seed_groups(self, model: str) -> list[list[dict[str, Any]]]:
        """The runs a seed variance is pooled over: each design configuration's own seeds, and apart from them the
        fresh seeds finalize replicated a selected configuration with (the run that won selection is not among
        them, so its luck does not widen the spread). A design of one seed gets its seed variance from these."""
        replicates: dict[str, list[dict[str, Any]]] = {}
        for key, runs in self.configs(model).items():
            fresh = [r for r in runs if r["trial_id"] not in self.design]
            if fresh:
                replicates[key] = fresh
        return list(self.configs(model, design_only=True).values()) + list(replicates.values())

    def models(self) -> list[str]:
        return sorted({r["model"] for r in self.rows})

    def with_sources(self, model: str, sources: set[str]) -> list[list[dict[str, Any]]]:
        """Design configurations (the sweep's own runs: never finalize's reruns, which selection chose by these
        very validation numbers) whose mixture has exactly these sources."""
        return [runs for runs in self.configs(model, design_only=True).values()
                if active_tasks(runs[0]) == frozenset(sources)]

    def outcomes(self, run_id: str, task: str, split: str) -> Outcomes | None:
        """A run's per-example outcomes on a task's validation (the sweep's scoring) or test split (finalize's)."""
        key = (run_id, task, split)
        if key not in self._outcomes:
            self._outcomes[key] = self._read_outcomes(run_id, task, split)
        return self._outcomes[key]

    def untuned_outcomes(self, model: str, task: str) -> Outcomes | None:
        """The base model's test outcomes, untuned (finalize scores it beside the selected configurations)."""
        key = (untuned_key(model), task, "test")
        if key not in self._outcomes:
            self._outcomes[key] = self._read_outcomes_in(untuned_dir(self.exp, model), task, "test")
        return self._outcomes[key]

    def _read_outcomes(self, run_id: str, task: str, split: str) -> Outcomes | None:
        where = validation_dir(self.exp, run_id) if split == "validation" else test_dir(self.exp, run_id)
        return self._read_outcomes_in(where, task, split)

    def _read_outcomes_in(self, where: str, task: str, split: str) -> Outcomes | None:
        table = _predictions(storage.join(where, PREDICTIONS))
        if table is None:
            return None
        rows = table.filter(pc.and_(pc.equal(table["task"], task), pc.equal(table["split"], split)))
        if rows.num_rows == 0:
            return None
        rows = rows.filter(pc.equal(rows["mode"], rows["mode"][0]))  # one mode (the first) when both ran
        return read_outcomes(self.profile, task, rows)

    def test_entries(self, run_id: str, task: str) -> list[dict[str, Any]]:
        return [e for e in self.ledger if e.get("run_id") == run_id and e["task"] == task]


def read_outcomes(profile: str, task: str, rows: pa.Table) -> Outcomes:
    """Per-example outcomes from one task's prediction rows. Cocktail's own reading is the stored ``parsed`` /
    ``correct`` (no reparsing, vectorised); the peers' profiles read the raw outputs."""
    spec = get_task(task)
    if profile == "cocktail" and spec.kind.value == "classification":
        labels = pa.array(list(spec.labels))
        k = len(spec.labels)
        gold = pc.index_in(rows["gold"], value_set=labels).to_numpy(zero_copy_only=False)
        pred = pc.fill_null(pc.index_in(rows["parsed"], value_set=labels), k).to_numpy(zero_copy_only=False)
        group = pc.dictionary_encode(rows["group"]).combine_chunks().indices.to_numpy(zero_copy_only=False)
        kind = "avg_f1" if spec.metric == "headline" else "f1_weighted"
        return Outcomes(kind, gold.astype(np.int64), pred.astype(np.int64), group.astype(np.int64), k)
    if profile == "cocktail" and spec.metric == "final_number":
        return Outcomes.from_correct(rows["correct"].to_numpy(zero_copy_only=False))
    return outcomes(profile, spec, rows["gold"].to_pylist(), rows["output"].to_pylist(), rows["group"].to_pylist())


@functools.lru_cache(maxsize=512)
def _predictions(location: str) -> pa.Table | None:
    """A predictions file, rows ordered by example id (aligned across runs), without the prompts. Cached: one
    run's file serves all its tasks, and a run takes part in many comparisons."""
    data = storage.read_bytes(location)
    if data is None:
        return None
    buf = pa.BufferReader(data)
    present = pq.read_schema(buf).names
    table = pq.read_table(pa.BufferReader(data), columns=[c for c in COLUMNS if c in present])
    if "group" not in present:  # written before predictions kept the question type
        table = table.append_column("group", pa.array([""] * table.num_rows, pa.string()))
    return table.sort_by([("task", "ascending"), ("split", "ascending"), ("id", "ascending")])


COLUMNS = ("task", "id", "split", "mode", "group", "gold", "output", "parsed", "correct")


def load_study(exp: str, profile: str = "cocktail") -> Study:
    exp = storage.absolute(exp)
    sweep = checked_state(exp)
    rows = load_trials(exp)
    if not rows:
        raise ConfigError(f"{exp}: no {TRIALS_TABLE} (the sweep has not finished; `cocktail sweep resume {exp}`)")
    selection_bytes = storage.read_bytes(selection_file(exp))
    selection = json.loads(selection_bytes) if selection_bytes else None
    merged = {r["trial_id"]: r for r in rows}
    for path in _rerun_tables(exp):
        for r in load_trials(path):  # a rerun that reused a sweep's run is that run, scored again: same numbers
            if r["trial_id"] not in merged or r["state"] == "completed":
                merged[r["trial_id"]] = r
    return Study(exp, sweep, list(merged.values()), selection, TestLedger(ledger_file(exp)).entries,
                 profile, frozenset(r["trial_id"] for r in rows))


def _rerun_tables(exp: str) -> list[str]:
    """finalize's rerun experiments (``final/tune-<hash>/``, their trials.parquet beside in ``final/``)."""
    fs, base = storage.filesystem(final_dir(exp))
    info = fs.get_file_info(pafs.FileSelector(base, allow_not_found=True))
    return [final_dir(exp)] if any(i.base_name == TRIALS_TABLE for i in info) else []
