"""Canonical splits: carve missing ones out of train (seeded, whole texts at a time) and check leakage."""
from __future__ import annotations

import math
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ftlib.core.seeding import rng_for, study_order
from ftlib.tasks.schema import TaskSpec

_SPACE = re.compile(r"\s+")


def text_key(instruction: str, input_text: str) -> str:
    """What counts as 'the same text': the input (the instruction when there is none), case and spacing folded."""
    return _SPACE.sub(" ", (input_text or instruction).lower()).strip()


def keys_of(table: pa.Table) -> list[str]:
    return [text_key(i, x) for i, x in zip(table.column("instruction").to_pylist(), table.column("input").to_pylist())]


def carve(spec: TaskSpec, train: pa.Table, splits: list[str], seed: int) -> dict[str, pa.Table]:
    """Takes each of ``splits`` out of ``train``; returns them and the rest as ``train``.

    Rows that share a text (headline: 9 questions per headline) move together, so no text is in two splits.
    """
    if not splits:
        return {"train": train}
    keys = keys_of(train)
    unique = sorted(set(keys))
    order = rng_for(seed, "carve", spec.name).permutation(len(unique))
    return _take(spec, train, splits, keys, [unique[k] for k in order])


def _take(spec: TaskSpec, train: pa.Table, splits: list[str], keys: list[str], ranked: list[str]
          ) -> dict[str, pa.Table]:
    """Fills each split in turn with the rows of the texts in ``ranked`` order (a text's rows move together)
    up to its share of ``train``; returns them and the rest as ``train``."""
    target = min(math.ceil(spec.carve_fraction * train.num_rows), spec.carve_max_rows)
    rows_by_key: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        rows_by_key.setdefault(key, []).append(i)
    assignment = np.full(train.num_rows, -1)
    texts = iter(dict.fromkeys(ranked))  # each text once, in rank order
    for index, _ in enumerate(splits):
        taken = 0
        while taken < target and (key := next(texts, None)) is not None:
            assignment[rows_by_key[key]] = index
            taken += len(rows_by_key[key])
    out = {name: _with_split(train.filter(pa.array(assignment == i)), name) for i, name in enumerate(splits)}
    out["train"] = train.filter(pa.array(assignment == -1))
    return out


def carve_beyond_cap(spec: TaskSpec, train: pa.Table, splits: list[str], raw_rows: int,
                     seed: int) -> tuple[dict[str, pa.Table], str]:
    """Study fidelity: validation from rows the study never trains on, those beyond the task's cap in its
    shuffled train split (the last rows of that order for a task without a cap), sharing no text with the rows
    within it. With no such rows (FPB: 4,846 rows under a 5,000 cap) the seeded carve stands in, and says so."""
    if not splits:
        return {"train": train}, "raw split"
    rank = np.empty(raw_rows, np.int64)
    rank[study_order(raw_rows)] = np.arange(raw_rows)
    row_rank = rank[train.column("raw_index").to_numpy()]
    target = min(math.ceil(spec.carve_fraction * train.num_rows), spec.carve_max_rows)
    boundary = spec.default_cap or raw_rows - target * len(splits)
    keys = keys_of(train)
    inside = {keys[i] for i in np.flatnonzero(row_rank < boundary)}
    ranked = [keys[i] for i in np.argsort(row_rank, kind="stable") if row_rank[i] >= boundary and keys[i] not in inside]
    if not ranked:
        return carve(spec, train, splits, seed), "carved from train: no rows beyond the study's cap"
    return _take(spec, train, splits, keys, ranked), "beyond the study's cap"


def drop_leaks(tables: dict[str, pa.Table], splits: tuple[str, ...] = ("train", "validation")
               ) -> tuple[dict[str, pa.Table], dict[str, int]]:
    """Removes rows of ``splits`` whose text is also in test; returns the tables and counts per split (a split
    left alone is counted as ``<split>_kept``)."""
    if "test" not in tables:
        return tables, {}
    test_keys = set(keys_of(tables["test"]))
    counts = {}
    out = dict(tables)
    for name in ("train", "validation"):
        if name not in tables:
            continue
        leaked = np.array([k in test_keys for k in keys_of(tables[name])], dtype=bool)
        if name not in splits:
            counts[f"{name}_kept"] = int(leaked.sum())
            continue
        counts[name] = int(leaked.sum())
        out[name] = tables[name].filter(pa.array(~leaked))
    return out, counts


def _with_split(table: pa.Table, name: str) -> pa.Table:
    index = table.schema.get_field_index("split")
    return table.set_column(index, "split", pc.cast(pa.array([name] * table.num_rows), pa.string()))
