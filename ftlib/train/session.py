"""What the training loop asks of where it runs, in one seam: its rank and world size, its device, the checkpoint
it resumes from, its shard of the packed rows, how its model is wrapped, and where a report and its checkpoint go.
``RayTrainSession`` answers inside a Ray Train V2 worker; ``LocalSession`` in the process that runs the loop itself
(a Tune trial's process, or the Ray task of ``cocktail train``)."""
from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

import ray
import ray.train
import ray.train.torch
import torch

from ftlib.core import storage
from ftlib.train.kept_checkpoints import KeptCheckpoints, local_dir

STAGING = ".checkpoint-"  # a checkpoint being saved, beside the kept ones
FULL_BYTES = 1 << 20  # a save failed with less than this free where it wrote: the disk is full


class RayTrainSession:
    """Inside a Ray Train V2 worker: Train's context, dataset shard, DDP wrapper and report."""

    def __init__(self):
        ctx = ray.train.get_context()
        self.rank, self.world = ctx.get_world_rank(), ctx.get_world_size()
        self.setup_s = 0.0  # model, optimizer and resume, timed by the loop
        self.warm = False  # a Train worker lives for one run: nothing to keep for the next

    def device(self, kind: str):
        return ray.train.torch.get_device() if kind == "cuda" else torch.device("cpu")

    @contextlib.contextmanager
    def resume_dir(self) -> Iterator[Path | None]:
        checkpoint = ray.train.get_checkpoint()
        with (checkpoint.as_directory() if checkpoint else contextlib.nullcontext()) as found:
            yield Path(found) if found else None

    def shard(self):
        return ray.train.get_dataset_shard("train")

    def prepare_model(self, model, device):
        return ray.train.torch.prepare_model(model, move_to_device=device)

    @contextlib.contextmanager
    def new_checkpoint(self) -> Iterator[Path]:
        with tempfile.TemporaryDirectory() as tmp:
            yield Path(tmp)

    def report(self, metrics: dict[str, Any], checkpoint_dir: Path) -> None:
        ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(str(checkpoint_dir)))


class LocalSession:
    """The loop in this process, one worker: the shard is the whole dataset, checkpoints are kept by
    ``KeptCheckpoints`` in Ray Train's layout under ``store_dir``, each report is appended to the run's history
    and handed to ``on_report`` (a Tune trial forwards it to Tune, so ASHA sees every step)."""

    def __init__(self, dataset, store_dir: str, history: Path, keep: int, metric: str, mode: str,
                 on_report: Callable[[dict[str, Any]], None] | None = None):
        self.rank, self.world = 0, 1
        self.setup_s = 0.0  # model, optimizer and resume, timed by the loop
        self.warm = True  # this process trains the next run too: base weights are cached (models/load.py)
        self.dataset, self.history, self.on_report = dataset, history, on_report
        self.checkpoints = KeptCheckpoints(store_dir, keep, metric, mode)
        if not storage.is_uri(store_dir):  # a process killed while it saved leaves its staging directory
            for stale in Path(store_dir).glob(f"{STAGING}*"):
                shutil.rmtree(stale, ignore_errors=True)
        self.last_metrics: dict[str, Any] | None = None

    def device(self, kind: str):
        return torch.device("cuda", torch.cuda.current_device()) if kind == "cuda" else torch.device("cpu")

    @contextlib.contextmanager
    def resume_dir(self) -> Iterator[Path | None]:
        latest = self.checkpoints.latest_path()
        with (local_dir(latest) if latest else contextlib.nullcontext()) as found:
            yield found

    def shard(self):
        return self.dataset.iterator()

    def prepare_model(self, model, device):
        return model.to(device)

    @contextlib.contextmanager
    def new_checkpoint(self) -> Iterator[Path]:
        """A directory beside the checkpoints (on a local store), so that keeping it is a rename. A save that fails
        on a full disk says so (torch's writer reports it as a bad position, not as ENOSPC)."""
        store = self.checkpoints.store_dir
        where = None if storage.is_uri(store) else store
        if where:
            Path(where).mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=STAGING, dir=where))
        tmp.chmod(0o755)  # mkdtemp's 0700 would make the kept checkpoint private
        try:
            yield tmp
        except (OSError, RuntimeError) as e:
            if shutil.disk_usage(tmp).free < FULL_BYTES:
                raise storage.StorageError(f"{store}: cannot write a checkpoint ({os.strerror(errno.ENOSPC)})") from e
            raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def report(self, metrics: dict[str, Any], checkpoint_dir: Path) -> None:
        # Persisted before Tune hears of it: a trial Tune stops at this report has its checkpoint on disk.
        self.checkpoints.persist(checkpoint_dir, metrics)
        self.history.parent.mkdir(parents=True, exist_ok=True)
        with open(self.history, "a") as f:
            f.write(json.dumps(metrics) + "\n")
        self.last_metrics = metrics
        if self.on_report is not None:
            self.on_report(metrics)
