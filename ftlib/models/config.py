"""Which model a run fine-tunes, and its LoRA adapters: the model sections of a run config."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from ftlib.core.configs import Strict


class ModelConfig(Strict):
    name: str = "tiny-phi3"  # embedded name, local dir, hub id, or s3:// / gs:// / file:// URI
    trust_remote_code: bool = False
    attn_implementation: Literal["auto", "sdpa", "eager", "flash_attention_2"] = "auto"


class LoraConfig(Strict):
    r: int = Field(default=8, gt=0)
    alpha: int = Field(default=16, gt=0)
    dropout: float = Field(default=0.05, ge=0, lt=1)
    target_modules: list[str] | None = None  # None: the architecture's attention projections
