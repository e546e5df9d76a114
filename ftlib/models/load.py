"""Load a causal LM for training (embedded name, local dir, hub id or object-store URI), apply LoRA or reload a
checkpoint's adapter, turn on activation checkpointing."""
from __future__ import annotations

from pathlib import Path

from peft import LoraConfig as PeftLoraConfig
from peft import PeftModel, get_peft_model
from transformers import AutoModelForCausalLM

from ftlib.models.config import LoraConfig, ModelConfig
from ftlib.models.inspect import lora_targets
from ftlib.models.locate import local_model_path


def load_model(cfg: ModelConfig, dtype, attn_implementation: str):
    return AutoModelForCausalLM.from_pretrained(
        local_model_path(cfg.name), dtype=dtype, attn_implementation=attn_implementation,
        trust_remote_code=cfg.trust_remote_code)


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
