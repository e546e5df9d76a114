"""Load a causal LM for training (embedded name, local dir, hub id or object-store URI), apply LoRA or reload a
checkpoint's adapter, turn on activation checkpointing."""
from __future__ import annotations

import copy
from pathlib import Path

from peft import LoraConfig as PeftLoraConfig
from peft import PeftModel, get_peft_model
from transformers import AutoModelForCausalLM

from ftlib.models.config import LoraConfig, ModelConfig
from ftlib.models.inspect import lora_targets
from ftlib.models.locate import local_model_path

# The base weights last loaded in this process, for the next run a warm process trains (a Tune trial's process
# is reused across trials): one model at a time, on the CPU, never trained (each run gets a deep copy).
_BASE: dict[tuple, object] = {}


def load_model(cfg: ModelConfig, dtype, attn_implementation: str, cached: bool = False):
    """The model's weights from disk, or (``cached``) a copy of those this process loaded last for the same
    model, dtype and attention, if the files have not changed since."""
    path = local_model_path(cfg.name)
    if not cached:
        return _from_pretrained(path, cfg, dtype, attn_implementation)
    key = (path, _weights_mtime(path), str(dtype), attn_implementation, cfg.trust_remote_code)
    if key not in _BASE:
        _BASE.clear()
        _BASE[key] = _from_pretrained(path, cfg, dtype, attn_implementation)
    return copy.deepcopy(_BASE[key])


def _from_pretrained(path: str, cfg: ModelConfig, dtype, attn_implementation: str):
    return AutoModelForCausalLM.from_pretrained(path, dtype=dtype, attn_implementation=attn_implementation,
                                                trust_remote_code=cfg.trust_remote_code)


def _weights_mtime(path: str) -> float:
    """The newest modification time of a local model's files (a rebuilt model is loaded again); 0 for a hub id."""
    files = [p for p in Path(path).iterdir() if p.is_file()] if Path(path).is_dir() else []
    return max((p.stat().st_mtime for p in files), default=0.0)


def apply_lora(model, lora: LoraConfig):
    targets = lora_targets(model.config, lora)
    return get_peft_model(model, PeftLoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                                                target_modules=targets, task_type="CAUSAL_LM"))


def load_adapter(base, adapter_dir: Path):
    """A checkpoint's LoRA adapter on its base model, trainable (a resumed run)."""
    return PeftModel.from_pretrained(base, adapter_dir, is_trainable=True)


def enable_activation_checkpointing(model, lora: bool) -> None:
    """transformers' gradient checkpointing, non-reentrant (works under DDP and every ZeRO stage, and needs no
    input that requires grad). LoRA's frozen embeddings get outputs that require grad all the same, as
    transformers' Trainer does for adapters, so a reentrant checkpoint set by a model's own code still works."""
    model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    if lora:
        model.enable_input_require_grads()
