"""The checkpoints of a run trained outside Ray Train (the ``tune`` executor), kept exactly as Ray Train V2 keeps
them: ``checkpoint_<time>/`` directories under the run's storage dir and ``checkpoint_manager_snapshot.json``
in Ray's own schema, so either executor resumes what the other left, and finalize, the trimmer and the tests read
one layout. Ray's CheckpointManager itself needs the Train controller's event loop (it notifies through
``asyncio.create_task``), so this writes the same snapshot with the same keep rule: the ``keep`` best by the
score, and always the latest."""
from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

import pyarrow.fs as pafs
import ray

from ftlib.core import storage

SNAPSHOT = "checkpoint_manager_snapshot.json"  # ray.train.v2._internal.constants.CHECKPOINT_MANAGER_SNAPSHOT_FILENAME


def _entry(name: str, metrics: dict[str, Any]) -> dict[str, Any]:
    return {"version": 0, "checkpoint_dir_name": name, "metrics": metrics}


class KeptCheckpoints:
    """Persists each reported checkpoint under ``store_dir`` (a path or URI) and drops those the rule lets go."""

    def __init__(self, store_dir: str, keep: int, metric: str, mode: str):
        self.store_dir, self.keep, self.metric, self.mode = store_dir, keep, metric, mode
        data = storage.read_bytes(storage.join(store_dir, SNAPSHOT))
        state = json.loads(data) if data else {}
        self.results: list[dict[str, Any]] = state.get("checkpoint_results", [])  # worst first, as Ray keeps them
        self.indices: list[int] = state.get("checkpoint_report_indices", [])
        self.latest: dict[str, Any] | None = state.get("latest_checkpoint_result")
        self.reports: int = state.get("current_report_index", 0)

    def _score(self, metrics: dict[str, Any]) -> float:
        value = float(metrics.get(self.metric, float("nan")))
        return value if self.mode == "max" else -value

    def latest_path(self) -> str | None:
        return storage.join(self.store_dir, self.latest["checkpoint_dir_name"]) if self.latest else None

    def best_path(self) -> str | None:
        return storage.join(self.store_dir, self.results[-1]["checkpoint_dir_name"]) if self.results else None

    def persist(self, local_dir: Path, metrics: dict[str, Any]) -> str:
        """Moves (local store) or uploads (object store) ``local_dir`` as a new checkpoint, records it, then
        drops the checkpoints no longer kept (the snapshot is written first, as Ray does)."""
        name = f"checkpoint_{datetime.now().strftime('%Y-%m-%d_%H-%M-%S.%f')}"
        target = storage.join(self.store_dir, name)
        if storage.is_uri(target):
            storage.upload_dir(local_dir, target)
        else:
            shutil.move(str(local_dir), target)
        entry = _entry(name, metrics)
        at = next((i for i, r in enumerate(self.results) if self._score(r["metrics"]) > self._score(metrics)),
                  len(self.results))
        self.results.insert(at, entry)
        self.indices.insert(at, self.reports)
        self.latest, self.reports = entry, self.reports + 1
        drop = [r for r in self.results[:-self.keep] if r is not self.latest]
        kept = [(r, i) for r, i in zip(self.results, self.indices) if not any(r is d for d in drop)]
        self.results, self.indices = [r for r, _ in kept], [i for _, i in kept]
        self._write_snapshot()
        for r in drop:
            storage.remove_dir(storage.join(self.store_dir, r["checkpoint_dir_name"]))
        return target

    def _write_snapshot(self) -> None:
        snapshot = {"ray_version": ray.__version__, "checkpoint_results": self.results,
                    "checkpoint_report_indices": self.indices, "latest_checkpoint_result": self.latest,
                    "pending_training_results": [], "pending_validation_specs": [],
                    "current_report_index": self.reports, "validated_checkpoint_dir_names": [],
                    "timed_out_validation_checkpoint_dir_names": [], "failed_validation_checkpoint_dir_names": []}
        storage.write_bytes(storage.join(self.store_dir, SNAPSHOT), json.dumps(snapshot).encode())


@contextlib.contextmanager
def local_dir(location: str) -> Iterator[Path]:
    """A checkpoint as a local directory: itself, or (object store) a temporary download, removed afterwards."""
    if not storage.is_uri(location):
        yield Path(location)
        return
    fs, path = storage.filesystem(location)
    tmp = Path(tempfile.mkdtemp(prefix="cocktail-resume-"))
    try:
        pafs.copy_files(path, str(tmp), source_filesystem=fs, destination_filesystem=pafs.LocalFileSystem())
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
