"""The per-worker training loop (runs inside Ray Train workers): AdamW, cosine with warmup, grad clipping,
grad accumulation, DDP or DeepSpeed, LoRA or full; validation loss per task and checkpoints every
``eval_every`` steps; resumes from the last checkpoint after a worker failure."""
from __future__ import annotations

import contextlib
import tempfile
import time
from pathlib import Path
from typing import Any

from ftlib.train.config import RunConfig
from ftlib.train.resolve import Resolved

SHUFFLE_ROWS = 1024  # packed rows held for the per-epoch shuffle: 100 MB of 4k-token rows


def build_model(cfg: RunConfig, res: Resolved, resume_dir: Path | None, checkpointing: bool = False):
    """Base model (+ LoRA), or the checkpoint's weights when resuming; activation checkpointing on request."""
    import torch

    from ftlib.models.load import apply_lora, enable_activation_checkpointing, load_model

    torch.manual_seed(cfg.seed)  # LoRA init: the same on every rank and every run of this config
    if cfg.method == "full":
        model_cfg = cfg.model if resume_dir is None else cfg.model.model_copy(update={"name": str(resume_dir / "model")})
        model = load_model(model_cfg, res.weights_dtype, res.attn_implementation)
        if checkpointing:
            enable_activation_checkpointing(model, lora=False)
        return model
    base = load_model(cfg.model, res.torch_dtype, res.attn_implementation)
    if checkpointing:
        enable_activation_checkpointing(base, lora=True)
    if resume_dir is None:
        return apply_lora(base, cfg.lora)
    from peft import PeftModel

    return PeftModel.from_pretrained(base, resume_dir / "model", is_trainable=True)


def zero3_config(res: Resolved):
    """Under ZeRO-3 each rank loads only its partition of the weights: transformers enters DeepSpeed's zero.Init
    while this object lives (it holds only a weak reference to it), so keep it for as long as the model. Without
    it every rank would first hold the whole model."""
    if not res.deepspeed or res.deepspeed["zero_optimization"]["stage"] != 3:
        return None
    from transformers.integrations import HfDeepSpeedConfig

    return HfDeepSpeedConfig(res.deepspeed)


def checkpointing_on(cfg: RunConfig, res: Resolved, device) -> bool:
    """The resolved setting, or (LoRA, auto, on GPU) the planner's answer for this worker's GPU."""
    if res.activation_checkpointing is not None:
        return res.activation_checkpointing
    import torch

    from ftlib.models.load import load_config
    from ftlib.planner.fit import needs_checkpointing

    return needs_checkpointing(cfg, load_config(cfg.model), res.precision,
                               torch.cuda.get_device_properties(device).total_memory / 2**30)


def make_scheduler(optimizer, cfg: RunConfig, total_steps: int):
    from transformers import get_constant_schedule_with_warmup, get_cosine_schedule_with_warmup

    if cfg.optim.schedule == "constant":
        return get_constant_schedule_with_warmup(optimizer, cfg.optim.warmup_steps)
    return get_cosine_schedule_with_warmup(optimizer, cfg.optim.warmup_steps, total_steps)


def train_loop_per_worker(config: dict[str, Any]) -> None:
    import ray
    import ray.train
    import ray.train.torch
    import torch
    import torch.distributed as dist

    from ftlib.data.pipeline import cached_tokenizer
    from ftlib.train import checkpoint
    from ftlib.train.inputs import model_inputs
    from ftlib.train.step import step_loss_tokens
    from ftlib.train.validation import validation_losses

    cfg = RunConfig.model_validate(config["run"])
    res = Resolved(**config["resolved"])
    total_steps, micro_per_epoch = config["total_steps"], config["micro_per_epoch"]
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    device = ray.train.torch.get_device() if res.device == "cuda" else torch.device("cpu")
    tokenizer = cached_tokenizer(config["tokenizer_path"], cfg.model.trust_remote_code)

    resume = ray.train.get_checkpoint()
    with (resume.as_directory() if resume else contextlib.nullcontext()) as resume_dir:
        resume_dir = Path(resume_dir) if resume_dir else None
        zero3 = zero3_config(res)  # noqa: F841  (lives as long as the loop: see zero3_config)
        model = build_model(cfg, res, resume_dir, checkpointing_on(cfg, res, device))
        model.config.use_cache = False
        params = [p for p in model.parameters() if p.requires_grad]
        engine = None
        if res.deepspeed is not None:
            import deepspeed

            optimizer = None if "optimizer" in res.deepspeed else torch.optim.AdamW(
                params, lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
            engine, optimizer, _, scheduler = deepspeed.initialize(
                model=model, model_parameters=params, optimizer=optimizer, config=res.deepspeed,
                lr_scheduler=lambda opt: make_scheduler(opt, cfg, total_steps))
            forward, module = engine, engine.module
        else:
            model = ray.train.torch.prepare_model(model, move_to_device=device)
            optimizer = torch.optim.AdamW(params, lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
            scheduler = make_scheduler(optimizer, cfg, total_steps)
            forward, module = model, (model.module if hasattr(model, "module") else model)
        counters = checkpoint.restore(resume_dir, engine=engine, optimizer=optimizer, scheduler=scheduler) \
            if resume_dir else checkpoint.START
        step = counters["step"]

    from ftlib.planner.cost import device_peak_flops

    peak_flops = device_peak_flops(device)  # reported with every step: the report's compute calibration reads it
    shard = ray.train.get_dataset_shard("train")
    accum = res.grad_accum
    # Token-loss sum, loss tokens, tokens, examples cut to seq_len (first epoch) since the last report, kept on the
    # device: reading them each micro-step would stall a GPU twice a step; they are read once per report.
    window = torch.zeros(4, dtype=torch.float64, device=device)
    tokens_total, cut_total = counters["tokens"], counters["examples_cut"]  # a resumed run counts on
    window_start = time.perf_counter()
    skip = step * accum  # micro-batches already trained before a resume
    micro = 0
    for epoch in range(cfg.epochs):
        # A new order every epoch, seeded by the run and the epoch: drop_last leaves out other rows each epoch,
        # and a resumed run sees the order of the run it continues (so skipping its micro-batches stays right).
        batches = shard.iter_torch_batches(batch_size=cfg.micro_batch_size, dtypes=torch.long, device=device,
                                           drop_last=True, local_shuffle_buffer_size=SHUFFLE_ROWS,
                                           local_shuffle_seed=cfg.seed * 100_003 + epoch * 1_009 + rank)
        group: list[dict] = []  # the step's micro-batches: its loss tokens are counted before the first backward
        for i, batch in enumerate(batches):
            if i >= micro_per_epoch or step >= total_steps:
                break
            if micro < skip:
                micro += 1
                continue
            micro += 1
            group.append(batch)
            if len(group) < accum:
                continue
            model.train()
            inputs = [model_inputs(b, res.attn_implementation) for b in group]
            step_tokens = step_loss_tokens(inputs, world)
            for j, x in enumerate(inputs):
                x["num_items_in_batch"] = step_tokens / world
                if engine is not None:
                    loss = engine(**x).loss
                    engine.backward(loss, scale_wrt_gas=False)
                    engine.step()
                else:
                    last = j == len(inputs) - 1
                    with (contextlib.nullcontext() if last or not hasattr(model, "no_sync") else model.no_sync()):
                        with res.autocast_context(device.type):
                            loss = model(**x).loss
                        loss.backward()
                window[0] += loss.detach() * step_tokens / world
            if engine is None:
                torch.nn.utils.clip_grad_norm_(params, cfg.optim.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
            window[1] += step_tokens / world
            for b in group:
                window[2] += (b["input_ids"] != tokenizer.pad_token_id).sum()
                if epoch == 0:
                    window[3] += b["cut"].sum()
            group = []
            step += 1
            if step % cfg.eval_every and step != total_steps:
                continue
            if world > 1:
                dist.all_reduce(window)
            loss_sum, loss_tokens, tokens, cut = window.tolist()  # waits for the device: time is read after
            elapsed = time.perf_counter() - window_start
            tokens_total += int(tokens)
            cut_total += int(cut)
            metrics = {"step": step, "epoch": epoch, "train_loss": loss_sum / max(loss_tokens, 1),
                       "lr": float(scheduler.get_last_lr()[0]), "tokens": tokens_total, "examples_cut": cut_total,
                       "tokens_per_s": tokens / elapsed, "peak_flops": peak_flops,
                       "node_id": ray.get_runtime_context().get_node_id()}
            module.eval()
            with res.autocast_context(device.type):
                metrics.update(validation_losses(forward, config["validation"], cfg.micro_batch_size, device,
                                                 res.attn_implementation))
            with tempfile.TemporaryDirectory() as tmp:
                checkpoint.save(Path(tmp), rank=rank, module=module, engine=engine, optimizer=optimizer,
                                scheduler=scheduler, tokenizer=tokenizer, base_model=cfg.model.name,
                                method=cfg.method,
                                counters={"step": step, "tokens": tokens_total, "examples_cut": cut_total})
                ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(tmp))
            window.zero_()
            window_start = time.perf_counter()
        if step >= total_steps:
            break
