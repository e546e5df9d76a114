"""Tokens/s of a trial (Ray Train, steady state after the first report) vs a bare single-process torch
loop on the same model, micro-batch and packed data, in the same run. Target >= 0.9x. Start-up is
reported apart. MFU at Phi-3-mini's size on a GPU: benchmarks/bench_gpu.py.

    python benchmarks/bench_train.py [--steps 60] [--micro-batch 8] [--seq-len 512] [--model tiny-phi3]
        [--method full|lora]

A real model: --model outputs/models/smollm2-135m-instruct --method lora (after `cocktail model fetch`).
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

def bare_loop(model_path: str, packed: dict, micro: int, steps: int, warmup: int, lr: float, pad_id: int,
              lora=None) -> float:
    """The same work as a trial's step, with nothing around it: non-pad tokens/s after ``warmup`` steps."""
    import torch
    from transformers import AutoModelForCausalLM

    from ftlib.models.load import apply_lora

    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = AutoModelForCausalLM.from_pretrained(model_path).to(device).train()
    if lora is not None:
        model = apply_lora(model, lora)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    tensors = {k: torch.as_tensor(v, dtype=torch.long) for k, v in packed.items()}
    tokens, start = 0, None
    for step in range(steps):
        if step == warmup:
            start = time.perf_counter()
        sl = slice(step * micro, (step + 1) * micro)
        batch = {k: v[sl].to(device) for k, v in tensors.items()}
        loss = model(input_ids=batch["input_ids"], labels=batch["labels"], position_ids=batch["position_ids"],
                     use_cache=False).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if step >= warmup:
            tokens += int((batch["input_ids"] != pad_id).sum())
    return tokens / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--micro-batch", type=int, default=8)
    ap.add_argument("--seq-len", type=int, default=512)
    ap.add_argument("--model", default="tiny-phi3")
    ap.add_argument("--method", default="full", choices=("full", "lora"))
    args = ap.parse_args()

    from ftlib.core.configs import validate
    from ftlib.data.pipeline import cached_tokenizer, pack_plan
    from ftlib.data.plan import make_plan
    from ftlib.models.locate import anchor_model
    from ftlib.placement.session import ensure_ray
    from ftlib.run.config import RunConfig
    from ftlib.train.trial import check_trial as check
    from ftlib.train.trainer import run_trial

    work = tempfile.mkdtemp(prefix="bench_train_")
    model_path = anchor_model(args.model)
    cpus = os.cpu_count() or 2
    warm = 10
    cfg = validate(RunConfig, {
        "name": "bench", "model": {"name": model_path}, "method": args.method,
        "mixture": {"sources": {"fpb": {"weight": 0.4}, "convfinqa": {"weight": 0.3}, "orca_math": {"weight": 0.3}},
                    "budget": 12000},
        "data": {"dir": f"{work}/data", "seq_len": args.seq_len, "val_examples": 8},
        "micro_batch_size": args.micro_batch, "num_workers": 1, "cpus_per_worker": cpus,
        "max_steps": args.steps, "eval_every": warm, "output_dir": f"{work}/runs"}, "bench")
    t = time.perf_counter()
    checked = check(cfg)
    ensure_ray(num_cpus=cpus, include_dashboard=False)
    startup_s = time.perf_counter() - t
    t = time.perf_counter()
    trial = run_trial(cfg, checked=checked)
    trial_s = time.perf_counter() - t
    steady = [h["tokens_per_s"] for h in trial["history"][1:]]
    trial_tps = sum(steady) / len(steady)

    plan = make_plan(cfg.mixture, cfg.data.dir)
    packed = pack_plan(plan, cfg.data.dir, model_path, args.seq_len)
    steps = min(args.steps, len(packed["input_ids"]) // args.micro_batch)
    bare_tps = bare_loop(model_path, packed, args.micro_batch, steps, warm, cfg.optim.lr,
                         cached_tokenizer(model_path).pad_token_id)
    print(f"{args.model} ({args.method}), micro-batch {args.micro_batch} x {args.seq_len} tokens")
    print(f"trial: {trial['steps']} steps in {trial_s:.1f} s wall; start-up apart (checks + ray.init): {startup_s:.1f} s")
    print(f"trial steady state (after the first report): {trial_tps:,.0f} tokens/s")
    print(f"bare single-process torch loop:              {bare_tps:,.0f} tokens/s")
    print(f"ratio trial / bare = {trial_tps / bare_tps:.2f}  (target >= 0.9)")


if __name__ == "__main__":
    main()
