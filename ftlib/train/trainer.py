"""Driver side of one trial: plan the mixture, build the data, train it through its executor (a Ray Train V2
TorchTrainer, or the loop in one process), save the final model and ``trial.json`` in the run directory (named by
the config hash)."""
from __future__ import annotations

import dataclasses
import os
import platform
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, NamedTuple, Sequence

import ray
import ray.train
import torch
from ray.train.torch import TorchTrainer

from ftlib.core import storage
from ftlib.core.encode import json_bytes
from ftlib.core.errors import DataError
from ftlib.core.storage import atomic_dir, atomic_write_json
from ftlib.data.dataset import IN_PROCESS_EXAMPLES, training_dataset
from ftlib.data.pipeline import cached_tokenizer, token_lengths_fn
from ftlib.data.plan import Plan, make_plan
from ftlib.run.config import RunConfig
from ftlib.run.executor import executor_of
from ftlib.run.files import METRICS_FILE, MODEL_DIR, PLAN_FILE, RUN_CONFIG_FILE
from ftlib.train.history import MetricsHistory, read_history
from ftlib.train.kept_checkpoints import local_dir
from ftlib.train.loop import train_loop, train_loop_per_worker
from ftlib.train.session import LocalSession
from ftlib.train.trial import Checked, check_trial, data_fingerprint, model_flops
from ftlib.train.validation import validation_rows


class Reports(NamedTuple):
    """Where a run's per-step reports go besides its history: Ray Train callbacks (``ray_train``; made only when
    used: Tune's bridge from Train starts a queue actor that the trial's thread then polls), or a function called
    with each report in the process that trains (``tune``). A sweep's trial forwards them to Tune."""
    train_callbacks: Callable[[], Sequence] = tuple
    on_report: Callable[[dict[str, Any]], None] | None = None


@dataclass
class Trained:
    """What a finished training leaves: its last report, and its latest and best checkpoints (full locations);
    where it ran: the process and how many runs it had trained before, and its set-up time (``tune`` only)."""
    metrics: dict[str, Any]
    latest: str
    best: str | None
    process: dict[str, Any] = dataclasses.field(default_factory=dict)
    setup_s: float | None = None


_RUNS_HERE = [0]  # runs this process has trained with the loop in it (a reused Tune trial process trains many)


def run_trial(cfg: RunConfig, reports: Reports = Reports(), checked: Checked | None = None, fresh: bool = False,
              here: bool = False) -> dict[str, Any]:
    """Runs one trial to the end (Ray must be initialised); returns the contents of ``trial.json``. A run that
    was interrupted (its process lost, its trial retried) continues from its last checkpoint and its history goes
    on; ``fresh`` throws away what an earlier run of this config left (``cocktail train --force``). The executor
    (ftlib/run/executor.py) trains it in a Ray Train worker group, or with the loop in one process: this one
    (``here``: a Tune trial's, which holds the worker's resources) or a Ray task that retries a lost process."""
    started = time.time()
    checked = checked or check_trial(cfg)
    _start_run_dir(checked, fresh)
    plan = _plan(checked)
    timings = {"plan_s": time.time() - started}
    local = executor_of(cfg).name == "tune"
    # The loop's process packs every plan itself: a map task would wait for a CPU the trial already holds.
    dataset = training_dataset(plan, storage.absolute(cfg.data.dir), checked.model_path, cfg.data.seq_len,
                               cfg.data.style, cfg.data.examples_per_block,
                               in_process_examples=plan.num_examples if local else IN_PROCESS_EXAMPLES,
                               trust_remote_code=cfg.model.trust_remote_code).materialize()
    rows = dataset.count()
    config = _loop_config(checked, rows)
    timings["data_s"] = time.time() - started - timings["plan_s"]
    if not local:
        trained = _fit_ray_train(checked, dataset, config, reports.train_callbacks())
    elif here:
        trained = train_here(checked, dataset, config, reports.on_report)
    else:
        trained = ray.get(_train_task(cfg).remote(checked, dataset, config))
    timings["train_s"] = time.time() - started - timings["plan_s"] - timings["data_s"]
    with local_dir(trained.latest) as last, atomic_dir(checked.run_dir / MODEL_DIR) as tmp:
        shutil.copytree(Path(last) / MODEL_DIR, tmp, dirs_exist_ok=True)
    trial = _trial_record(checked, plan, rows, trained, time.time() - started)
    if trained.setup_s is not None:
        timings["setup_s"] = trained.setup_s  # part of train_s
    trial["timings"] = {k: round(v, 3) for k, v in timings.items()}
    if storage.is_uri(checked.store_dir):
        storage.upload_dir(checked.run_dir, checked.store_dir)
        shutil.rmtree(checked.run_dir)
    storage.write_bytes(checked.trial_file, json_bytes(trial))  # last: its presence means the run is complete
    return trial


def train_here(checked: Checked, dataset, config: dict[str, Any],
               on_report: Callable[[dict[str, Any]], None] | None = None) -> Trained:
    """The loop in this process (the ``tune`` executor), its checkpoints kept in Ray Train's layout."""
    cfg = checked.cfg
    session = LocalSession(dataset, checked.store_dir, checked.run_dir / METRICS_FILE, cfg.keep_checkpoints,
                           cfg.checkpoint_metric, cfg.checkpoint_mode, on_report)
    torch.set_num_threads(max(1, int(cfg.cpus_per_worker)))  # as Ray Train sets a worker's (OMP_NUM_THREADS)
    before = _RUNS_HERE[0]
    _RUNS_HERE[0] += 1
    train_loop(config, session)
    kept = session.checkpoints
    if kept.latest is None:
        raise RuntimeError(f"trial {cfg.run_id()} reported no checkpoint")
    return Trained(kept.latest["metrics"], kept.latest_path(), kept.best_path(),
                   {"pid": os.getpid(), "runs_before": before}, session.setup_s)


def _train_task(cfg: RunConfig):
    """``cocktail train`` with the ``tune`` executor: the loop in one Ray task holding one worker's resources,
    retried from its last checkpoint when its process is lost (``max_failures``, as Ray Train would)."""
    resources = dict(cfg.worker_resources)
    return ray.remote(train_here).options(num_cpus=cfg.cpus_per_worker, num_gpus=1 if cfg.use_gpu else 0,
                                          resources=resources or None, max_retries=cfg.max_failures)


def _start_run_dir(checked: Checked, fresh: bool) -> None:
    if fresh:  # checkpoints too: Ray Train would resume from those left under the same run name
        storage.remove_dir(checked.store_dir)
        shutil.rmtree(checked.run_dir, ignore_errors=True)
    checked.run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(checked.run_dir / RUN_CONFIG_FILE, checked.cfg.model_dump(mode="json"))


def _plan(checked: Checked) -> Plan:
    cfg = checked.cfg
    lengths = token_lengths_fn(cfg.data.dir, checked.model_path, cfg.data.style, cfg.model.trust_remote_code) \
        if cfg.mixture.unit == "tokens" else None
    plan = make_plan(cfg.mixture, cfg.data.dir, lengths)
    plan.save(checked.run_dir / PLAN_FILE)
    return plan


def _loop_config(checked: Checked, rows: int) -> dict[str, Any]:
    """The loop's config: its step arithmetic from the packed rows, validation rows built here once."""
    cfg, res = checked.cfg, checked.resolved
    micro_per_epoch = rows // cfg.num_workers // cfg.micro_batch_size // res.grad_accum * res.grad_accum
    steps_per_epoch = micro_per_epoch // res.grad_accum
    if steps_per_epoch == 0:
        raise DataError(f"the mixture packs into {rows} rows of {cfg.data.seq_len} tokens: fewer than one global "
                        f"batch of {res.global_batch_size}; raise the budget or lower the batch")
    tokenizer = cached_tokenizer(checked.model_path, cfg.model.trust_remote_code)
    validation = validation_rows(cfg.data.dir, cfg.validation_tasks(), tokenizer, cfg.data.seq_len, cfg.data.style,
                                 cfg.data.val_examples)
    return {"run": cfg.model_dump(mode="json"), "resolved": dataclasses.asdict(res),
            "tokenizer_path": checked.model_path, "total_steps": min(cfg.max_steps or 10**12, steps_per_epoch * cfg.epochs),
            "micro_per_epoch": micro_per_epoch, "validation": validation}


def _fit_ray_train(checked: Checked, dataset, config: dict[str, Any], callbacks: Sequence) -> Trained:
    """The run's TorchTrainer (Ray Train V2), fitted."""
    cfg = checked.cfg
    result = TorchTrainer(
        train_loop_per_worker,
        train_loop_config=config,
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
            callbacks=[MetricsHistory(checked.run_dir / METRICS_FILE), *callbacks]),
        datasets={"train": dataset},
    ).fit()
    if result.checkpoint is None:
        raise RuntimeError(f"trial {cfg.run_id()} reported no checkpoint")
    best = result.get_best_checkpoint(cfg.checkpoint_metric, cfg.checkpoint_mode)
    return Trained(result.metrics, storage.join(checked.store_dir, Path(result.checkpoint.path).name),
                   storage.join(checked.store_dir, Path(best.path).name) if best else None)


def _trial_record(checked: Checked, plan: Plan, rows: int, trained: Trained, wall_s: float) -> dict[str, Any]:
    """What ``trial.json`` says of the finished run."""
    cfg, res = checked.cfg, checked.resolved
    return {
        "run_id": cfg.run_id(),
        "config_hash": cfg.config_hash(),
        "plan_hash": plan.hash,
        "data_fingerprint": data_fingerprint(cfg),
        "flops": model_flops(cfg, trained.metrics["tokens"]),
        "steps": trained.metrics["step"],
        "tokens": trained.metrics["tokens"],
        "examples": plan.num_examples,
        # Realized mixture: examples per task and their share of all examples (what a trial actually trained on).
        "mixture": {s.task: {"rows": s.rows, "share": s.rows / plan.num_examples, "tokens": s.tokens}
                    for s in plan.sources},
        "packed_rows": rows,
        # Trained examples longer than seq_len (the start of their prompt was cut), counted by the workers.
        "examples_cut": trained.metrics.get("examples_cut", 0),
        "examples_trained": trained.metrics.get("examples_trained"),  # distinct examples trained (first epoch)
        "wall_s": round(wall_s, 2),
        "device": res.device,
        "device_name": _device_name(res.device),
        "num_workers": cfg.num_workers,
        "precision": res.precision,
        "executor": executor_of(cfg).name,
        "process": trained.process,  # tune: the process the loop ran in, and the runs it had trained before
        "deepspeed_stage": cfg.deepspeed.stage if cfg.deepspeed else None,
        "method": cfg.method,
        "final_metrics": trained.metrics,
        "history": read_history(checked.run_dir / METRICS_FILE),
        "best_checkpoint": trained.best,
        "model_dir": storage.join(checked.store_dir, MODEL_DIR),
    }


def _device_name(device: str) -> str:
    if device == "cuda":
        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cuda"
    return platform.processor() or platform.machine()
