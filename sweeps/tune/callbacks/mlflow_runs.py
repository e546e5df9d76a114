"""Ray's MLflowLoggerCallback, one MLflow run per trial that a resumed sweep continues instead of duplicating.

Ray's callback keeps trial -> run in memory only: a driver that resumes a sweep (after Ctrl-C, a kill, a lost
head) would open a second run for every trial it restarts. Here a trial first looks for the run that carries its
name (Ray's own ``trial_name`` tag) in the sweep's experiment. Params are the trial's point (mixture weights,
hyperparameters, seed, model), not Tune's nested config; its config hash and data fingerprint join them with the
final report. Metrics are Ray's: every numeric result, per report."""
from __future__ import annotations

from typing import Any

from mlflow.tracking import MlflowClient
from ray.air.integrations.mlflow import MLflowLoggerCallback

from sweeps.tracking_params import FINAL_PARAMS, point_params


class ResumableMLflowLogger(MLflowLoggerCallback):
    def log_trial_start(self, trial) -> None:
        if trial not in self._trial_runs:
            run_id = self._existing_run(str(trial))
            if run_id is None:
                run_id = self.mlflow_util.start_run(tags={**self.tags, "trial_name": str(trial)},
                                                    run_name=str(trial)).info.run_id
            self._trial_runs[trial] = run_id
        self.mlflow_util.log_params(run_id=self._trial_runs[trial],
                                    params_to_log=point_params(trial.config.get("point") or {}))

    def log_trial_result(self, iteration: int, trial, result: dict[str, Any]) -> None:
        run_id = self._trial_runs[trial]
        metrics = {k: v for k, v in result.items() if k != "config"}  # the config is logged as params
        self.mlflow_util.log_metrics(run_id=run_id, metrics_to_log=metrics, step=result["training_iteration"])
        final = {k: result[k] for k in FINAL_PARAMS if k in result}
        if final:
            self.mlflow_util.log_params(run_id=run_id, params_to_log=final)

    def _existing_run(self, trial_name: str) -> str | None:
        client = MlflowClient(self.mlflow_util._mlflow.get_tracking_uri())
        runs = client.search_runs([self.mlflow_util.experiment_id], f"tags.trial_name = '{trial_name}'",
                                  max_results=1)
        return runs[0].info.run_id if runs else None
