"""One trial before and after it trains: every check that can fail before a worker starts, the digest of the data
it reads, and whether a finished run of the same config on the same data can be reused."""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftlib.core import storage
from ftlib.core.errors import ConfigError
from ftlib.core.hashing import canonical_hash
from ftlib.models.inspect import check_lora_targets, load_model_config
from ftlib.models.locate import EMBEDDED, local_model_path, models_dir
from ftlib.planner.cost import flops_per_token
from ftlib.planner.gpu_fit import shape_of
from ftlib.run.config import RunConfig
from ftlib.run.files import TRIAL_FILE
from ftlib.run.resolve import Resolved, resolve
from ftlib.tasks.prepare import ensure_prepared
from ftlib.tasks.store import read_manifest


@dataclass
class Checked:
    cfg: RunConfig
    resolved: Resolved
    model_path: str
    run_dir: Path  # where the run writes as it goes, on this node
    store_dir: str  # where its results land: run_dir itself, or its place in an object store

    @property
    def trial_file(self) -> str:
        return storage.join(self.store_dir, TRIAL_FILE)


def check_trial(cfg: RunConfig, prepare_missing: bool = True) -> Checked:
    """Every check that can fail, before a worker starts: data, model, LoRA targets, batch arithmetic, device."""
    check_data_dir(cfg)
    prepare_trial_data(cfg, prepare_missing)
    resolved = resolve(cfg, cuda=cfg.use_gpu)
    check_model(cfg, load_model_config(cfg.model))
    store_dir = storage.join(storage.absolute(cfg.output_dir), cfg.run_id())
    # An object store has no directory to write into as the run goes: stage on local disk, upload at the end.
    run_dir = Path(tempfile.gettempdir(), "cocktail-runs", cfg.run_id()) if storage.is_uri(store_dir) else \
        Path(store_dir)
    return Checked(cfg, resolved, local_model_path(cfg.model.name), run_dir, store_dir)


def check_model(cfg: RunConfig, model_config) -> None:
    if cfg.method == "lora":
        check_lora_targets(model_config, cfg.lora)
    if cfg.data.seq_len > getattr(model_config, "max_position_embeddings", cfg.data.seq_len):
        raise ConfigError(f"data.seq_len {cfg.data.seq_len} exceeds the model's max_position_embeddings "
                          f"{model_config.max_position_embeddings}")


def check_data_dir(cfg: RunConfig) -> None:
    if not storage.is_uri(cfg.data.dir) and Path(cfg.data.dir).exists() and not Path(cfg.data.dir).is_dir():
        raise ConfigError(f"data.dir {cfg.data.dir}: a file; expected the directory of prepared task data")


def check_without_side_effects(cfg: RunConfig) -> None:
    """What a dry run checks of a trial: the checks of ``check_trial`` that need no download, preparation or
    build (a model whose config is on this disk has its LoRA targets and length checked)."""
    check_data_dir(cfg)
    name = cfg.model.name
    path = str(models_dir() / name) if name in EMBEDDED else name
    if not storage.is_uri(name) and os.path.isfile(os.path.join(path, "config.json")):
        check_model(cfg, load_model_config(cfg.model))


def trial_tasks(cfg: RunConfig) -> list[str]:
    """Every task a run reads: its mixture's and its validation tasks."""
    return sorted(set(cfg.mixture.active()) | set(cfg.validation_tasks()))


def prepare_trial_data(cfg: RunConfig, prepare_missing: bool) -> None:
    ensure_prepared(cfg.data.dir, trial_tasks(cfg), cfg.data.source, cfg.seed, prepare_missing, same_source=True,
                    study=cfg.mixture.selection == "study")


def data_fingerprint(cfg: RunConfig) -> dict[str, str]:
    """Per task the run reads, a digest of its prepared train and validation files: what the run's results
    depend on beyond its config (the config hash names the data dir, not its contents)."""
    tasks = read_manifest(cfg.data.dir)["tasks"]
    return {t: canonical_hash({s: tasks[t]["splits"][s]["sha256"] for s in ("train", "validation")})
            for t in trial_tasks(cfg) if t in tasks}


def model_flops(cfg: RunConfig, tokens: int) -> float:
    """The model FLOPs of what the run trained (ftlib/planner/cost.py: 6·N or 4·N per token)."""
    return flops_per_token(shape_of(cfg, load_model_config(cfg.model)), cfg.method) * tokens


def stale_tasks(trial: dict[str, Any], cfg: RunConfig) -> list[str]:
    """Tasks whose prepared data changed since ``trial`` ran (re-prepared with another seed or source): its
    results are not this config's on this data any more."""
    old = trial.get("data_fingerprint")
    if old is None:  # a run from before fingerprints were kept
        return []
    new = data_fingerprint(cfg)
    return sorted(t for t in set(old) | set(new) if old.get(t) != new.get(t))


def finished_trial(cfg: RunConfig, trial_file: str) -> tuple[dict[str, Any] | None, list[str]]:
    """The finished run of this config to reuse, if any, and the tasks whose data changed since it ran (then there
    is none to reuse: it trains again, from scratch)."""
    done = storage.read_bytes(trial_file)
    if done is None:
        return None, []
    trial = json.loads(done)
    stale = stale_tasks(trial, cfg)
    return (None if stale else trial), stale
