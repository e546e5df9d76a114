"""``RunConfig``: one trial = one model fine-tuned on one mixture. Embeds the ``MixtureSpec``."""
from __future__ import annotations

from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ftlib.data.spec import MixtureSpec
from ftlib.errors import ConfigError
from ftlib.io import canonical_hash


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelConfig(_Strict):
    name: str = "tiny-phi3"  # embedded name, local dir, hub id, or s3:// / gs:// / file:// URI
    trust_remote_code: bool = False
    attn_implementation: Literal["auto", "sdpa", "eager", "flash_attention_2"] = "auto"


class LoraConfig(_Strict):
    r: int = Field(default=8, gt=0)
    alpha: int = Field(default=16, gt=0)
    dropout: float = Field(default=0.05, ge=0, lt=1)
    target_modules: list[str] | None = None  # None: the architecture's attention projections


class DeepSpeedConfig(_Strict):
    stage: Literal[0, 1, 2, 3] = 2
    offload_optimizer: bool = False
    offload_params: bool = False

    @model_validator(mode="after")
    def _offload_params_needs_zero3(self) -> "DeepSpeedConfig":
        if self.offload_params and self.stage != 3:
            raise ValueError(f"offload_params needs stage 3, got stage {self.stage}")
        return self


class OptimConfig(_Strict):
    lr: float = Field(default=2e-4, gt=0)
    weight_decay: float = Field(default=0.0, ge=0)
    warmup_steps: int = Field(default=0, ge=0)
    max_grad_norm: float = Field(default=1.0, gt=0)
    schedule: Literal["cosine", "constant"] = "cosine"


class DataConfig(_Strict):
    dir: str = "outputs/data"
    source: str = "offline"  # where `cocktail train` prepares missing tasks from
    seq_len: int = Field(default=512, gt=8)
    style: Literal["plain", "chat"] = "plain"
    val_examples: int = Field(default=64, gt=0)  # per task
    examples_per_block: int = Field(default=4096, gt=0)  # packed together: fill 0.975 at 512, 0.993 at 4096


class RunConfig(_Strict):
    name: str = "run"
    seed: int = 42
    model: ModelConfig = ModelConfig()
    method: Literal["lora", "full"] = "lora"
    lora: LoraConfig = LoraConfig()
    deepspeed: DeepSpeedConfig | None = None  # None: plain DDP
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"  # auto: bf16 on GPU, fp32 on CPU
    # Recompute each layer in the backward pass instead of keeping its activations (transformers' own mechanism,
    # non-reentrant). auto: on for full fine-tuning on GPU; for LoRA on GPU when the planner finds it needed.
    activation_checkpointing: Literal["auto", "on", "off"] = "auto"
    mixture: MixtureSpec
    data: DataConfig = DataConfig()
    eval_tasks: list[str] | None = None  # per-task validation loss; default: the mixture's tasks
    optim: OptimConfig = OptimConfig()
    micro_batch_size: int = Field(default=4, gt=0)
    grad_accum: int | None = Field(default=None, gt=0)
    global_batch_size: int | None = Field(default=None, gt=0)
    epochs: int = Field(default=1, gt=0)
    max_steps: int | None = Field(default=None, gt=0)
    eval_every: int = Field(default=50, gt=0)
    keep_checkpoints: int = Field(default=2, gt=0)
    checkpoint_metric: str = "val_loss"
    checkpoint_mode: Literal["min", "max"] = "min"
    num_workers: int = Field(default=1, gt=0)
    use_gpu: bool = False
    cpus_per_worker: float = Field(default=1.0, gt=0)
    worker_resources: dict[str, float] = {}  # custom resources per worker (node types, accelerator labels)
    max_failures: int = Field(default=2, ge=-1)  # worker failures survived, each resumed from the last checkpoint
    # Train controller failures tolerated before the trial fails, a worker group that cannot start within
    # RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S among them: a trial waiting for workers fails in bounded time.
    controller_failure_limit: int = Field(default=2, ge=-1)
    output_dir: str = "outputs/runs"

    def config_hash(self) -> str:
        """Names the run's outputs: everything that changes results (not where they go)."""
        return canonical_hash(self.model_dump(mode="json", exclude={"output_dir", "max_failures", "controller_failure_limit"}))

    def run_id(self) -> str:
        return f"{self.name}-{self.config_hash()}"

    def validation_tasks(self) -> list[str]:
        return self.eval_tasks or list(self.mixture.active())


def set_path(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """``data["a"]["b"] = value`` for ``path`` ``"a.b"``, creating mappings on the way."""
    node = data
    parts = path.split(".")
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{path!r}: {part!r} is not a mapping")
        node = child
    node[parts[-1]] = value
    return data


def get_path(data: dict[str, Any], path: str, default: Any = None) -> Any:
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """``--set a.b=value`` (value read as YAML) into a config dict, naming the bad override."""
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected KEY.PATH=VALUE")
        try:
            set_path(data, key, yaml.safe_load(raw))
        except ConfigError as e:
            raise ConfigError(f"--set {item!r}: {e}") from None
    return data
