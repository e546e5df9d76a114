"""Load a causal LM (embedded name, local dir, hub id or object-store URI), apply LoRA, check targets."""
from __future__ import annotations

import hashlib
import os

from ftlib.errors import ConfigError
from ftlib.models.embedded import models_dir, resolve_model
from ftlib.train.config import LoraConfig, ModelConfig

# Attention projections per architecture (PEFT's defaults are missing for some, and Phi-3 fuses qkv).
LORA_TARGETS = {
    "phi3": ["qkv_proj", "o_proj"],
    "llama": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "mistral": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "qwen2": ["q_proj", "k_proj", "v_proj", "o_proj"],
}
URI_SCHEMES = ("s3://", "gs://", "file://")


def local_model_path(name: str) -> str:
    """Embedded names are built, URIs are copied to local disk once (keyed by URI), the rest passes through."""
    if not name.startswith(URI_SCHEMES):
        return resolve_model(name)
    import pyarrow.fs as pafs

    target = models_dir() / "downloads" / hashlib.sha256(name.encode()).hexdigest()[:16]
    if not target.exists():  # atomic_dir: it exists only once complete (an adapter dir has no config.json)
        from ftlib.io import atomic_dir

        with atomic_dir(target) as tmp:
            try:
                pafs.copy_files(name, str(tmp), destination_filesystem=pafs.LocalFileSystem())
            except (OSError, ValueError) as e:
                raise ConfigError(f"model.name {name!r}: cannot download ({e})") from None
    return str(target)


def load_config(cfg: ModelConfig):
    from transformers import AutoConfig

    path = local_model_path(cfg.name)
    try:
        return AutoConfig.from_pretrained(path, trust_remote_code=cfg.trust_remote_code)
    except (OSError, ValueError) as e:
        hint = "" if os.path.isdir(path) else " (not a local directory; hub ids need network access)"
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConfigError(f"model.name {cfg.name!r}: cannot load its config{hint}: {reason}") from None


def lora_targets(model_config, lora: LoraConfig) -> list[str]:
    if lora.target_modules:
        return list(lora.target_modules)
    targets = LORA_TARGETS.get(model_config.model_type)
    if targets is None:
        raise ConfigError(f"no default LoRA targets for model type {model_config.model_type!r}; "
                          f"set lora.target_modules")
    return targets


def check_lora_targets(model_config, lora: LoraConfig) -> list[str]:
    """Builds the model on the meta device (no memory) and checks every target matches some Linear."""
    import torch
    from transformers import AutoModelForCausalLM

    targets = lora_targets(model_config, lora)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(model_config)
    linear = sorted({name.rsplit(".", 1)[-1] for name, m in model.named_modules() if isinstance(m, torch.nn.Linear)})
    missing = [t for t in targets if t not in linear]
    if missing:
        raise ConfigError(f"lora.target_modules {missing} match no module of {model_config.model_type}; "
                          f"its Linear modules are {linear}")
    return targets


def load_model(cfg: ModelConfig, dtype, attn_implementation: str):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(
        local_model_path(cfg.name), dtype=dtype, attn_implementation=attn_implementation,
        trust_remote_code=cfg.trust_remote_code)


def apply_lora(model, lora: LoraConfig):
    from peft import LoraConfig as PeftLoraConfig, get_peft_model

    targets = lora_targets(model.config, lora)
    return get_peft_model(model, PeftLoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                                                target_modules=targets, task_type="CAUSAL_LM"))


def enable_activation_checkpointing(model, lora: bool) -> None:
    """transformers' gradient checkpointing, non-reentrant (works under DDP and every ZeRO stage, and needs no
    input that requires grad). LoRA's frozen embeddings get outputs that require grad all the same, as
    transformers' Trainer does for adapters, so a reentrant checkpoint set by a model's own code still works."""
    model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    if lora:
        model.enable_input_require_grads()
