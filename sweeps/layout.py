"""Every file and folder inside an experiment dir (``<storage_path>/<name>/``), named here and nowhere else:

    sweep.json            the sweep as it ran (paths anchored)       tune/              Tune's experiment state
    driver.lock           the running driver's PID and host
    trials.parquet        one row per run (sweeps/trial_table.py)    optuna.db          the Optuna study (local)
    trials/<run id>/      each run's directory (ftlib/run/files.py), with validation/ (its objective's scoring)
    final/selection.json  finalize's choice, on validation           final/tune-<hash>/ finalize's reruns
    final/test/<run id>/  the test split's scoring, once              test_ledger.jsonl  every look at a test split
    final/untuned/<model hash>/  each base model's test scoring, untuned (the baseline arm)
    surrogate.json, proposals.yaml    sweep propose                   report/            cocktail report
    two_stage.json, <name>-proxy/, <name>-target/    a two-stage search's parent directory
    mlflow.db, mlartifacts/   MLflow's store (tracking: mlflow without a tracking_uri)  wandb/  W&B's run files
"""
from __future__ import annotations

from typing import Any

from evaluation.ledger import LEDGER
from ftlib.core import storage
from ftlib.core.hashing import canonical_hash
from ftlib.run.files import MODEL_DIR, PLAN_FILE, TRIAL_FILE, WANDB_DIR

SWEEP_FILE = "sweep.json"
DRIVER_LOCK = "driver.lock"  # held by the running driver (sweeps/lock.py)
TUNE = "tune"
TRIALS_TABLE = "trials.parquet"
OPTUNA_DB = "optuna.db"
RUNS = "trials"
VALIDATION = "validation"  # a run's objective scoring: predictions.parquet, scores.parquet
FINAL = "final"
SELECTION = "selection.json"
TEST = "test"
UNTUNED = "untuned"
SURROGATE = "surrogate.json"
PROPOSALS = "proposals.yaml"
REPORT = "report"
TWO_STAGE = "two_stage.json"


def experiment_dir(sweep) -> str:
    """``<storage_path>/<name>``: a path every node mounts, or an object-store URI (s3://, gs://)."""
    return storage.join(storage.absolute(sweep.resources.storage_path), sweep.name)


def sweep_file(exp: str) -> str:
    return storage.join(exp, SWEEP_FILE)


def tune_path(exp: str, tune_dir: str = TUNE) -> str:
    """A Tune experiment's state under ``exp``: the sweep's (``tune``) or finalize's reruns (``final/tune-…``)."""
    return storage.join(exp, *tune_dir.split("/"))


def tune_parent(exp: str, tune_dir: str = TUNE) -> str:
    """Where a Tune experiment and its ``trials.parquet`` sit: the experiment dir, or ``final/`` for reruns."""
    return storage.join(exp, *tune_dir.split("/")[:-1])


def trials_table(directory: str) -> str:
    """``trials.parquet`` in an experiment dir (or beside finalize's reruns in ``final/``)."""
    return storage.join(directory, TRIALS_TABLE)


def runs_dir(exp: str) -> str:
    return storage.join(exp, RUNS)


def run_dir(exp: str, run_id: str) -> str:
    return storage.join(exp, RUNS, run_id)


def run_file(exp: str, run_id: str, name: str = TRIAL_FILE) -> str:
    return storage.join(exp, RUNS, run_id, name)


def run_model(exp: str, run_id: str) -> str:
    return run_file(exp, run_id, MODEL_DIR)


def run_plan(run_directory: str) -> str:
    return storage.join(run_directory, PLAN_FILE)


def validation_dir(exp: str, run_id: str) -> str:
    return storage.join(exp, RUNS, run_id, VALIDATION)


def final_dir(exp: str) -> str:
    return storage.join(exp, FINAL)


def selection_file(exp: str) -> str:
    return storage.join(exp, FINAL, SELECTION)


def rerun_tune_dir(points: list[dict[str, Any]]) -> str:
    """finalize's reruns of these points, relative to the experiment (one Tune experiment per set of points)."""
    return f"{FINAL}/tune-{canonical_hash(points, 8)}"


def test_dir(exp: str, run_id: str) -> str:
    return storage.join(exp, FINAL, TEST, run_id)


def untuned_key(model: str) -> str:
    """The ledger key (and report run id) of a base model scored untuned."""
    return f"untuned:{canonical_hash(model)}"


def untuned_dir(exp: str, model: str) -> str:
    """The test scoring of a base model, untuned: ``final/untuned/<model hash>/``."""
    return storage.join(exp, FINAL, UNTUNED, canonical_hash(model))


def ledger_file(exp: str) -> str:
    return storage.join(exp, LEDGER)


def surrogate_file(exp: str) -> str:
    return storage.join(exp, SURROGATE)


def proposals_file(exp: str) -> str:
    return storage.join(exp, PROPOSALS)


def report_out(exp: str) -> str:
    return storage.join(exp, REPORT)


def optuna_url(sweep, exp: str) -> str | None:
    """Beside a local experiment, a SQLite study; in an object store (no SQLite there), the study lives in the
    searcher, which Tune checkpoints into the experiment and restores on resume."""
    local = storage.join(exp, OPTUNA_DB)
    return sweep.resources.optuna_storage or (None if storage.is_uri(exp) else f"sqlite:///{local}")


def mlflow_url(sweep, exp: str) -> str | None:
    """The sweep's MLflow tracking URI, if it tracks to MLflow: its own, or a SQLite store beside the experiment
    (the config refuses that default for an object-store sweep: SQLite needs a file system)."""
    tracking = sweep.tracking.mlflow if sweep.tracking else None
    return tracking.store(exp)[0] if tracking else None


def mlflow_artifacts(sweep, exp: str) -> str | None:
    """Where the SQLite default keeps artifacts: inside the experiment dir (a server keeps its own)."""
    tracking = sweep.tracking.mlflow if sweep.tracking else None
    return tracking.store(exp)[1] if tracking else None


def wandb_dir(exp: str) -> str:
    return storage.join(exp, WANDB_DIR)


def two_stage_file(parent: str) -> str:
    return storage.join(parent, TWO_STAGE)


def proxy_name(name: str) -> str:
    return f"{name}-proxy"


def target_name(name: str) -> str:
    return f"{name}-target"
