"""``trials.parquet`` (one row per trial: ids, config hash, mixture, hparams, every reported metric, final
scores, state, wall time) and the leaderboard printed at the end of a sweep."""
from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from ftlib import storage
from ftlib.io import parquet_bytes
from sweeps.trainable import TRIALS, run_ids as point_run_ids

TRIALS_FILE = "trials.parquet"


def trial_rows(sweep, experiment_dir: str, trials, live: bool = False) -> list[dict[str, Any]]:
    """One row per Tune trial. ``live``: the sweep is still running (its unfinished trials are running or
    pending); otherwise they are ``unfinished`` (the driver was interrupted: ``cocktail sweep resume``)."""
    rows = []
    for trial in trials:
        config, metrics = trial.config or {}, trial.last_result or {}
        point = config.get("point", {})
        # The runs a trial makes follow from its point: known for trials stopped before their final report too.
        run_ids = metrics.get("run_ids") or (point_run_ids(sweep, point, experiment_dir) if point else [])
        trial_json = _trial_file(experiment_dir, run_ids[0], "trial.json") if run_ids else {}
        run_config = _trial_file(experiment_dir, run_ids[0], "run_config.json") if run_ids else {}
        error = _error_text(trial) if trial.status == "ERROR" else None
        rows.append({
            "trial_id": run_ids[0] if run_ids else "",
            "tune_trial_id": trial.trial_id,
            "state": _state(trial.status, metrics, live),
            "config_hash": metrics.get("config_hash", ""),
            "mixture": json.dumps({t: s.get("weight", s.get("rows")) for t, s in point.get("sources", {}).items()},
                                  sort_keys=True),
            "hparams": json.dumps(point.get("params", {}), sort_keys=True, default=str),
            "seed": point.get("seed"),
            "model": point.get("model"),
            "metrics": json.dumps({k: v for k, v in metrics.items() if _scalar(v)}, sort_keys=True, default=str),
            "history": json.dumps(trial_json.get("history", [])),
            "run_config": json.dumps(run_config, sort_keys=True),
            "objective": json.dumps({k: v for k, v in metrics.items() if k.startswith(("score_", "mean_"))}),
            "wall_s": trial_json.get("wall_s"),
            "error": error,
        })
    return rows


UNFINISHED = ("running", "pending", "paused", "unfinished")


def _state(status: str, metrics: dict[str, Any], live: bool) -> str:
    if status == "ERROR":
        return "errored"
    if status == "TERMINATED":
        # Ended without its objective scored: the scheduler stopped it early.
        return "completed" if metrics.get("objective_done") else "stopped_early"
    return status.lower() if live else "unfinished"


def _error_text(trial) -> str:
    """The first lines of the trial's error file (Tune writes it beside the trial's results)."""
    path = trial.error_file
    data = storage.read_bytes(path) if path else None
    return data.decode(errors="replace")[:2000] if data else "error (no error file)"


def write_trials(experiment_dir: str, rows: list[dict[str, Any]]) -> str:
    path = storage.join(experiment_dir, TRIALS_FILE)
    storage.write_bytes(path, parquet_bytes(pa.Table.from_pylist(rows)))
    return path


def leaderboard(rows: list[dict[str, Any]], key: str, mode: str, top: int = 10) -> list[list[Any]]:
    done = [r for r in rows if r["state"] == "completed" and key in json.loads(r["metrics"])]
    done.sort(key=lambda r: json.loads(r["metrics"])[key], reverse=(mode == "max"))
    return [[i + 1, r["trial_id"], f"{json.loads(r['metrics'])[key]:.4f}", r["mixture"], r["hparams"]]
            for i, r in enumerate(done[:top])]


def _trial_file(experiment_dir: str, run_id: str, name: str) -> dict:
    """A JSON file of a trial's run directory ({} while the trial has not written it)."""
    data = storage.read_bytes(storage.join(experiment_dir, TRIALS, run_id, name))
    return json.loads(data) if data is not None else {}


def _scalar(value: Any) -> bool:
    return isinstance(value, (int, float, str, bool)) or value is None
