"""Execute a plan: plan rows -> records -> tokens with loss mask -> packed rows.

``pack_plan_batch`` is one pure function over a slice of the plan; Ray Data maps it over the plan in
parallel (``ftlib.data.dataset``), and tests and benchmarks call it in-process. Workers read the prepared
Parquet themselves (cached per process), so the driver never holds the data. The plan already fixes the
order, so there is no ``random_shuffle`` (seconds of overhead each, even on small data).
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pyarrow as pa

from ftlib.data.pack import pack
from ftlib.data.plan import Plan
from ftlib.data.tokenize import RECORD_COLUMNS, example_lengths, record_columns, tokenize_records
from ftlib.models.locate import resolve_model
from ftlib.models.tokenizer import load_tokenizer
from ftlib.tasks.store import read_split, task_entry


@functools.lru_cache(maxsize=64)
def _train_table(data_dir: str, task: str, fingerprint: str) -> pa.Table:
    """One read per process and source (keyed by the file digest, so new data is never served stale)."""
    return read_split(data_dir, task, "train").select(list(RECORD_COLUMNS))


@functools.lru_cache(maxsize=4)
def cached_tokenizer(path: str, trust_remote_code: bool = False):
    """``trust_remote_code``: the model config's switch (a tokenizer that ships its own code, as Phi-3-small's)."""
    return load_tokenizer(path, trust_remote_code)


def records_for(plan_batch: pa.Table, data_dir: str, fingerprints: dict[str, str]) -> dict[str, list[str]]:
    """The canonical records of a slice of the plan, in plan order."""
    task = plan_batch.column("task").combine_chunks()
    names, codes = task.dictionary.to_pylist(), task.indices.to_numpy()
    rows = plan_batch.column("row").to_numpy()
    parts, positions = [], []
    for code in np.unique(codes):
        where = np.flatnonzero(codes == code)
        name = names[code]
        parts.append(_train_table(data_dir, name, fingerprints[name]).take(pa.array(rows[where])))
        positions.append(where)
    table = pa.concat_tables(parts).take(pa.array(np.argsort(np.concatenate(positions), kind="stable")))
    return record_columns(table)


def pack_records(records: dict[str, list[str]], tokenizer, seq_len: int, style: str) -> dict[str, np.ndarray]:
    """Render, tokenize with the response-only loss mask, and pack: training and validation rows alike."""
    ids, prompt_lens = tokenize_records(records, tokenizer, style)
    packed, _ = pack(ids, prompt_lens, seq_len, tokenizer.pad_token_id)
    return packed


def pack_plan_batch(plan_batch: pa.Table, *, data_dir: str, fingerprints: dict[str, str], tokenizer_path: str,
                    seq_len: int, style: str, trust_remote_code: bool = False) -> dict[str, np.ndarray]:
    return pack_records(records_for(plan_batch, data_dir, fingerprints),
                        cached_tokenizer(tokenizer_path, trust_remote_code), seq_len, style)


def pack_plan(plan: Plan, data_dir: str | Path, tokenizer_path: str, seq_len: int, style: str = "plain",
              examples_per_batch: int = 512, trust_remote_code: bool = False) -> dict[str, np.ndarray]:
    """The same rows as ``training_dataset``, computed in this process."""
    table = plan.table()
    parts = [pack_plan_batch(table.slice(i, examples_per_batch), data_dir=str(data_dir),
                             fingerprints=plan.data_fingerprint, tokenizer_path=tokenizer_path, seq_len=seq_len,
                             style=style, trust_remote_code=trust_remote_code)
             for i in range(0, table.num_rows, examples_per_batch)]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def token_lengths_fn(data_dir: str | Path, tokenizer: str, style: str = "plain", trust_remote_code: bool = False):
    """task -> tokens per train row, for token budgets. The tokenizer (an embedded name or a path) is
    resolved on first use, after the plan has checked its data."""
    def lengths(task: str) -> np.ndarray:
        table = _train_table(str(data_dir), task, task_entry(data_dir, task)["splits"]["train"]["sha256"])
        return example_lengths(record_columns(table), cached_tokenizer(resolve_model(tokenizer), trust_remote_code),
                               style)

    return lengths
