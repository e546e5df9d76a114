"""Plan a mixture in the driver: which rows of which source, how many repeats, in what order.

Pure numpy from the spec's seed, so the same spec and data give the same plan and plan hash. The plan is
saved with the trial; Ray Data only executes it.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ftlib.core.encode import parquet_bytes
from ftlib.core.errors import DataError
from ftlib.core.hashing import canonical_hash
from ftlib.core.seeding import rng_for, study_order
from ftlib.core.storage import atomic_write_bytes
from ftlib.data.spec import MixtureSpec, Source, SumOf
from ftlib.tasks.catalog import get_task
from ftlib.tasks.store import read_manifest, read_split

PLAN_META_KEY = b"cocktail.plan"
TokenLengths = Callable[[str], np.ndarray]  # task -> tokens per train row (index = row)


@dataclass
class SourcePlan:
    task: str
    available: int  # train rows prepared
    pool: int  # distinct rows the source may use (cap applied)
    target_share: float  # in the spec's unit
    rows: int  # examples planned
    tokens: int | None  # tokens planned (when lengths are known)
    epochs: float  # rows / pool: > 1 means up-sampled


@dataclass
class Plan:
    spec: MixtureSpec
    sources: list[SourcePlan]
    task_index: np.ndarray  # int16, index into task_names, one per example in training order
    row: np.ndarray  # int64, row of the task's train split
    data_fingerprint: dict[str, str]  # task -> sha256 of its train Parquet
    hash: str

    @property
    def task_names(self) -> list[str]:
        return [s.task for s in self.sources]

    @property
    def num_examples(self) -> int:
        return len(self.row)

    def realized_shares(self) -> dict[str, float]:
        """Shares in the spec's unit."""
        if self.spec.unit == "tokens":
            total = sum(s.tokens or 0 for s in self.sources)
            return {s.task: (s.tokens or 0) / total for s in self.sources}
        return {s.task: s.rows / self.num_examples for s in self.sources}

    def table(self) -> pa.Table:
        return pa.table({
            "task": pa.DictionaryArray.from_arrays(pa.array(self.task_index, pa.int16()), self.task_names),
            "row": pa.array(self.row, pa.int64()),
        })

    def summary(self) -> dict:
        return {"hash": self.hash, "examples": self.num_examples, "spec": self.spec.model_dump(mode="json"),
                "sources": [asdict(s) for s in self.sources], "data_fingerprint": self.data_fingerprint}

    def save(self, path: str | Path) -> None:
        table = self.table().replace_schema_metadata({PLAN_META_KEY: json.dumps(self.summary()).encode()})
        atomic_write_bytes(path, parquet_bytes(table))

    @classmethod
    def load(cls, path: str | Path) -> "Plan":
        table = pq.read_table(path)
        meta = json.loads(table.schema.metadata[PLAN_META_KEY])
        task = table.column("task").combine_chunks()
        return cls(spec=MixtureSpec.model_validate(meta["spec"]), sources=[SourcePlan(**s) for s in meta["sources"]],
                   task_index=task.indices.to_numpy().astype(np.int16), row=table.column("row").to_numpy(),
                   data_fingerprint=meta["data_fingerprint"], hash=meta["hash"])


def make_plan(spec: MixtureSpec, data_dir: str | Path, token_lengths: TokenLengths | None = None) -> Plan:
    if spec.unit == "tokens" and token_lengths is None:
        raise DataError("a token budget needs token lengths: give a tokenizer")
    manifest = read_manifest(data_dir)["tasks"]
    if spec.selection == "study":
        return _study_plan(spec, data_dir, manifest)
    active = dict(sorted(spec.active().items()))  # the plan must not depend on the order sources are written in
    available = {name: _train_rows(manifest, name, data_dir) for name in active}
    pools = {name: _pool(spec, name, src, available[name]) for name, src in active.items()}
    lengths = {name: token_lengths(name) for name in active} if token_lengths else {}

    if spec.weighted:
        weights = _effective_weights(spec, {n: len(p) for n, p in pools.items()})
        if spec.unit == "examples":
            targets = dict(zip(weights, _largest_remainder(list(weights.values()), spec.budget)))
        else:
            targets = {n: w * spec.budget for n, w in weights.items()}
    else:
        targets = {n: _rows_target(src, len(pools[n]), manifest, data_dir) for n, src in active.items()}
        total = sum(targets.values())
        weights = {n: t / total for n, t in targets.items()}

    sources, task_chunks, row_chunks = [], [], []
    for i, name in enumerate(active):
        pool = pools[name]
        if spec.unit == "tokens":
            rows = _sequence_for_tokens(spec, name, pool, lengths[name], targets[name])
        else:
            count = int(targets[name]) if spec.fill == "repeat" else min(int(targets[name]), len(pool))
            rows = _sequence(spec, name, pool, count)
        tokens = int(lengths[name][rows].sum()) if lengths else None
        sources.append(SourcePlan(name, available[name], len(pool), weights[name], len(rows), tokens,
                                  len(rows) / len(pool)))
        task_chunks.append(np.full(len(rows), i, np.int16))
        row_chunks.append(rows)
    task_index, row = np.concatenate(task_chunks), np.concatenate(row_chunks)
    if len(row) == 0:
        raise DataError("the mixture plans no examples (budget too small for any source)")
    order = rng_for(spec.seed, "order").permutation(len(row))
    return _hashed(spec, sources, task_index[order], row[order], manifest)


def _hashed(spec: MixtureSpec, sources: list[SourcePlan], task_index: np.ndarray, row: np.ndarray,
            manifest: dict) -> Plan:
    """The plan, named by its spec, its data (the train files' digests) and its order."""
    fingerprint = {s.task: manifest[s.task]["splits"]["train"]["sha256"] for s in sources}
    digest = canonical_hash({"spec": spec.model_dump(mode="json"), "data": fingerprint,
                             "tasks": [s.task for s in sources],
                             "order": canonical_hash(task_index.tobytes() + row.tobytes(), 64)}, 16)
    return Plan(spec, sources, task_index, row, fingerprint, digest)


def _study_plan(spec: MixtureSpec, data_dir, manifest: dict) -> Plan:
    """The study's rows and order (see MixtureSpec): raw rows the preparation dropped as bad are the only ones
    missing, and ``SourcePlan.pool - rows`` counts them."""
    def raw_train_rows(name: str) -> int:
        entry = manifest.get(name)
        if entry is None or entry.get("fidelity") != "study":
            raise DataError(f"task {name!r} is not prepared for selection: study in {data_dir}; run `cocktail data "
                            f"prepare --tasks {name} --study`")
        return entry["raw_rows"][_raw_train_split(name)]

    sources, task_chunks, row_chunks = [], [], []
    for i, (name, source) in enumerate(spec.active().items()):
        raw_rows = raw_train_rows(name)
        if source.rows == "all":
            count = min(source.cap or raw_rows, raw_rows)
        elif isinstance(source.rows, SumOf):
            count = math.floor(source.rows.scale * sum(min(raw_train_rows(t), cap or math.inf)
                                                       for t, cap in source.rows.sum_of.items()))
        else:
            count = min(int(source.rows), source.cap or raw_rows, raw_rows)
        raw_index = read_split(data_dir, name, "train").column("raw_index").to_numpy()
        row_of = np.full(raw_rows, -1, np.int64)
        row_of[raw_index] = np.arange(len(raw_index))
        rows = row_of[study_order(raw_rows)[:count]]
        rows = rows[rows >= 0]
        sources.append(SourcePlan(name, len(raw_index), count, 0.0, len(rows), None, len(rows) / max(count, 1)))
        task_chunks.append(np.full(len(rows), i, np.int16))
        row_chunks.append(rows)
    total = sum(s.rows for s in sources)
    for s in sources:
        s.target_share = s.rows / max(total, 1)
    task_index, row = np.concatenate(task_chunks), np.concatenate(row_chunks)
    if len(row) == 0:
        raise DataError("the mixture plans no examples")
    order = study_order(len(row), spec.seed)  # the concatenation shuffled (seed 42: the study's order)
    return _hashed(spec, sources, task_index[order], row[order], manifest)


def _raw_train_split(name: str) -> str:
    return get_task(name).raw_splits["train"]


def _train_rows(manifest: dict, name: str, data_dir) -> int:
    if name not in manifest:
        raise DataError(f"task {name!r} has no prepared data in {data_dir}; run `cocktail data prepare --tasks {name}`")
    rows = manifest[name]["splits"]["train"]["rows"]
    if rows == 0:
        raise DataError(f"task {name!r} has an empty train split in {data_dir}")
    return rows


def _pool(spec: MixtureSpec, name: str, source: Source, available: int) -> np.ndarray:
    """The study's sampling: shuffle the train split with the seed, keep the first ``cap`` rows."""
    order = rng_for(spec.seed, "pool", name).permutation(available)
    return order[: source.cap] if source.cap else order


def _effective_weights(spec: MixtureSpec, pool_sizes: dict[str, int]) -> dict[str, float]:
    raw = {n: spec.sources[n].weight for n in pool_sizes}
    if spec.temperature:
        raw = {n: w * pool_sizes[n] ** (1.0 / spec.temperature) for n, w in raw.items()}
    total = sum(raw.values())
    return {n: w / total for n, w in raw.items()}


def _largest_remainder(weights: list[float], total: int) -> list[int]:
    """Integer counts summing to ``total``, each within 1 of ``weight * total``."""
    exact = np.array(weights) * total
    counts = np.floor(exact).astype(int)
    counts[np.argsort(-(exact - counts), kind="stable")[: total - counts.sum()]] += 1
    return counts.tolist()


def _rows_target(source: Source, pool: int, manifest: dict, data_dir) -> int:
    if source.rows == "all":
        return pool
    if isinstance(source.rows, SumOf):
        total = sum(min(_train_rows(manifest, name, data_dir), cap or math.inf)
                    for name, cap in source.rows.sum_of.items())
        return math.floor(source.rows.scale * total)
    return int(source.rows)


def _sequence(spec: MixtureSpec, name: str, pool: np.ndarray, count: int) -> np.ndarray:
    """``count`` rows: the pool in order, then (up-sampling) fresh seeded permutations of it."""
    epochs = [pool]
    e = 1
    while sum(len(x) for x in epochs) < count:
        epochs.append(pool[rng_for(spec.seed, "epoch", name, str(e)).permutation(len(pool))])
        e += 1
    return np.concatenate(epochs)[:count].astype(np.int64)


def _sequence_for_tokens(spec: MixtureSpec, name: str, pool: np.ndarray, lengths: np.ndarray,
                         target: float) -> np.ndarray:
    """Rows until their tokens are closest to ``target`` (stopping at the pool's end under ``fill: cap``)."""
    pool_tokens = int(lengths[pool].sum())
    epochs_needed = 1 if spec.fill == "cap" else max(1, math.ceil(target / max(pool_tokens, 1)) + 1)
    rows = _sequence(spec, name, pool, len(pool) * epochs_needed)
    cumulative = np.cumsum(lengths[rows])
    k = int(np.searchsorted(cumulative, target))
    if k < len(rows) and k > 0 and abs(cumulative[k - 1] - target) <= abs(cumulative[k] - target):
        return rows[:k]
    return rows[: min(k + 1, len(rows))]
