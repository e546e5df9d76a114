"""The per-worker training loop, one piece of code for both executors (ftlib/run/executor.py): inside a Ray
Train V2 worker, or in the process that runs it (a Tune trial's), told apart only by its session
(ftlib/train/session.py). AdamW, cosine with warmup, grad clipping, grad accumulation, DDP or DeepSpeed, LoRA or
full; validation loss per task and checkpoints every ``eval_every`` steps; resumes from the last checkpoint after a
failure. Three phases, one function each: ``set_up`` (model, optimizer, what a resumed run continues from),
``train_step`` (one optimizer step over its micro-batches) and ``report`` (validation, checkpoint, metrics)."""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import deepspeed
import ray
import torch
import torch.distributed as dist
from transformers import get_constant_schedule_with_warmup, get_cosine_schedule_with_warmup
from transformers.integrations import HfDeepSpeedConfig

from ftlib.data.pipeline import cached_tokenizer
from ftlib.models.inspect import load_model_config
from ftlib.models.load import apply_lora, enable_activation_checkpointing, load_adapter, load_model
from ftlib.planner.gpu_fit import needs_checkpointing
from ftlib.planner.peak import device_peak_flops
from ftlib.run.config import RunConfig
from ftlib.run.files import MODEL_DIR
from ftlib.run.resolve import Resolved
from ftlib.train import checkpoint
from ftlib.train.model_inputs import model_inputs
from ftlib.train.session import RayTrainSession
from ftlib.train.step_loss import step_loss_tokens
from ftlib.train.tracking import RunTrackers
from ftlib.train.validation import validation_losses

SHUFFLE_ROWS = 1024  # packed rows held for the per-epoch shuffle: 100 MB of 4k-token rows


def build_model(cfg: RunConfig, res: Resolved, resume_dir: Path | None, checkpointing: bool = False,
                warm: bool = False):
    """Base model (+ LoRA), or the checkpoint's weights when resuming; activation checkpointing on request.
    ``warm``: this process trains other runs too, so the base weights come from its cached copy."""
    torch.manual_seed(cfg.seed)  # LoRA init: the same on every rank and every run of this config
    if cfg.method == "full":
        model_cfg = cfg.model if resume_dir is None else \
            cfg.model.model_copy(update={"name": str(resume_dir / MODEL_DIR)})
        model = load_model(model_cfg, res.weights_dtype, res.attn_implementation, cached=warm and resume_dir is None)
        if checkpointing:
            enable_activation_checkpointing(model, lora=False)
        return model
    base = load_model(cfg.model, res.torch_dtype, res.attn_implementation, cached=warm)
    if checkpointing:
        enable_activation_checkpointing(base, lora=True)
    if resume_dir is None:
        return apply_lora(base, cfg.lora)
    return load_adapter(base, resume_dir / MODEL_DIR)


def zero3_config(res: Resolved):
    """Under ZeRO-3 each rank loads only its partition of the weights: transformers enters DeepSpeed's zero.Init
    while this object lives (it holds only a weak reference to it), so keep it for as long as the model. Without
    it every rank would first hold the whole model."""
    if not res.deepspeed or res.deepspeed["zero_optimization"]["stage"] != 3:
        return None
    return HfDeepSpeedConfig(res.deepspeed)


def checkpointing_on(cfg: RunConfig, res: Resolved, device) -> bool:
    """The resolved setting, or (LoRA, auto, on GPU) the planner's answer for this worker's GPU."""
    if res.activation_checkpointing is not None:
        return res.activation_checkpointing
    return needs_checkpointing(cfg, load_model_config(cfg.model), res.precision,
                               torch.cuda.get_device_properties(device).total_memory / 2**30)


def make_scheduler(optimizer, cfg: RunConfig, total_steps: int):
    if cfg.optim.schedule == "constant":
        return get_constant_schedule_with_warmup(optimizer, cfg.optim.warmup_steps)
    return get_cosine_schedule_with_warmup(optimizer, cfg.optim.warmup_steps, total_steps)


@dataclass
class Worker:
    """What ``set_up`` builds and the steps and reports share."""
    session: Any  # RayTrainSession or LocalSession
    cfg: RunConfig
    res: Resolved
    config: dict[str, Any]  # the trainer's train_loop_config
    rank: int
    world: int
    device: Any
    tokenizer: Any
    model: Any  # what trains: the DDP-wrapped model, or the model DeepSpeed's engine holds
    module: Any  # the bare model (saved, switched to eval)
    forward: Any  # what validation calls: the engine or the model
    engine: Any
    optimizer: Any
    scheduler: Any
    params: list
    counters: dict[str, int]  # step, tokens, examples_cut: where a resumed run continues
    keep: Any = None  # ZeRO-3's HfDeepSpeedConfig, alive as long as the model (see zero3_config)


def set_up(config: dict[str, Any], resume_dir: Path | None, session) -> Worker:
    """The model (fresh or from the checkpoint in ``resume_dir``), its optimizer and schedule, under DeepSpeed
    or DDP, and the counters the run continues from."""
    cfg = RunConfig.model_validate(config["run"])
    res = Resolved(**config["resolved"])
    device = session.device(res.device)
    keep = zero3_config(res)
    model = build_model(cfg, res, resume_dir, checkpointing_on(cfg, res, device), warm=session.warm)
    model.config.use_cache = False
    params = [p for p in model.parameters() if p.requires_grad]
    engine = None
    if res.deepspeed is not None:
        optimizer = None if "optimizer" in res.deepspeed else torch.optim.AdamW(
            params, lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
        engine, optimizer, _, scheduler = deepspeed.initialize(
            model=model, model_parameters=params, optimizer=optimizer, config=res.deepspeed,
            lr_scheduler=lambda opt: make_scheduler(opt, cfg, config["total_steps"]))
        forward, module = engine, engine.module
    else:
        model = session.prepare_model(model, device)
        optimizer = torch.optim.AdamW(params, lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
        scheduler = make_scheduler(optimizer, cfg, config["total_steps"])
        forward, module = model, (model.module if hasattr(model, "module") else model)
    counters = checkpoint.restore(resume_dir, engine=engine, optimizer=optimizer, scheduler=scheduler) \
        if resume_dir else dict(checkpoint.START)
    return Worker(session, cfg, res, config, session.rank, session.world, device,
                  cached_tokenizer(config["tokenizer_path"], cfg.model.trust_remote_code), model, module, forward,
                  engine, optimizer, scheduler, params, counters, keep)


def train_step(w: Worker, group: list[dict], window, first_epoch: bool) -> None:
    """One optimizer step over its micro-batches. ``window`` (on the device) sums the token loss, loss tokens,
    tokens, and examples cut to seq_len and examples in all (first epoch) since the last report."""
    w.model.train()
    inputs = [model_inputs(b, w.res.attn_implementation) for b in group]
    step_tokens = step_loss_tokens(inputs, w.world)
    for j, x in enumerate(inputs):
        x["num_items_in_batch"] = step_tokens / w.world
        if w.engine is not None:
            loss = w.engine(**x).loss
            w.engine.backward(loss, scale_wrt_gas=False)
            w.engine.step()
        else:
            last = j == len(inputs) - 1
            with (contextlib.nullcontext() if last or not hasattr(w.model, "no_sync") else w.model.no_sync()):
                with w.res.autocast_context(w.device.type):
                    loss = w.model(**x).loss
                loss.backward()
        window[0] += loss.detach() * step_tokens / w.world
    if w.engine is None:
        torch.nn.utils.clip_grad_norm_(w.params, w.cfg.optim.max_grad_norm)
        w.optimizer.step()
        w.scheduler.step()
        w.optimizer.zero_grad(set_to_none=True)
    window[1] += step_tokens / w.world
    for b in group:
        window[2] += (b["input_ids"] != w.tokenizer.pad_token_id).sum()
        if first_epoch:
            window[3] += b["cut"].sum()
            window[4] += b["examples"].sum()


def report(w: Worker, window, step: int, epoch: int, elapsed_since, peak_flops, trackers: RunTrackers) -> None:
    """Sums the window over workers, scores validation, saves a checkpoint and reports both to Ray."""
    if w.world > 1:
        dist.all_reduce(window)
    loss_sum, loss_tokens, tokens, cut, examples = window.tolist()  # waits for the device: time is read after
    elapsed = time.perf_counter() - elapsed_since
    w.counters.update(step=step, tokens=w.counters["tokens"] + int(tokens),
                      examples_cut=w.counters["examples_cut"] + int(cut),
                      examples_trained=w.counters.get("examples_trained", 0) + int(examples))
    metrics = {"step": step, "epoch": epoch, "train_loss": loss_sum / max(loss_tokens, 1),
               "lr": float(w.scheduler.get_last_lr()[0]), "tokens": w.counters["tokens"],
               "examples_cut": w.counters["examples_cut"], "examples_trained": w.counters["examples_trained"],
               "tokens_per_s": tokens / elapsed,
               "peak_flops": peak_flops, "node_id": ray.get_runtime_context().get_node_id()}
    w.module.eval()
    with w.res.autocast_context(w.device.type):
        metrics.update(validation_losses(w.forward, w.config["validation"], w.cfg.micro_batch_size, w.device,
                                         w.res.attn_implementation))
    with w.session.new_checkpoint() as tmp:
        checkpoint.save(tmp, rank=w.rank, module=w.module, engine=w.engine, optimizer=w.optimizer,
                        scheduler=w.scheduler, tokenizer=w.tokenizer, base_model=w.cfg.model.name,
                        method=w.cfg.method, counters=dict(w.counters))
        w.session.report(metrics, tmp)
    trackers.log(metrics, step)
    window.zero_()


def train_loop_per_worker(config: dict[str, Any]) -> None:
    """The loop as Ray Train runs it in each worker."""
    train_loop(config, RayTrainSession())


def train_loop(config: dict[str, Any], session) -> None:
    """The loop, wherever it runs: ``session`` says where (ftlib/train/session.py)."""
    started = time.perf_counter()
    with session.resume_dir() as resume_dir:
        w = set_up(config, resume_dir, session)
    session.setup_s = time.perf_counter() - started
    trackers = RunTrackers(w.cfg, w.rank)
    try:
        run_steps(w, session.shard(), trackers)
    finally:  # a trial Tune stops ends inside a report (SystemExit): its tracker runs end all the same
        trackers.close()


def run_steps(w: Worker, shard, trackers: RunTrackers) -> None:
    """Epochs of optimizer steps over the shard, from where a resumed run left off, reporting every ``eval_every``."""
    total_steps, micro_per_epoch, cfg = w.config["total_steps"], w.config["micro_per_epoch"], w.cfg
    peak_flops = device_peak_flops(w.device)  # reported with every step: the report's compute calibration reads it
    # Kept on the device: reading them each micro-step would stall a GPU twice a step; read once per report.
    window = torch.zeros(5, dtype=torch.float64, device=w.device)
    window_start = time.perf_counter()
    step = w.counters["step"]
    skip, micro = step * w.res.grad_accum, 0  # micro-batches already trained before a resume
    for epoch in range(cfg.epochs):
        # A new order every epoch, seeded by the run and the epoch: drop_last leaves out other rows each epoch,
        # and a resumed run sees the order of the run it continues (so skipping its micro-batches stays right).
        batches = shard.iter_torch_batches(batch_size=cfg.micro_batch_size, dtypes=torch.long, device=w.device,
                                           drop_last=True, local_shuffle_buffer_size=SHUFFLE_ROWS,
                                           local_shuffle_seed=cfg.seed * 100_003 + epoch * 1_009 + w.rank)
        group: list[dict] = []  # the step's micro-batches: its loss tokens are counted before the first backward
        for i, batch in enumerate(batches):
            if i >= micro_per_epoch or step >= total_steps:
                break
            micro += 1
            if micro <= skip:
                continue
            group.append(batch)
            if len(group) < w.res.grad_accum:
                continue
            train_step(w, group, window, epoch == 0)
            group = []
            step += 1
            if step % cfg.eval_every == 0 or step == total_steps:
                report(w, window, step, epoch, window_start, peak_flops, trackers)
                window_start = time.perf_counter()
        if step >= total_steps:
            break
