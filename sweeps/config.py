"""``SweepConfig``: one YAML file = one experiment. A base run config, a pool of tasks, a search (grid or
Optuna), an objective, a scheduler, resources and seeds. Validated once; errors name the key path."""
from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from ftlib.core import storage
from ftlib.core.configs import Name, Seed, Seeds, Strict, check_unique
from ftlib.run.config import RunConfig, TrackingConfig
from ftlib.tasks.catalog import FINANCIAL, TaskNames, get_task


def known_path(path: str) -> bool:
    """Whether a dotted path names a run-config key (``optim.lr``, ``lora.r``, ``mixture.budget``)."""
    model: Any = RunConfig
    for part in path.split("."):
        field = model.model_fields.get(part) if isinstance(model, type) and issubclass(model, BaseModel) else None
        if field is None:
            return False
        model = next((a for a in (field.annotation, *getattr(field.annotation, "__args__", ()))
                      if isinstance(a, type) and issubclass(a, BaseModel)), None)
    return True


class Param(Strict):
    """One hyperparameter, addressed by its dotted path in the run config (``optim.lr``, ``lora.r``)."""
    type: Literal["float", "int", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: list[Any] | None = None
    when: dict[str, Any] | None = None  # sampled only when these run-config paths have these values

    @model_validator(mode="after")
    def _bounds(self) -> "Param":
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("a categorical param needs choices")
            check_unique(self.choices)
            if any(isinstance(c, float) and not math.isfinite(c) for c in self.choices):
                raise ValueError(f"choices must be finite, got {self.choices}")
        elif self.low is None or self.high is None or self.low >= self.high:
            raise ValueError(f"a {self.type} param needs low < high, got low={self.low} high={self.high}")
        elif self.log and self.low <= 0:
            raise ValueError(f"log: true needs low > 0 (a log scale has no 0), got low={self.low}")
        elif self.step is not None and not 0 < self.step <= self.high - self.low:
            raise ValueError(f"step must be > 0 and at most high - low, got {self.step}")
        for path in self.when or {}:
            if not known_path(path):
                raise ValueError(f"when: {path!r} is not a run-config key")
        return self

    def holds(self, value: Any) -> bool:
        if self.type == "categorical":
            return value in self.choices
        return isinstance(value, (int, float)) and not isinstance(value, bool) and self.low <= value <= self.high


class OptunaConfig(Strict):
    # qmc (scrambled Sobol) and random: space-filling designs, the proxy stage of a two-stage search.
    sampler: Literal["tpe", "cmaes", "nsga2", "qmc", "random"] = "tpe"
    num_samples: int = Field(default=8, gt=0)
    include: list[str] = []  # tasks the search may leave out (an in/out choice each)
    weights: list[str] = []  # tasks whose weights the search sets on the simplex (flat Dirichlet)
    params: dict[str, Param] = {}
    points_to_evaluate: list[dict[str, Any]] = []  # Optuna param names: "w_<task>", "use_<task>", paths
    seed: Seed = 0

    @field_validator("include", "weights")
    @classmethod
    def _once(cls, tasks: list[str]) -> list[str]:
        return check_unique(tasks)

    @field_validator("params")
    @classmethod
    def _paths(cls, params: dict[str, Param]) -> dict[str, Param]:
        unknown = [p for p in params if not known_path(p)]
        if unknown:
            raise ValueError(f"{unknown} are not run-config keys (e.g. optim.lr, lora.r)")
        return params

    @model_validator(mode="after")
    def _points(self) -> "OptunaConfig":
        for i, point in enumerate(self.points_to_evaluate):
            for key, value in point.items():
                if key.startswith("w_") and key[2:] in self.weights:
                    ok = isinstance(value, (int, float)) and math.isfinite(value) and 0 <= value <= 1
                elif key.startswith("use_") and key[4:] in self.include:
                    ok = isinstance(value, bool)
                elif key in self.params:
                    ok = self.params[key].holds(value)
                else:
                    raise ValueError(f"points_to_evaluate[{i}]: {key!r} is not a searched name (w_<task> of "
                                     f"weights, use_<task> of include, or a params path)")
                if not ok:
                    raise ValueError(f"points_to_evaluate[{i}]: {key}: {value!r} is outside what the search takes")
        return self


class GridConfig(Strict):
    design: Literal["explicit", "paper_ablation", "subsets"] = "explicit"
    mixtures: list[dict[str, float]] = []  # explicit: task -> weight, one trial each
    # paper_ablation / subsets: a recipe YAML (a mixture spec in rows mode) whose sources the subsets take as they
    # are; a subsets design without one gives its sources equal weights within the base budget.
    recipe: str | None = None
    # The subsets' sizes: -1 is the pool's size less one (leave-one-out), 0 the whole pool. Default: the study's
    # singles, pairs, leave-one-out and all.
    sizes: list[int] = [1, 2, -1, 0]
    params: dict[str, list[Any]] = {}  # cartesian product over these run-config paths
    epochs_rule: bool = False  # the study: 3 epochs for <= 3 sources, else 2 with 10 warmup steps
    # Per objective target i and pair (i, j) of the design, also run i alone for as many epochs as trains the
    # pair's examples (its caps' sizes): the pair gain at equal compute, apart from the gain of more compute.
    compute_matched: bool = False


class SearchConfig(Strict):
    optuna: OptunaConfig | None = None
    grid: GridConfig | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> "SearchConfig":
        if (self.optuna is None) == (self.grid is None):
            raise ValueError("give exactly one of search.optuna or search.grid")
        return self


class ObjectiveConfig(Strict):
    # "mean_financial" (mean headline score of the objective tasks), a task name (its headline score),
    # or "val_loss" / "val_loss_<task>" (from training). Several names: multi-objective (NSGA-II).
    metrics: list[str] = ["mean_financial"]
    modes: list[Literal["max", "min"]] = ["max"]
    tasks: list[str] | None = None  # scored on validation; default: the pool's financial tasks
    limit: int = Field(default=64, gt=0)  # validation examples per task

    @field_validator("tasks")
    @classmethod
    def _once(cls, tasks: list[str] | None) -> list[str] | None:
        return tasks if tasks is None else check_unique(tasks)
    eval_mode: Literal["generate", "score"] = "generate"
    scoring: Literal["cocktail", "finben", "fingpt"] = "cocktail"  # whose rule reads the outputs (evaluation/profiles)

    @model_validator(mode="after")
    def _lengths(self) -> "ObjectiveConfig":
        if len(self.metrics) != len(self.modes):
            raise ValueError(f"objective.metrics ({len(self.metrics)}) and objective.modes ({len(self.modes)}) "
                             f"must have the same length")
        if self.scoring != "cocktail" and self.eval_mode != "generate":
            raise ValueError(f"objective.scoring {self.scoring} reads generated text: it needs eval_mode: generate")
        return self


class SchedulerConfig(Strict):
    kind: Literal["none", "asha"] = "none"
    # Per-step signal from training reports: val_loss_objective (the objective tasks' validation losses, equally
    # weighted: sweeps/objective.py), val_loss (token-weighted over every validation task), val_loss_<task>.
    metric: str = "val_loss_objective"
    mode: Literal["min", "max"] = "min"
    grace_period: int = Field(default=1, gt=0)  # in reports
    reduction_factor: float = Field(default=2.0, gt=1)


class ResourcesConfig(Strict):
    max_concurrent_trials: int | None = Field(default=None, gt=0)  # None: what the cluster fits
    storage_path: str = "outputs/sweeps"
    optuna_storage: str | None = None  # None: SQLite in the experiment dir; or an RDB URL for a shared study
    multi_node_trials: bool = False  # allow a trial to span nodes (else it must fit the largest node)
    # A trial whose process dies (its node lost, a spot preemption) is started again, up to this many times;
    # its Train run continues from its last checkpoint.
    trial_retries: int = Field(default=2, ge=0)
    # Refuse a sweep whose outputs would need more disk than this (the planner's estimate, printed by dry runs).
    max_disk_gb: float | None = Field(default=None, gt=0)
    # Compute planning (sweeps/preflight/compute.py): the GPU type priced (default: the cluster's, else H100), the MFU
    # assumed for GPU-hours, a price per GPU-hour for the cost, and a ceiling the sweep is refused over.
    gpu_type: str | None = None
    assumed_mfu: float = Field(default=0.35, gt=0, le=1)
    price_per_gpu_hour: float | None = Field(default=None, ge=0)
    max_gpu_hours: float | None = Field(default=None, gt=0)


class FinalizeConfig(Strict):
    """``cocktail sweep run`` goes on to ``sweep finalize`` with these settings when the sweep has them."""
    seeds: int = Field(default=3, gt=0)
    tasks: TaskNames | None = Field(default=None, min_length=1)  # default: the objective tasks


class ReportConfig(Strict):
    """... and then to ``cocktail report``."""
    resamples: int = Field(default=1000, ge=100)
    scoring: Literal["cocktail", "finben", "fingpt"] = "cocktail"
    # "Does not change" is claimed only through an equivalence test (TOST) within this margin of the metric.
    equivalence_margin: float = Field(default=0.02, gt=0, lt=1)


class SweepConfig(Strict):
    name: Name
    base: dict[str, Any]  # a RunConfig without mixture sources (the sweep sets them)
    pool: list[str] = Field(min_length=1)  # tasks the sweep mixes
    search: SearchConfig
    objective: ObjectiveConfig = ObjectiveConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    resources: ResourcesConfig = ResourcesConfig()
    seeds: Seeds = [42]
    # Several base models: every point of a grid design runs on each. An Optuna search learns one model's
    # surface (a model is not a mixture weight): one sweep per model.
    models: list[str] | None = Field(default=None, min_length=1)
    finalize: FinalizeConfig | None = None  # select, replicate, test once, right after the sweep
    report: ReportConfig | None = None  # and write the report (after finalize, when both are set)
    proposed_from: str | None = None  # the experiment whose surrogate proposed these mixtures (sweep propose)
    # That surrogate's fit and proposals, kept with the sweep they made: a later `sweep propose` on the same
    # experiment rewrites its surrogate.json, not what this sweep was proposed from.
    surrogate: dict[str, Any] | None = None
    tracking: TrackingConfig | None = None  # every trial one tracker run; finalize and the report one parent run

    @field_validator("pool", "models")
    @classmethod
    def _once(cls, items: list[str] | None) -> list[str] | None:
        return items if items is None else check_unique(items)

    @model_validator(mode="after")
    def _references(self) -> "SweepConfig":
        check_tasks(self.pool, self.objective)
        if "tracking" in self.base:
            raise ValueError("base.tracking: a sweep's trials log through the sweep's own tracking: block "
                             "(move it to the top level)")
        mlflow = self.tracking.mlflow if self.tracking else None
        if mlflow and not mlflow.tracking_uri and storage.is_uri(self.resources.storage_path):
            raise ValueError("tracking.mlflow.tracking_uri: an object-store sweep has no file system for MLflow's "
                             "SQLite default; give the URL of an MLflow server")
        opt, grid = self.search.optuna, self.search.grid
        if opt is not None and self.models:
            raise ValueError("models: an Optuna search runs one base model (set base.model.name); run one sweep "
                             "per model, or use a grid design, which runs every point on each model")
        for i, mixture in enumerate(grid.mixtures if grid is not None else []):
            outside = [t for t in mixture if t not in self.pool]
            if outside:
                raise ValueError(f"search.grid.mixtures[{i}] names tasks not in pool: {outside}")
        if opt is not None:
            outside = [t for t in [*opt.include, *opt.weights] if t not in self.pool]
            if outside:
                raise ValueError(f"search.optuna names tasks not in pool: {outside}")
            if not (opt.include or opt.weights or opt.params):
                raise ValueError("search.optuna has no free parameter: give include, weights or params")
            if len(self.objective.metrics) > 1 and opt.sampler != "nsga2":
                raise ValueError("several objective metrics need search.optuna.sampler: nsga2")
        signals = {"val_loss_objective", "val_loss", "train_loss",
                   *(f"val_loss_{t}" for t in [*self.pool, *self.objective_tasks()])}
        if self.scheduler.kind != "none" and self.scheduler.metric not in signals:
            raise ValueError(f"scheduler.metric {self.scheduler.metric!r}: expected one of {sorted(signals)}")
        return self

    def objective_tasks(self) -> list[str]:
        return objective_tasks(self.pool, self.objective)


def objective_tasks(pool: list[str], objective: ObjectiveConfig) -> list[str]:
    """The tasks an objective scores: its own list, or the pool's financial tasks."""
    return objective.tasks or [t for t in pool if t in FINANCIAL]


def check_tasks(pool: list[str], objective: ObjectiveConfig) -> None:
    for task in [*pool, *(objective.tasks or [])]:
        get_task(task)


Acquisition = Literal["ei", "ucb", "thompson", "mean"]  # sweeps/propose/acquisition.py
ACQUISITION_TEXT = {"ei": "expected improvement over the Gaussian process",
                    "ucb": "upper confidence bound over the Gaussian process",
                    "thompson": "Thompson draws from the Gaussian process",
                    "mean": "the chosen model's best predictions (no uncertainty)"}


class ProxyStage(Strict):
    """Stage 1: cheap trials on space-filling mixtures over the whole pool. ``faces`` (sweeps/propose/design.py):
    every task alone, pairs, sparse triples and Sobol points inside; ``qmc`` and ``random``: Optuna's samplers
    over the flat Dirichlet, which almost never leave a task out."""
    trials: int = Field(default=24, ge=8)  # a surrogate needs at least 8 configurations
    sampler: Literal["faces", "qmc", "random"] = "faces"
    set: dict[str, Any] = Field(default_factory=dict)  # run-config paths that make a trial cheap: max_steps, model.name
    seeds: Seeds | None = None  # default: the sweep's
    seed: Seed = 0


class ProposeStage(Strict):
    """Stage 2: fit the surrogates on stage 1, propose ``top`` mixtures; stage 3 runs them at target scale.
    The default target is RegMix's: validation loss, which separates a few-step proxy's mixtures where its
    scores are still a constant answer's."""
    target: str = "val_loss_objective"  # or objective, a task (its score), val_loss_<task>
    top: int = Field(default=3, gt=0)
    constraints: list[str] = []  # as `sweep propose --constraint`
    samples: int = Field(default=100_000, ge=1000)
    acquisition: Acquisition = "ei"  # how the proposals are picked: sweeps/propose/acquisition.py
    seed: Seed = 0
    baselines: bool = True  # stage 3 also runs each objective task alone and the pool at equal weights


class TwoStageConfig(Strict):
    proxy: ProxyStage = ProxyStage()
    propose: ProposeStage = ProposeStage()


class TwoStageSweep(Strict):
    """A sweep YAML with ``two_stage`` instead of ``search``: ``base`` is the target scale (stage 3), the proxy's
    ``set`` shrinks it for stage 1. finalize and report run after stage 3."""
    name: Name
    base: dict[str, Any]
    pool: list[str] = Field(min_length=2)
    two_stage: TwoStageConfig
    objective: ObjectiveConfig = ObjectiveConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    resources: ResourcesConfig = ResourcesConfig()
    seeds: Seeds = [42]
    finalize: FinalizeConfig | None = None
    report: ReportConfig | None = None

    @model_validator(mode="after")
    def _references(self) -> "TwoStageSweep":
        check_unique(self.pool)
        check_tasks(self.pool, self.objective)
        return self
