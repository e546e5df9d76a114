"""The number a sweep optimises: validation scores of the trained model (never test)."""
from __future__ import annotations

from typing import Any

from evaluation.harness import headline_metric
from ftlib.errors import ConfigError
from ftlib.train.config import RunConfig
from sweeps.config import SweepConfig

MEAN = "mean_financial"


def score_key(task: str) -> str:
    return f"score_{task}"


def objective_keys(sweep: SweepConfig) -> list[str]:
    """Report keys of the objective metrics; an unknown name is refused before any trial starts."""
    keys = []
    from evaluation.profiles import applies
    from ftlib.tasks.registry import get_task

    tasks = sweep.objective_tasks()
    mixture_tasks = set(sweep.pool)
    unscored = [t for t in tasks if not applies(sweep.objective.scoring, get_task(t))]
    if unscored:
        raise ConfigError(f"objective.scoring {sweep.objective.scoring}: the profile has no rule for {unscored}; "
                          f"set objective.tasks to tasks it scores, or use cocktail")
    for name in sweep.objective.metrics:
        if name == MEAN:
            if not tasks:
                raise ConfigError("objective.metrics: mean_financial needs financial tasks in pool or objective.tasks")
            keys.append(MEAN)
        elif name in tasks:
            keys.append(score_key(name))
        elif name == "val_loss" or (name.startswith("val_loss_") and name[len("val_loss_"):] in mixture_tasks):
            keys.append(name)
        else:
            raise ConfigError(f"objective.metrics: {name!r} names no reported metric; expected {MEAN}, one of the "
                              f"objective tasks {tasks}, val_loss or val_loss_<pool task>")
    return keys


def evaluate_objective(sweep: SweepConfig, cfg: RunConfig, model_dir: str, out: str) -> dict[str, Any]:
    """Headline score per objective task on its validation split, and their mean; every prediction is kept
    under ``out`` (the report's paired statistics read them)."""
    from evaluation.harness import evaluate
    from evaluation.run import write_results

    tasks = sweep.objective_tasks()
    if not tasks:
        return {}
    results = evaluate(backend_for(cfg.use_gpu, model_dir, cfg.model.trust_remote_code), tasks, data_dir=cfg.data.dir, split="validation",
                       limit=sweep.objective.limit, mode=sweep.objective.eval_mode, style=cfg.data.style)
    write_results(out, results, "validation", cfg.config_hash())
    scores = {score_key(r.task): r.scores[headline_metric(r.task, sweep.objective.scoring)] for r in results}
    scores[MEAN] = sum(scores.values()) / len(scores)
    return scores


def backend_for(use_gpu: bool, model_dir: str, trust_remote_code: bool = False):
    """Where a trained model is scored: in this process on CPU, or in a GPU actor (a trial function and the
    driver hold no GPU)."""
    from evaluation.backends import LocalBackend, RayBackend
    from evaluation.inference import load_for_eval

    if use_gpu:
        return RayBackend(model_dir, num_gpus=1, trust_remote_code=trust_remote_code)
    return LocalBackend(load_for_eval(model_dir, device="cpu", trust_remote_code=trust_remote_code))


def stored_objective(sweep: SweepConfig, out: str) -> dict[str, Any] | None:
    """The objective as ``evaluate_objective`` wrote it under ``out`` (None when it has not, or not for every
    objective task)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from evaluation.run import SCORES
    from ftlib import storage

    data = storage.read_bytes(storage.join(out, SCORES))
    tasks = sweep.objective_tasks()
    if data is None or not tasks:
        return None
    profile = sweep.objective.scoring
    stored = {(r["task"], r["metric"]): r["value"] for r in pq.read_table(pa.BufferReader(data)).to_pylist()
              if r["profile"] == profile}
    wanted = {t: headline_metric(t, profile).split("@")[0] for t in tasks}
    if any((t, m) not in stored for t, m in wanted.items()):
        return None
    scores = {score_key(t): stored[t, m] for t, m in wanted.items()}
    scores[MEAN] = sum(scores.values()) / len(scores)
    return scores
