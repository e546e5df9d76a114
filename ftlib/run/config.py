"""``RunConfig``: one trial = one model fine-tuned on one mixture. Embeds the ``MixtureSpec``."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from ftlib.core import storage
from ftlib.core.configs import Name, OnOff, Seed, Strict, check_unique
from ftlib.core.hashing import canonical_hash
from ftlib.data.spec import MixtureSpec
from ftlib.models.config import LoraConfig, ModelConfig
from ftlib.run.files import MLFLOW_ARTIFACTS, MLFLOW_DB
from ftlib.tasks.catalog import TaskNames


class DeepSpeedConfig(Strict):
    stage: Literal[0, 1, 2, 3] = 2
    offload_optimizer: bool = False
    offload_params: bool = False

    @model_validator(mode="after")
    def _offload_params_needs_zero3(self) -> "DeepSpeedConfig":
        if self.offload_params and self.stage != 3:
            raise ValueError(f"offload_params needs stage 3, got stage {self.stage}")
        return self


class OptimConfig(Strict):
    lr: float = Field(default=2e-4, gt=0)
    weight_decay: float = Field(default=0.0, ge=0)
    warmup_steps: int = Field(default=0, ge=0)
    max_grad_norm: float = Field(default=1.0, gt=0)
    schedule: Literal["cosine", "constant"] = "cosine"


class DataConfig(Strict):
    dir: str = "outputs/data"
    source: str = "offline"  # where `cocktail train` prepares missing tasks from
    seq_len: int = Field(default=512, gt=8)
    style: Literal["plain", "chat"] = "plain"
    val_examples: int = Field(default=64, gt=0)  # per task
    examples_per_block: int = Field(default=4096, gt=0)  # packed together: fill 0.975 at 512, 0.993 at 4096


class MlflowTracking(Strict):
    tracking_uri: str | None = None  # None: a SQLite store inside the experiment (or runs) dir, no server
    experiment: Name | None = None  # None: the sweep's (or run's) name

    def store(self, directory: str) -> tuple[str, str | None]:
        """(tracking URI, artifact location): the given server's (it keeps its own artifacts), or the SQLite
        default in ``directory`` with its artifacts beside it (MLflow's own default is ./mlruns wherever one runs)."""
        if self.tracking_uri:
            return self.tracking_uri, None
        return f"sqlite:///{storage.join(directory, MLFLOW_DB)}", storage.join(directory, MLFLOW_ARTIFACTS)


class WandbTracking(Strict):
    project: Name = "cocktail"
    mode: Literal["online", "offline"] = "online"  # online reads WANDB_API_KEY from the environment


class TrackingConfig(Strict):
    """Experiment trackers a run or sweep logs to, through the integrations Ray ships. Secrets (WANDB_API_KEY,
    MLFLOW_TRACKING_TOKEN) are read by the trackers from the environment, never from a config."""
    mlflow: MlflowTracking | None = None
    wandb: WandbTracking | None = None


class TrainExecution(Strict):
    """Where the training loop runs (ftlib/run/executor.py): ``auto`` trains one worker without DeepSpeed in the
    trial's own process (``tune``) and anything larger in a Ray Train V2 worker group (``ray_train``). Results are
    the same either way, so the choice is not part of the config hash."""
    executor: Literal["auto", "tune", "ray_train"] = "auto"


class RunConfig(Strict):
    name: Name = "run"
    seed: Seed = 42
    model: ModelConfig = ModelConfig()
    method: Literal["lora", "full"] = "lora"
    lora: LoraConfig = LoraConfig()
    deepspeed: DeepSpeedConfig | None = None  # None: plain DDP
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"  # auto: bf16 on GPU, fp32 on CPU
    # Recompute each layer in the backward pass instead of keeping its activations (transformers' own mechanism,
    # non-reentrant). auto: on for full fine-tuning on GPU; for LoRA on GPU when the planner finds it needed.
    activation_checkpointing: OnOff = "auto"
    mixture: MixtureSpec
    data: DataConfig = DataConfig()
    eval_tasks: TaskNames | None = None  # per-task validation loss; default: the mixture's tasks
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
    tracking: TrackingConfig | None = None  # `cocktail train` only: a sweep's trials log through its own block
    train: TrainExecution = TrainExecution()

    @model_validator(mode="after")
    def _tune_executor_runs_one_plain_worker(self) -> "RunConfig":
        if self.train.executor == "tune" and (self.num_workers > 1 or self.deepspeed is not None):
            what = f"num_workers {self.num_workers}" if self.num_workers > 1 else "deepspeed"
            raise ValueError(f"train.executor tune runs one worker without DeepSpeed, got {what}: use ray_train "
                             f"(or auto)")
        return self

    def config_hash(self) -> str:
        """Names the run's outputs: everything that changes results (not where they go)."""
        return canonical_hash(self.model_dump(mode="json", exclude={"output_dir", "max_failures",
                                                                     "controller_failure_limit", "tracking",
                                                                     "train"}))

    def run_id(self) -> str:
        return f"{self.name}-{self.config_hash()}"

    def validation_tasks(self) -> list[str]:
        return self.eval_tasks or list(self.mixture.active())

