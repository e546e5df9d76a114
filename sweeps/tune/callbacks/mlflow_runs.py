"""Ray's MLflowLoggerCallback, one MLflow run per trial that a resumed sweep continues instead of duplicating.

Ray's callback keeps trial -> run in memory only: a driver that resumes a sweep (after Ctrl-C, a kill, a lost
head) would open a second run for every trial it restarts. Here a trial first looks for the run that carries its
name (Ray's own ``trial_name`` tag) in the sweep's experiment. Params are the trial's point (mixture weights,
hyperparameters, seed, model), not Tune's nested config; its config hash and data fingerprint join them with the
final report. Metrics are every numeric result, per report, sent as one batch: Ray's callback sends each metric
as its own call inside Tune's event loop (0.097 s per report of 30 metrics against 0.006 s batched on SQLite,
measured here), and a sweep on the smoke preset then held finished trials' workers until others timed out."""
from __future__ import annotations

import math
import time
from numbers import Number
from typing import Any

from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient
from ray.air.integrations.mlflow import MLflowLoggerCallback

from ftlib.run.mlflow_runs import tagged_run
from sweeps.tracking_params import FINAL_PARAMS, point_params


class ResumableMLflowLogger(MLflowLoggerCallback):
    def log_trial_start(self, trial) -> None:
        client = self.mlflow_util._get_client()
        if trial not in self._trial_runs:
            self._trial_runs[trial] = tagged_run(client, self.mlflow_util.experiment_id, "trial_name", str(trial)) \
                or self.mlflow_util.start_run(tags={**self.tags, "trial_name": str(trial)}, run_name=str(trial)).info.run_id
        self._log_params(client, self._trial_runs[trial], point_params(trial.config.get("point") or {}))

    def log_trial_result(self, iteration: int, trial, result: dict[str, Any]) -> None:
        client, run_id = self.mlflow_util._get_client(), self._trial_runs[trial]
        now, step = int(time.time() * 1000), result["training_iteration"]
        metrics = [Metric(k, float(v), now, step) for k, v in result.items()
                   if isinstance(v, Number) and not isinstance(v, bool) and math.isfinite(v)]
        client.log_batch(run_id, metrics=metrics)
        self._log_params(client, run_id, {k: result[k] for k in FINAL_PARAMS if k in result})

    @staticmethod
    def _log_params(client: MlflowClient, run_id: str, params: dict[str, Any]) -> None:
        logged = client.get_run(run_id).data.params if params else {}
        new = [Param(k, str(v)) for k, v in params.items() if k not in logged]
        if new:
            client.log_batch(run_id, params=new)
