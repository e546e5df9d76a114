"""``cocktail eval``: run the harness, write ``scores.parquet`` and ``predictions.parquet``, record test use."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pyarrow as pa

from evaluation.harness import AT, PREDICTION_SCHEMA, TaskResult, evaluate
from ftlib.errors import ConfigError
from ftlib import storage
from ftlib.io import parquet_bytes

SCORE_SCHEMA = pa.schema([("task", pa.string()), ("metric", pa.string()), ("profile", pa.string()),
                          ("value", pa.float64()), ("n", pa.int64()), ("split", pa.string()),
                          ("model_hash", pa.string())])
TEST_LEDGER = "test_ledger.jsonl"
PREDICTIONS, SCORES = "predictions.parquet", "scores.parquet"


def model_hash(*dirs: str | None) -> str:
    """sha256 over the weight and config files of the model (and adapter): what was scored, exactly."""
    h = hashlib.sha256()
    for d in filter(None, dirs):
        path = Path(d)
        if not path.is_dir():
            h.update(str(d).encode())  # a hub id: its name is what we know
            continue
        for f in sorted(p for p in path.rglob("*") if p.suffix in (".json", ".safetensors", ".bin")):
            h.update(f.relative_to(path).as_posix().encode())
            with open(f, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
    return h.hexdigest()[:16]


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
             mode: str, style: str, digest: str, ledger: str | Path | None = None) -> list[TaskResult]:
    if split not in ("validation", "test"):
        raise ConfigError(f"--split {split!r}: expected validation or test")
    results = evaluate(backend, tasks, data_dir=data_dir, split=split, limit=limit, mode=mode, style=style)
    write_results(str(out), results, split, digest)
    out = Path(out)
    if split == "test":
        # Test scores are reported once: every look at a test split is on the record.
        entry = {"time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "model_hash": digest,
                 "tasks": tasks, "limit": limit, "out": str(out.absolute())}
        ledger = Path(ledger or out.parent / TEST_LEDGER)
        ledger.parent.mkdir(parents=True, exist_ok=True)
        with open(ledger, "a") as f:
            f.write(json.dumps(entry) + "\n")
    return results
