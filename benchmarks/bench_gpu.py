"""The GPU path at the study's scale, on one GPU: a random-init model with Phi-3-mini's exact dimensions (from
its config, no weights), packed 4k rows, bf16, flash-attention 2 where installed (else sdpa), activation
checkpointing on, in two setups:
    full    full fine-tuning, DeepSpeed ZeRO-2 with the optimizer offloaded to the CPU (the study's setup)
    lora    LoRA on the attention projections (plain torch, fused AdamW)
For each: tokens/s, MFU = 6 · params · tokens/s / the GPU's bf16 dense peak (attention FLOPs left out; LoRA does
about 2/3 of that work, so its MFU reads low), the measured peak memory (torch's allocator) beside the planner's
estimate. The model, engine and data are built with the trial's own building blocks.
Without a GPU it says so and exits 0; --cpu-smoke runs the same code on the tiny model on CPU (the tests do).

    python benchmarks/bench_gpu.py [--steps 6] [--micro-batch 1] [--seq-len 4096] [--setups full,lora]
"""
from __future__ import annotations

import argparse
import os
import socket
import time

MODEL = "microsoft/Phi-3-mini-4k-instruct"
SETUPS = {
    "full": {"method": "full", "deepspeed": {"stage": 2, "offload_optimizer": True}},
    "lora": {"method": "lora", "lora": {"r": 16, "alpha": 32, "dropout": 0.0}},
}
SMOKE_SETUPS = {  # the CPU smoke test: ZeRO-2 without offload (DeepSpeed's CPU Adam takes a 35 s compile)
    "full": {"method": "full", "deepspeed": {"stage": 2}},
    "lora": SETUPS["lora"],
}


def packed_rows(rows: int, seq_len: int, vocab: int, seed: int = 0) -> dict:
    """Examples of 64-1,536 tokens packed as the trial packs them (position ids restart per example)."""
    import numpy as np

    from ftlib.data.pack import pack

    rng = np.random.default_rng(seed)
    ids, prompts, tokens = [], [], 0
    while tokens < rows * seq_len:
        n = int(rng.integers(64, 1537))
        ids.append(rng.integers(3, vocab, size=min(n, seq_len)).tolist())
        prompts.append(len(ids[-1]) // 2)
        tokens += len(ids[-1])
    packed, _ = pack(ids, prompts, seq_len, pad_id=0)
    return {k: v[:rows] for k, v in packed.items() if k not in ("cut", "examples")}


def build(cfg, res, model_config, device):
    """The model as a trial builds it, on the device, with its engine or optimizer."""
    import torch
    from transformers import AutoModelForCausalLM

    from ftlib.models.load import apply_lora, enable_activation_checkpointing

    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(model_config, dtype=res.weights_dtype,
                                                 attn_implementation=res.attn_implementation)
    enable_activation_checkpointing(model, lora=cfg.method == "lora")
    if cfg.method == "lora":
        model = apply_lora(model, cfg.lora)
    model.config.use_cache = False
    params = [p for p in model.parameters() if p.requires_grad]
    if res.deepspeed is None:
        return model, torch.optim.AdamW(params, lr=cfg.optim.lr, fused=device == "cuda")
    import deepspeed

    optimizer = None if "optimizer" in res.deepspeed else torch.optim.AdamW(params, lr=cfg.optim.lr)
    engine, _, _, _ = deepspeed.initialize(model=model, model_parameters=params, optimizer=optimizer,
                                           config=res.deepspeed)
    return engine, None


def run_setup(name: str, overrides: dict, args, smoke: bool) -> dict:
    import torch

    from ftlib.core.configs import validate
    from ftlib.planner.peak import device_peak_flops
    from ftlib.planner.gpu_fit import shape_of
    from ftlib.planner.known_models import known_config
    from ftlib.planner.memory import estimate_memory as estimate, setup_of
    from ftlib.run.config import RunConfig
    from ftlib.train.model_inputs import model_inputs
    from ftlib.run.resolve import resolve

    device = "cpu" if smoke else "cuda"
    cfg = validate(RunConfig, {"model": {"name": MODEL}, "precision": "fp32" if smoke else "bf16",
                               "use_gpu": not smoke, "micro_batch_size": args.micro_batch,
                               "activation_checkpointing": "on", "data": {"seq_len": args.seq_len},
                               "optim": {"lr": 1e-5}, "mixture": {"sources": {"fpb": {"weight": 1}}, "budget": 8},
                               **overrides}, "bench_gpu")
    res = resolve(cfg, cuda=not smoke)
    if smoke:
        from ftlib.models.tiny import tiny_config

        model_config = tiny_config("phi3", 2048, 0, 1, 2, layers=2)
    else:
        model_config = known_config(MODEL)
    planned = estimate(shape_of(cfg, model_config), setup_of(cfg, res.precision, not smoke, True, 1))
    model, optimizer = build(cfg, res, model_config, device)
    rows = packed_rows(args.micro_batch * (args.steps + 2), args.seq_len, model_config.vocab_size)
    tensors = {k: torch.as_tensor(v, dtype=torch.long) for k, v in rows.items()}
    if not smoke:
        torch.cuda.reset_peak_memory_stats()
    tokens, start = 0, None
    for step in range(args.steps + 2):  # two warm-up steps (kernels chosen, buffers allocated)
        if step == 2:
            if not smoke:
                torch.cuda.synchronize()
            start = time.perf_counter()
        sl = slice(step * args.micro_batch, (step + 1) * args.micro_batch)
        batch = {k: v[sl].to(device) for k, v in tensors.items()}
        loss = model(**model_inputs(batch, res.attn_implementation)).loss
        if optimizer is None:
            model.backward(loss)
            model.step()
        else:
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        if step >= 2:
            tokens += int((batch["input_ids"] != 0).sum())
    if not smoke:
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    params = shape_of(cfg, model_config).params  # the base model's N, LoRA included
    gpu_name = "cpu" if smoke else torch.cuda.get_device_name(0)
    peak_flops = None if smoke else device_peak_flops(torch.device("cuda"))
    tps = tokens / elapsed
    out = {"setup": name, "device": gpu_name, "attention": res.attn_implementation, "params": params,
           "tokens_per_s": tps, "mfu": 6 * params * tps / peak_flops if peak_flops and not smoke else None,
           "loss": float(loss.detach()), "planned_gib": planned.total_gib,
           "planned_less_context_gib": planned.total_gib - planned.parts_gib.get("CUDA context", 0.0),
           "peak_allocated_gib": None if smoke else torch.cuda.max_memory_allocated() / 2**30,
           "peak_reserved_gib": None if smoke else torch.cuda.max_memory_reserved() / 2**30}
    del model, optimizer
    if not smoke:
        torch.cuda.empty_cache()
    return out


def init_single_process_group(backend: str) -> None:
    """DeepSpeed wants a process group; one process is its own world here."""
    import torch.distributed as dist

    if dist.is_initialized():
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK="0", LOCAL_RANK="0", WORLD_SIZE="1")
    dist.init_process_group(backend)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=6, help="timed steps (after 2 warm-up steps)")
    ap.add_argument("--micro-batch", type=int, default=1)
    ap.add_argument("--seq-len", type=int, default=4096)
    ap.add_argument("--setups", default="full,lora")
    ap.add_argument("--cpu-smoke", action="store_true", help="the same code on the tiny model on CPU")
    args = ap.parse_args()

    import torch

    if not args.cpu_smoke and not torch.cuda.is_available():
        print("bench_gpu: no CUDA GPU on this machine; nothing measured (run it on a GPU machine, or --cpu-smoke)")
        return
    if args.cpu_smoke:
        args.seq_len, args.steps = min(args.seq_len, 256), min(args.steps, 2)
    init_single_process_group("gloo" if args.cpu_smoke else "nccl")
    table = SMOKE_SETUPS if args.cpu_smoke else SETUPS
    print(f"{'setup':6} {'device':28} {'attention':18} {'tokens/s':>10} {'MFU':>6} {'peak alloc':>10} "
          f"{'reserved':>9} {'planned':>8} {'planned-ctx':>11} {'loss':>7}")
    for name in args.setups.split(","):
        try:
            r = run_setup(name, table[name], args, args.cpu_smoke)
        except Exception as e:  # one setup failing (an OOM, an op that does not build) leaves the others to run
            print(f"{name:6} failed: {type(e).__name__}: {str(e).splitlines()[0][:200]}")
            continue

        def gib(v):
            return "n/a" if v is None else f"{v:.1f}"

        mfu = "n/a" if r["mfu"] is None else f"{r['mfu']:.1%}"
        print(f"{r['setup']:6} {r['device'][:28]:28} {r['attention']:18} {r['tokens_per_s']:>10,.0f} {mfu:>6} "
              f"{gib(r['peak_allocated_gib']):>10} {gib(r['peak_reserved_gib']):>9} {gib(r['planned_gib']):>8} "
              f"{gib(r['planned_less_context_gib']):>11} {r['loss']:>7.3f}", flush=True)


if __name__ == "__main__":
    main()
