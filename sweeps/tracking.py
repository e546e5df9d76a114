"""A sweep's parent run in its trackers (its YAML's ``tracking:`` block), which finalize and the report log to:
the selected configurations, the test scores the ledger records, the report's files. Each trial's own run is
logged by Ray's integrations during the sweep (sweeps/tune/callbacks/trackers.py)."""
from __future__ import annotations

import os
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import wandb
from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

from evaluation.harness import headline_metric
from evaluation.ledger import TestLedger
from evaluation.outputs import SCORES
from ftlib.core import storage
from ftlib.run.mlflow_runs import tagged_run
from sweeps.config import SweepConfig
from sweeps.layout import ledger_file, mlflow_artifacts, mlflow_url, selection_file, wandb_dir
from sweeps.saved import checked_state, report_dir
from sweeps.tracking_params import STUDY_TAG, experiment_name

REPORT_FILES = ("index.html", "summary.md")


def ledger_test_scores(sweep: SweepConfig, exp: str) -> dict[str, float]:
    """``test/<run id>/<task>/<headline metric>`` for every test scoring the ledger records (the latest of a
    retest), under the report's scoring profile."""
    profile = sweep.report.scoring if sweep.report else "cocktail"
    scores: dict[str, float] = {}
    for entry in TestLedger(ledger_file(exp)).entries:
        data = storage.read_bytes(storage.join(entry["out"], SCORES))
        if data is None:
            continue
        metric = headline_metric(entry["task"], profile)
        for row in pq.read_table(pa.BufferReader(data)).to_pylist():
            if row["task"] == entry["task"] and row["metric"] == metric and row["profile"] == profile:
                scores[f"test/{entry.get('run_id', entry['key'])}/{row['task']}/{metric}"] = row["value"]
    return scores


def log_study(sweep: SweepConfig, exp: str, report_dir: str | None = None) -> None:
    """Finalize's selection and test scores, and (``report_dir``) the report's files, to the sweep's parent run
    in each tracker: the same run every time it is called (finalize, then the report, then a rebuilt report)."""
    tracking = sweep.tracking
    if tracking is None:
        return
    files = [f for f in (selection_file(exp), ledger_file(exp)) if os.path.isfile(f)]
    files += [os.path.join(report_dir, f) for f in REPORT_FILES if report_dir and
              os.path.isfile(os.path.join(report_dir, f))]
    scores = ledger_test_scores(sweep, exp)
    if tracking.mlflow:
        _mlflow_study(sweep, exp, scores, files)
    if tracking.wandb:
        _wandb_study(sweep, exp, scores, files)


def mlflow_experiment(sweep: SweepConfig, exp: str) -> str:
    """The sweep's MLflow experiment id, created where missing (the SQLite default keeps its artifacts in the
    experiment dir)."""
    client = MlflowClient(mlflow_url(sweep, exp))
    found = client.get_experiment_by_name(experiment_name(sweep))
    return found.experiment_id if found else client.create_experiment(
        experiment_name(sweep), artifact_location=mlflow_artifacts(sweep, exp))


def _mlflow_study(sweep: SweepConfig, exp: str, scores: dict[str, float], files: list[str]) -> None:
    client = MlflowClient(mlflow_url(sweep, exp))
    experiment_id = mlflow_experiment(sweep, exp)
    run_id = tagged_run(client, experiment_id, STUDY_TAG, sweep.name) or client.create_run(
        experiment_id, run_name=f"{sweep.name} (study)", tags={STUDY_TAG: sweep.name}).info.run_id
    params = [Param("sweep", sweep.name), Param("experiment_dir", exp)]
    logged = client.get_run(run_id).data.params
    metrics = [Metric(k, v, 0, 0) for k, v in sorted(scores.items())]
    client.log_batch(run_id, params=[p for p in params if p.key not in logged])
    for start in range(0, len(metrics), 1000):  # MLflow takes at most 1000 metrics a batch
        client.log_batch(run_id, metrics=metrics[start:start + 1000])
    for path in files:
        client.log_artifact(run_id, path)
    client.set_terminated(run_id)


def _wandb_study(sweep: SweepConfig, exp: str, scores: dict[str, float], files: list[str]) -> None:
    settings: dict[str, Any] = {"project": sweep.tracking.wandb.project, "mode": sweep.tracking.wandb.mode,
                                "dir": wandb_dir(exp), "id": f"{sweep.name}-study", "name": f"{sweep.name} (study)",
                                "job_type": "study", "resume": "allow", "config": {"sweep": sweep.name}}
    os.makedirs(settings["dir"], exist_ok=True)
    with wandb.init(**settings, settings=wandb.Settings(silent=True)) as run:
        run.summary.update(scores)
        if files:
            artifact = wandb.Artifact(f"{sweep.name}-study", type="study")
            for path in files:
                artifact.add_file(path)
            run.log_artifact(artifact)


def log_report(exp: str, out: str) -> None:
    """``cocktail report``: the report's files to the sweep's parent run, if the sweep tracks (a two-stage
    directory: its stage 3 sweep's, which the report covers)."""
    exp = storage.absolute(report_dir(exp))
    sweep = checked_state(exp)
    if sweep.tracking is not None:
        log_study(sweep, exp, out)
