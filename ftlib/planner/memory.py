"""Memory per GPU of one trial, from the run config and the model's config alone (no weights, no GPU).

    model states   params, gradients and optimizer states on each GPU: DeepSpeed's own estimators for ZeRO-2/3
                   (mixed precision, with or without offload); stage 0/1, plain DDP and fp32 counted here
    activations    what autograd keeps for the backward pass: per layer and token, counted with saved-tensor
                   hooks on transformers 5.23's decoder layers (tests/test_planner.py counts them again); with
                   checkpointing each layer keeps only its input and one layer is recomputed at a time
    logits         the loss's float32 log-softmax over the vocabulary (kept) and, as the backward starts, the
                   gradients of the float32 and model-dtype logits (transient): at 4k tokens × 8 and a 128k
                   vocabulary this alone is tens of GB
    buffers        ZeRO's reduce and all-gather buckets (DeepSpeed's defaults, 5e8 elements each)
    CUDA context   the CUDA context, cuBLAS workspace and NCCL buffers (GPU only)
Attention is assumed to keep no seq_len² matrix (sdpa's fused kernels, flash-attention 2; packed rows never
use the eager kernel on GPU).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
from deepspeed.runtime.zero.stage3 import estimate_zero3_model_states_mem_needs
from deepspeed.runtime.zero.stage_1_and_2 import estimate_zero2_model_states_mem_needs
from transformers import AutoModelForCausalLM

from ftlib.run.resolve import batch_arithmetic

GIB = 2**30
CUDA_CONTEXT_GIB = 1.0  # measured ~0.5 GiB for torch's context and cuBLAS; NCCL's buffers add about as much
ZERO_BUCKET = 500_000_000  # DeepSpeed's default reduce_bucket_size and allgather_bucket_size (elements)

# Bytes per token of one decoder layer: c_h·hidden + c_i·intermediate + c_kv·(kv_heads·head_dim) + 4·heads + c_0,
# keyed by (layer family, bytes per activation, method). "phi3" fuses qkv and gate/up; the others keep them apart.
# LoRA counts hold for adapters on the attention projections with dropout (the default targets).
LAYER_BYTES = {
    ("phi3", 4, "full"): (40, 16, 12, 8), ("phi3", 4, "lora"): (36, 12, 12, 72),
    ("phi3", 2, "full"): (24, 8, 6, 8), ("phi3", 2, "lora"): (30, 6, 6, 72),
    ("llama", 4, "full"): (32, 16, 8, 8), ("llama", 4, "lora"): (48, 12, 8, 136),
    ("llama", 2, "full"): (20, 8, 4, 8), ("llama", 2, "lora"): (44, 6, 4, 136),
}
# Outside the layers, per token: embeddings' output, the final norm and the lm_head's input.
OUTER_BYTES_PER_HIDDEN = {4: 13, 2: 9}


@dataclass(frozen=True)
class ModelShape:
    model_type: str
    hidden: int
    layers: int
    intermediate: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    params: int  # every parameter, shared ones once
    trainable: int  # what the method trains (LoRA: the adapters)
    largest_layer_params: int  # the largest module's own parameters (ZeRO-3 gathers one at a time)

    @property
    def family(self) -> str:
        return "phi3" if self.model_type == "phi3" else "llama"


def model_shape(model_config, method: str = "full", lora_targets: list[str] | None = None, lora_r: int = 8
                ) -> ModelShape:
    """Counts parameters on the meta device: exact for any architecture transformers builds, no memory used."""
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(model_config)
    params = sum({id(p): p.numel() for p in model.parameters()}.values())
    largest = max(sum(p.numel() for p in m.parameters(recurse=False)) for m in model.modules())
    trainable = params
    if method == "lora":
        trainable = sum(lora_r * (m.in_features + m.out_features) for name, m in model.named_modules()
                        if isinstance(m, torch.nn.Linear) and name.rsplit(".", 1)[-1] in set(lora_targets or ()))
    c = model_config
    heads = c.num_attention_heads
    return ModelShape(model_type=c.model_type, hidden=c.hidden_size, layers=c.num_hidden_layers,
                      intermediate=c.intermediate_size, heads=heads,
                      kv_heads=getattr(c, "num_key_value_heads", None) or heads,
                      head_dim=getattr(c, "head_dim", None) or c.hidden_size // heads, vocab=c.vocab_size,
                      params=params, trainable=trainable, largest_layer_params=largest)


@dataclass(frozen=True)
class Setup:
    """What the estimate depends on, from a run config (``setup_of``), so the planner can try other knobs."""
    method: str
    precision_bytes: int
    gpu: bool
    world: int  # GPUs (or CPU workers) of the trial
    gpus_per_node: int
    zero_stage: int | None  # None: plain DDP
    offload_optimizer: bool
    offload_params: bool
    micro_batch: int
    grad_accum: int
    seq_len: int
    checkpointing: bool
    custom_lora_targets: bool = False


def setup_of(cfg, precision: str, gpu: bool, checkpointing: bool, gpus_per_node: int | None = None) -> Setup:
    ds = cfg.deepspeed
    return Setup(method=cfg.method, precision_bytes=4 if precision == "fp32" else 2, gpu=gpu, world=cfg.num_workers,
                 gpus_per_node=min(cfg.num_workers, gpus_per_node or cfg.num_workers),
                 zero_stage=ds.stage if ds else None, offload_optimizer=bool(ds and ds.offload_optimizer),
                 offload_params=bool(ds and ds.offload_params), micro_batch=cfg.micro_batch_size,
                 grad_accum=batch_arithmetic(cfg)[0], seq_len=cfg.data.seq_len, checkpointing=checkpointing,
                 custom_lora_targets=bool(cfg.method == "lora" and cfg.lora.target_modules))


@dataclass
class MemoryEstimate:
    parts_gib: dict[str, float]  # per GPU
    cpu_gib: float  # offloaded states on each node's host memory
    setup: Setup = field(repr=False)

    @property
    def total_gib(self) -> float:
        return sum(self.parts_gib.values())


def model_state_bytes(shape: ModelShape, s: Setup) -> tuple[float, float]:
    """(per GPU, per node's CPU) bytes of params, gradients and optimizer states."""
    p, n = s.precision_bytes, s.world
    trained, frozen = shape.trainable, shape.params - shape.trainable
    frozen_gpu = frozen * p / (n if s.zero_stage == 3 else 1)
    if s.zero_stage == 3 and s.offload_params:
        frozen_gpu = 0.0
    if p == 4:  # fp32 throughout: params 4, grads 4, Adam 8 bytes, no master copy
        gpu, cpu = _fp32_states(trained, shape.largest_layer_params, s)
    elif s.zero_stage in (2, 3):
        gpu, cpu = _deepspeed_estimate(trained, shape.largest_layer_params, s)
    elif s.zero_stage == 1:  # 16-bit params and grads whole; fp32 master, grads and Adam partitioned
        gpu, cpu = 4 * trained + 16 * trained / n, 0.0
    elif s.zero_stage == 0:  # DeepSpeed's mixed precision without partitioning
        gpu, cpu = 20 * trained, 0.0
    else:  # plain torch: fp32 weights, grads and Adam (bf16 autocast; PEFT keeps adapters in fp32 too)
        gpu, cpu = 16 * trained, 0.0
    return gpu + frozen_gpu, cpu


def _fp32_states(trained: int, largest: int, s: Setup) -> tuple[float, float]:
    n = s.world
    if s.zero_stage == 3:
        if s.offload_params:
            return 4 * largest, 16 * trained * s.gpus_per_node / n
        return 4 * largest + (4 + 4 + (0 if s.offload_optimizer else 8)) * trained / n, \
            (8 * trained * s.gpus_per_node / n if s.offload_optimizer else 0.0)
    if s.zero_stage == 2:
        if s.offload_optimizer:
            return 4 * trained, 16 * trained * s.gpus_per_node / n
        return 4 * trained + 12 * trained / n, 0.0
    if s.zero_stage == 1:
        return 8 * trained + 8 * trained / n, 0.0
    return 16 * trained, 0.0


def _deepspeed_estimate(trained: int, largest: int, s: Setup) -> tuple[float, float]:
    """DeepSpeed's estimators, with its buffer factor for host memory."""
    nodes = max(1, s.world // s.gpus_per_node)
    if s.zero_stage == 2:
        cpu, gpu = estimate_zero2_model_states_mem_needs(trained, s.gpus_per_node, nodes, s.offload_optimizer)
        return float(gpu), float(cpu) if s.offload_optimizer else 0.0

    cpu, gpu, _ = estimate_zero3_model_states_mem_needs(trained, largest, s.gpus_per_node, nodes,
                                                         s.offload_optimizer, s.offload_params)
    return float(gpu), float(cpu) if s.offload_optimizer or s.offload_params else 0.0


def activation_bytes(shape: ModelShape, s: Setup) -> tuple[float, float]:
    """(activations, logits) bytes at their peak, per GPU."""
    p, h, tokens = s.precision_bytes, shape.hidden, s.micro_batch * s.seq_len
    method = "full" if s.method == "full" or s.custom_lora_targets else "lora"  # other targets: full FT's bound
    c_h, c_i, c_kv, c_0 = LAYER_BYTES[shape.family, p, method]
    layer = c_h * h + c_i * shape.intermediate + c_kv * shape.kv_heads * shape.head_dim + 4 * shape.heads + c_0
    kept_logits = 4 * shape.vocab + OUTER_BYTES_PER_HIDDEN[p] * h
    logit_grads = (8 + (p if p < 4 else 0)) * shape.vocab
    if not s.checkpointing:
        return tokens * shape.layers * layer, tokens * (kept_logits + logit_grads)
    # Each layer's input is kept; the backward first meets the logits, then recomputes one layer at a time.
    inputs = tokens * shape.layers * p * h
    return inputs + tokens * max(layer - (kept_logits + logit_grads), 0), tokens * (kept_logits + logit_grads)


def estimate_memory(shape: ModelShape, s: Setup) -> MemoryEstimate:
    states, cpu = model_state_bytes(shape, s)
    activations, logits = activation_bytes(shape, s)
    parts = {"model states": states / GIB, "activations": activations / GIB, "logits": logits / GIB}
    if s.zero_stage in (1, 2, 3) and s.world > 1:
        parts["ZeRO buckets"] = 2 * min(shape.trainable, ZERO_BUCKET) * s.precision_bytes / GIB
    if s.gpu:
        parts["CUDA context"] = CUDA_CONTEXT_GIB
    return MemoryEstimate(parts, cpu / GIB, s)


def fixes(shape: ModelShape, s: Setup, memory_gib: float) -> list[str]:
    """The single knobs that bring an estimate under ``memory_gib``, cheapest first (as config keys)."""
    options: list[tuple[str, Setup]] = []
    if not s.checkpointing:
        options.append(("activation_checkpointing: on", replace(s, checkpointing=True)))
    if s.zero_stage is None or s.zero_stage < 3:
        options.append(("deepspeed.stage: 3", replace(s, zero_stage=3)))
    if s.zero_stage in (2, 3) and not s.offload_optimizer:
        options.append(("deepspeed.offload_optimizer: true", replace(s, offload_optimizer=True)))
    if s.zero_stage == 3 and not s.offload_params:
        options.append(("deepspeed.offload_params: true", replace(s, offload_params=True)))
    micro = s.micro_batch // 2
    while micro >= 1:
        accum = s.grad_accum * s.micro_batch // micro
        options.append((f"micro_batch_size: {micro} with grad_accum: {accum} (the same global batch)",
                        replace(s, micro_batch=micro)))
        micro //= 2
    found = [name for name, option in options if estimate_memory(shape, option).total_gib <= memory_gib]
    both = replace(s, checkpointing=True, micro_batch=max(1, s.micro_batch // 2))
    if not found and not s.checkpointing and estimate_memory(shape, both).total_gib <= memory_gib:
        found.append(f"activation_checkpointing: on with micro_batch_size: {both.micro_batch} and grad_accum: "
                     f"{s.grad_accum * s.micro_batch // both.micro_batch}")
    return found[:3]
