"""Driver side of one trial: check everything, plan the mixture, build the data, fit the TorchTrainer,
save the final model and ``trial.json`` in the run directory (named by the config hash)."""
from __future__ import annotations

import dataclasses
import platform
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftlib import storage
from ftlib.errors import ConfigError, DataError
from ftlib.io import atomic_dir, atomic_write_json, json_bytes
from ftlib.train.config import RunConfig
from ftlib.train.resolve import Resolved, resolve


@dataclass
class Checked:
    cfg: RunConfig
    resolved: Resolved
    model_path: str
    run_dir: Path  # where the run writes as it goes, on this node
    store_dir: str  # where its results land: run_dir itself, or its place in an object store

    @property
    def trial_file(self) -> str:
        return storage.join(self.store_dir, "trial.json")


def check(cfg: RunConfig, prepare_missing: bool = True) -> Checked:
    """Every check that can fail, before a worker starts: data, model, LoRA targets, batch arithmetic, device."""
    from ftlib.models.load import check_lora_targets, load_config, local_model_path

    ensure_prepared(cfg, prepare_missing)
    resolved = resolve(cfg, cuda=cfg.use_gpu)
    model_config = load_config(cfg.model)
    if cfg.method == "lora":
        check_lora_targets(model_config, cfg.lora)
    if cfg.data.seq_len > getattr(model_config, "max_position_embeddings", cfg.data.seq_len):
        raise ConfigError(f"data.seq_len {cfg.data.seq_len} exceeds the model's max_position_embeddings "
                          f"{model_config.max_position_embeddings}")
    store_dir = storage.join(storage.absolute(cfg.output_dir), cfg.run_id())
    # An object store has no directory to write into as the run goes: stage on local disk, upload at the end.
    run_dir = Path(tempfile.gettempdir(), "cocktail-runs", cfg.run_id()) if storage.is_uri(store_dir) else \
        Path(store_dir)
    return Checked(cfg, resolved, local_model_path(cfg.model.name), run_dir, store_dir)


def ensure_prepared(cfg: RunConfig, prepare_missing: bool) -> None:
    from ftlib.tasks.prepare import ensure_prepared as prepare_tasks

    needed = sorted(set(cfg.mixture.active()) | set(cfg.validation_tasks()))
    prepare_tasks(cfg.data.dir, needed, cfg.data.source, cfg.seed, prepare_missing, same_source=True,
                  study=cfg.mixture.selection == "study")


def data_fingerprint(cfg: RunConfig) -> dict[str, str]:
    """Per task the run reads, a digest of its prepared train and validation files: what the run's results
    depend on beyond its config (the config hash names the data dir, not its contents)."""
    from ftlib.io import canonical_hash
    from ftlib.tasks.store import read_manifest

    tasks = read_manifest(cfg.data.dir)["tasks"]
    needed = sorted(set(cfg.mixture.active()) | set(cfg.validation_tasks()))
    return {t: canonical_hash({s: tasks[t]["splits"][s]["sha256"] for s in ("train", "validation")})
            for t in needed if t in tasks}


def model_flops(cfg: RunConfig, tokens: int) -> float:
    """The model FLOPs of what the run trained (ftlib/planner/cost.py: 6·N or 4·N per token)."""
    from ftlib.models.load import load_config
    from ftlib.planner.cost import flops_per_token
    from ftlib.planner.fit import shape_of

    return flops_per_token(shape_of(cfg, load_config(cfg.model)), cfg.method) * tokens


def stale_tasks(trial: dict[str, Any], cfg: RunConfig) -> list[str]:
    """Tasks whose prepared data changed since ``trial`` ran (re-prepared with another seed or source): its
    results are not this config's on this data any more."""
    old = trial.get("data_fingerprint")
    if old is None:  # a run from before fingerprints were kept
        return []
    new = data_fingerprint(cfg)
    return sorted(t for t in set(old) | set(new) if old.get(t) != new.get(t))


def run_trial(cfg: RunConfig, callbacks: list | None = None, checked: Checked | None = None,
              fresh: bool = False) -> dict[str, Any]:
    """Runs one trial to the end (Ray must be initialised); returns the contents of ``trial.json``. A run that
    was interrupted (its process lost, its trial retried) continues from its last checkpoint and its history goes
    on; ``fresh`` throws away what an earlier run of this config left (``cocktail train --force``)."""
    import ray.train
    from ray.train.torch import TorchTrainer

    from ftlib.data.pipeline import cached_tokenizer, token_lengths_fn, training_dataset
    from ftlib.data.plan import make_plan
    from ftlib.train.history import MetricsHistory, read_history
    from ftlib.train.loop import train_loop_per_worker
    from ftlib.train.validation import validation_rows

    started = time.time()
    checked = checked or check(cfg)
    res, run_dir = checked.resolved, checked.run_dir
    if fresh:  # checkpoints too: Ray Train would resume from those left under the same run name
        storage.remove_dir(checked.store_dir)
        shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    history = run_dir / "metrics.jsonl"
    atomic_write_json(run_dir / "run_config.json", cfg.model_dump(mode="json"))
    trust = cfg.model.trust_remote_code
    lengths = token_lengths_fn(cfg.data.dir, checked.model_path, cfg.data.style, trust) \
        if cfg.mixture.unit == "tokens" else None
    plan = make_plan(cfg.mixture, cfg.data.dir, lengths)
    plan.save(run_dir / "plan.parquet")

    dataset = training_dataset(plan, storage.absolute(cfg.data.dir), checked.model_path, cfg.data.seq_len,
                               cfg.data.style, cfg.data.examples_per_block, trust_remote_code=trust).materialize()
    rows = dataset.count()
    micro_per_epoch = rows // cfg.num_workers // cfg.micro_batch_size // res.grad_accum * res.grad_accum
    steps_per_epoch = micro_per_epoch // res.grad_accum
    if steps_per_epoch == 0:
        raise DataError(f"the mixture packs into {rows} rows of {cfg.data.seq_len} tokens: fewer than one global "
                        f"batch of {res.global_batch_size}; raise the budget or lower the batch")
    total_steps = min(cfg.max_steps or 10**12, steps_per_epoch * cfg.epochs)
    tokenizer = cached_tokenizer(checked.model_path, trust)
    validation = validation_rows(cfg.data.dir, cfg.validation_tasks(), tokenizer, cfg.data.seq_len, cfg.data.style,
                                 cfg.data.val_examples)

    trainer = TorchTrainer(
        train_loop_per_worker,
        train_loop_config={"run": cfg.model_dump(mode="json"), "resolved": dataclasses.asdict(res),
                           "tokenizer_path": checked.model_path, "total_steps": total_steps,
                           "micro_per_epoch": micro_per_epoch, "validation": validation},
        scaling_config=ray.train.ScalingConfig(num_workers=cfg.num_workers, use_gpu=cfg.use_gpu,
                                               resources_per_worker={"CPU": cfg.cpus_per_worker,
                                                                     **cfg.worker_resources}),
        run_config=ray.train.RunConfig(
            name=cfg.run_id(), storage_path=storage.absolute(cfg.output_dir),  # checkpoints go straight there
            checkpoint_config=ray.train.CheckpointConfig(num_to_keep=cfg.keep_checkpoints,
                                                         checkpoint_score_attribute=cfg.checkpoint_metric,
                                                         checkpoint_score_order=cfg.checkpoint_mode),
            failure_config=ray.train.FailureConfig(max_failures=cfg.max_failures,
                                                   controller_failure_limit=cfg.controller_failure_limit),
            callbacks=[MetricsHistory(history), *(callbacks or [])]),
        datasets={"train": dataset},
    )
    result = trainer.fit()
    if result.checkpoint is None:
        raise RuntimeError(f"trial {cfg.run_id()} reported no checkpoint")
    with result.checkpoint.as_directory() as last, atomic_dir(run_dir / "model") as tmp:
        shutil.copytree(Path(last) / "model", tmp, dirs_exist_ok=True)
    best = result.get_best_checkpoint(cfg.checkpoint_metric, cfg.checkpoint_mode)
    trial = {
        "run_id": cfg.run_id(),
        "config_hash": cfg.config_hash(),
        "plan_hash": plan.hash,
        "data_fingerprint": data_fingerprint(cfg),
        "flops": model_flops(cfg, result.metrics["tokens"]),
        "steps": result.metrics["step"],
        "tokens": result.metrics["tokens"],
        "examples": plan.num_examples,
        # Realized mixture: examples per task and their share of all examples (what a trial actually trained on).
        "mixture": {s.task: {"rows": s.rows, "share": s.rows / plan.num_examples, "tokens": s.tokens}
                    for s in plan.sources},
        "packed_rows": rows,
        # Trained examples longer than seq_len (the start of their prompt was cut), counted by the workers.
        "examples_cut": result.metrics.get("examples_cut", 0),
        "wall_s": round(time.time() - started, 2),
        "device": res.device,
        "device_name": _device_name(res.device),
        "num_workers": cfg.num_workers,
        "precision": res.precision,
        "deepspeed_stage": cfg.deepspeed.stage if cfg.deepspeed else None,
        "method": cfg.method,
        "final_metrics": result.metrics,
        "history": read_history(history),
        "best_checkpoint": storage.join(checked.store_dir, Path(best.path).name) if best else None,
        "model_dir": storage.join(checked.store_dir, "model"),
    }
    if storage.is_uri(checked.store_dir):
        storage.upload_dir(run_dir, checked.store_dir)
        shutil.rmtree(run_dir)
    storage.write_bytes(checked.trial_file, json_bytes(trial))  # last: its presence means the run is complete
    return trial


def _device_name(device: str) -> str:
    if device == "cuda":
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cuda"
    return platform.processor() or platform.machine()
