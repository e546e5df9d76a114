"""Canonical splits: carve missing ones out of train (seeded, whole texts at a time) and check leakage."""
from __future__ import annotations

import math
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ftlib.seeding import rng_for
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
    target = min(math.ceil(spec.carve_fraction * train.num_rows), spec.carve_max_rows)
    rows_by_key: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        rows_by_key.setdefault(key, []).append(i)
    assignment = np.full(train.num_rows, -1)
    cursor = 0
    for index, _ in enumerate(splits):
        taken = 0
        while taken < target and cursor < len(order):
            rows = rows_by_key[unique[order[cursor]]]
            assignment[rows] = index
            taken += len(rows)
            cursor += 1
    out = {name: _with_split(train.filter(pa.array(assignment == i)), name) for i, name in enumerate(splits)}
    out["train"] = train.filter(pa.array(assignment == -1))
    return out


def drop_leaks(tables: dict[str, pa.Table]) -> tuple[dict[str, pa.Table], dict[str, int]]:
    """Removes train / validation rows whose text is also in test; returns the tables and counts per split."""
    if "test" not in tables:
        return tables, {}
    test_keys = set(keys_of(tables["test"]))
    counts = {}
    out = dict(tables)
    for name in ("train", "validation"):
        if name not in tables:
            continue
        leaked = np.array([k in test_keys for k in keys_of(tables[name])], dtype=bool)
        counts[name] = int(leaked.sum())
        out[name] = tables[name].filter(pa.array(~leaked))
    return out, counts


def _with_split(table: pa.Table, name: str) -> pa.Table:
    index = table.schema.get_field_index("split")
    return table.set_column(index, "split", pc.cast(pa.array([name] * table.num_rows), pa.string()))
