"""Device, precision, attention kernel, batch arithmetic and the DeepSpeed config: resolved in one place
from the run config and the hardware, so CPU and GPU run the same code paths."""
from __future__ import annotations

import contextlib
import importlib.util
from dataclasses import dataclass
from typing import Any

import torch

from ftlib.core.errors import ConfigError
from ftlib.run.config import RunConfig


@dataclass(frozen=True)
class Resolved:
    device: str  # "cuda" | "cpu"
    precision: str  # "fp32" | "bf16" | "fp16"
    attn_implementation: str
    grad_accum: int
    global_batch_size: int
    deepspeed: dict[str, Any] | None
    activation_checkpointing: bool | None = False  # None: the worker decides from its GPU's memory (LoRA, auto)
    # bf16 full fine-tuning without DeepSpeed: fp32 weights (the optimizer's master copy) and bf16 autocast. In bf16
    # weights an update below 1/256 of a weight is lost (at the study's lr 3e-6, nearly every update).
    autocast: bool = False

    @property
    def torch_dtype(self):
        return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[self.precision]

    @property
    def weights_dtype(self):
        return torch.float32 if self.autocast else self.torch_dtype

    def autocast_context(self, device_type: str):

        return torch.autocast(device_type, dtype=torch.bfloat16) if self.autocast else contextlib.nullcontext()


def resolve(cfg: RunConfig, cuda: bool) -> Resolved:
    """``cuda``: whether the workers will have a GPU (the driver passes ``cfg.use_gpu``)."""
    device = "cuda" if cuda else "cpu"
    precision = cfg.precision if cfg.precision != "auto" else ("bf16" if cuda else "fp32")
    if precision == "fp16" and not cuda:
        raise ConfigError("precision: fp16 is not supported on CPU (DeepSpeed and torch refuse it there); "
                          "use fp32 (default on CPU) or bf16 (runs, 20-50x slower on CPU)")
    attn = cfg.model.attn_implementation
    if attn == "auto":
        attn = "flash_attention_2" if cuda and importlib.util.find_spec("flash_attn") else "sdpa"
    elif attn == "flash_attention_2" and not cuda:
        raise ConfigError("model.attn_implementation: flash_attention_2 needs a GPU; use sdpa or auto")
    if precision == "fp16" and cfg.deepspeed is None:
        raise ConfigError("precision: fp16 needs DeepSpeed (it scales the loss; plain torch here does not): set "
                          "deepspeed, or use bf16")
    accum, global_batch = batch_arithmetic(cfg)
    ds = deepspeed_config(cfg, precision, accum, global_batch, cuda) if cfg.deepspeed else None
    autocast = precision == "bf16" and cfg.method == "full" and cfg.deepspeed is None
    return Resolved(device, precision, attn, accum, global_batch, ds, activation_checkpointing(cfg, cuda), autocast)


def activation_checkpointing(cfg: RunConfig, cuda: bool) -> bool | None:
    """on / off as set; auto: off on CPU (memory is not what limits a CPU run), on for full fine-tuning on GPU
    (as LLaMA-Factory, which the study used), and for LoRA decided where the GPU's memory is known."""
    if cfg.activation_checkpointing != "auto":
        return cfg.activation_checkpointing == "on"
    if not cuda:
        return False
    return True if cfg.method == "full" else None


def batch_arithmetic(cfg: RunConfig) -> tuple[int, int]:
    """micro × accum × workers = global, always; an inconsistent or non-dividing request is refused."""
    per_step = cfg.micro_batch_size * cfg.num_workers
    if cfg.global_batch_size is None:
        accum = cfg.grad_accum or 1
        return accum, per_step * accum
    if cfg.global_batch_size % per_step:
        raise ConfigError(
            f"global_batch_size {cfg.global_batch_size} is not divisible by micro_batch_size {cfg.micro_batch_size}"
            f" × num_workers {cfg.num_workers} = {per_step}")
    accum = cfg.global_batch_size // per_step
    if cfg.grad_accum is not None and cfg.grad_accum != accum:
        raise ConfigError(f"grad_accum {cfg.grad_accum} disagrees with global_batch_size {cfg.global_batch_size} = "
                          f"micro_batch_size {cfg.micro_batch_size} × num_workers {cfg.num_workers} × {accum}")
    return accum, cfg.global_batch_size


def deepspeed_config(cfg: RunConfig, precision: str, accum: int, global_batch: int, cuda: bool) -> dict[str, Any]:
    ds = cfg.deepspeed
    zero: dict[str, Any] = {"stage": ds.stage, "overlap_comm": cuda, "contiguous_gradients": True}
    if ds.offload_optimizer:
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": cuda}
    if ds.offload_params:
        zero["offload_param"] = {"device": "cpu", "pin_memory": cuda}
    if ds.stage == 3:
        zero["stage3_gather_16bit_weights_on_model_save"] = True
    config: dict[str, Any] = {
        "train_micro_batch_size_per_gpu": cfg.micro_batch_size,
        "gradient_accumulation_steps": accum,
        "train_batch_size": global_batch,
        "gradient_clipping": cfg.optim.max_grad_norm,
        "zero_optimization": zero,
        "bf16": {"enabled": precision == "bf16"},
        "fp16": {"enabled": precision == "fp16"},
        "steps_per_print": 10**9,
        "wall_clock_breakdown": False,
    }
    if ds.offload_optimizer:
        # ZeRO-Offload steps the optimizer on CPU with DeepSpeed's own Adam (compiled on first use).
        config["optimizer"] = {"type": "AdamW", "params": {"lr": cfg.optim.lr, "weight_decay": cfg.optim.weight_decay}}
    else:
        config["zero_allow_untested_optimizer"] = True  # torch AdamW passed in: no fused_adam compile
    return config
