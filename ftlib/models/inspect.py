"""What a model is, without its weights: its config, and the Linear modules LoRA can adapt."""
from __future__ import annotations

import os

import torch
from transformers import AutoConfig, AutoModelForCausalLM

from ftlib.core.errors import ConfigError
from ftlib.models.config import LoraConfig, ModelConfig
from ftlib.models.locate import local_model_path

# Attention projections per architecture (PEFT's defaults are missing for some, and Phi-3 fuses qkv).
LORA_TARGETS = {
    "phi3": ["qkv_proj", "o_proj"],
    "llama": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "mistral": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "qwen2": ["q_proj", "k_proj", "v_proj", "o_proj"],
}


def load_model_config(cfg: ModelConfig):
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
    targets = lora_targets(model_config, lora)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(model_config)
    linear = sorted({name.rsplit(".", 1)[-1] for name, m in model.named_modules() if isinstance(m, torch.nn.Linear)})
    missing = [t for t in targets if t not in linear]
    if missing:
        raise ConfigError(f"lora.target_modules {missing} match no module of {model_config.model_type}; "
                          f"its Linear modules are {linear}")
    return targets
