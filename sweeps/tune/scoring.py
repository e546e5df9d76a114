"""Scoring a trained run's objective on validation, inside its trial: in this process on CPU or on the GPU the
trial holds (the ``tune`` executor), else in a GPU actor (a trial that drives a worker group holds no GPU). Every prediction is kept (the report's paired statistics read them)."""
from __future__ import annotations

from typing import Any

from evaluation.backends import LocalBackend, RayBackend
from evaluation.harness import evaluate, headline_metric
from evaluation.inference import load_for_eval
from evaluation.outputs import write_results
from ftlib.run.config import RunConfig
from sweeps.config import SweepConfig
from sweeps.objective import MEAN, score_key


def evaluate_objective(sweep: SweepConfig, cfg: RunConfig, model_dir: str, out: str,
                       holds_worker: bool = False) -> dict[str, Any]:
    """Headline score per objective task on its validation split, and their mean; every prediction is kept
    under ``out`` (the report's paired statistics read them)."""
    tasks = sweep.objective_tasks()
    if not tasks:
        return {}
    results = evaluate(backend_for(cfg.use_gpu, model_dir, cfg.model.trust_remote_code, holds_worker), tasks,
                       data_dir=cfg.data.dir, split="validation",
                       limit=sweep.objective.limit, mode=sweep.objective.eval_mode, style=cfg.data.style)
    write_results(out, results, "validation", cfg.config_hash())
    scores = {score_key(r.task): r.scores[headline_metric(r.task, sweep.objective.scoring)] for r in results}
    scores[MEAN] = sum(scores.values()) / len(scores)
    return scores


def backend_for(use_gpu: bool, model_dir: str, trust_remote_code: bool = False, holds_worker: bool = False):
    """Where a trained model is scored: in this process on CPU, or on the GPU this process holds
    (``holds_worker``: it trained the run itself), else in a GPU actor."""
    if use_gpu and not holds_worker:
        return RayBackend(model_dir, num_gpus=1, trust_remote_code=trust_remote_code)
    return LocalBackend(load_for_eval(model_dir, device="cuda" if use_gpu else "cpu",
                                      trust_remote_code=trust_remote_code))
