"""The prepared-data directory: ``<task>/<split>.parquet`` plus ``manifest.json``, the commit point. A local
path, one every node mounts, or an object-store URI (ftlib.storage)."""
from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ftlib.core import storage
from ftlib.core.errors import DataError

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
DEFAULT_DATA_DIR = "outputs/data"


def read_manifest(data_dir: str | Path) -> dict:
    path = storage.join(data_dir, MANIFEST)
    data = storage.read_bytes(path)
    if data is None:
        return {"format": MANIFEST_FORMAT, "tasks": {}}
    try:
        manifest = json.loads(data)
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: not valid JSON ({e})") from None
    if manifest.get("format") != MANIFEST_FORMAT:
        raise DataError(f"{path}: format {manifest.get('format')!r}, expected {MANIFEST_FORMAT}")
    return manifest


def task_entry(data_dir: str | Path, task: str) -> dict:
    entry = read_manifest(data_dir)["tasks"].get(task)
    if entry is None:
        raise DataError(f"task {task!r} is not prepared in {data_dir}; run `cocktail data prepare --tasks {task} "
                        f"--out {data_dir}`")
    return entry


def split_path(data_dir: str | Path, task: str, split: str) -> str:
    entry = task_entry(data_dir, task)
    if split not in entry["splits"]:
        raise DataError(f"task {task!r} has no split {split!r} in {data_dir}; it has {sorted(entry['splits'])}")
    return storage.join(data_dir, entry["splits"][split]["file"])


def read_split(data_dir: str | Path, task: str, split: str) -> pa.Table:
    return pq.read_table(split_path(data_dir, task, split))
