"""An evaluation's outputs: run the harness, write ``scores.parquet`` and ``predictions.parquet``, record test use."""
from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from evaluation.harness import AT, PREDICTION_SCHEMA, TaskResult, evaluate
from evaluation.ledger import LEDGER, TestLedger
from ftlib.core import storage
from ftlib.core.encode import parquet_bytes
from ftlib.core.errors import ConfigError

SCORE_SCHEMA = pa.schema([("task", pa.string()), ("metric", pa.string()), ("profile", pa.string()),
                          ("value", pa.float64()), ("n", pa.int64()), ("split", pa.string()),
                          ("model_hash", pa.string())])
PREDICTIONS, SCORES = "predictions.parquet", "scores.parquet"


def scores_table(results: list[TaskResult], split: str, digest: str) -> pa.Table:
    rows = []
    for r in results:
        for key, value in r.scores.items():
            metric, _, profile = key.partition(AT)
            rows.append({"task": r.task, "metric": metric, "profile": profile or "cocktail", "value": float(value),
                         "n": r.n, "split": split, "model_hash": digest})
    return pa.Table.from_pylist(rows, schema=SCORE_SCHEMA)


def write_results(out: str, results: list[TaskResult], split: str, digest: str) -> None:
    """``predictions.parquet`` (every example: prompt, output, parsed answer, correct?) and ``scores.parquet``
    under ``out`` (a local path or an object-store URI)."""
    predictions = pa.Table.from_pylist([p for r in results for p in r.predictions], schema=PREDICTION_SCHEMA)
    storage.write_bytes(storage.join(out, PREDICTIONS), parquet_bytes(predictions))
    storage.write_bytes(storage.join(out, SCORES), parquet_bytes(scores_table(results, split, digest)))


def run_eval(backend, tasks: list[str], *, data_dir: str, out: str | Path, split: str, limit: int | None,
             mode: str, style: str, digest: str, ledger: str | None = None, retest: bool = False) -> list[TaskResult]:
    """Scores and predictions under ``out``. A test split is scored once per model and task (``retest`` to
    score again), and every scoring is appended to the test ledger (default: beside ``out``)."""
    if split not in ("validation", "test"):
        raise ConfigError(f"--split {split!r}: expected validation or test")
    out = storage.absolute(out)
    book = TestLedger(ledger or storage.join(str(Path(out).parent), LEDGER)) if split == "test" else None
    if book is not None:
        book.refuse_repeats(digest, tasks, retest)
    results = evaluate(backend, tasks, data_dir=data_dir, split=split, limit=limit, mode=mode, style=style)
    write_results(out, results, split, digest)
    for r in results if book is not None else []:
        book.record(digest, r.task, n=r.n, out=out, retest=retest, limit=limit)
    return results
