"""``trials.parquet`` (one row per trial: ids, config hash, mixture, hparams, every reported metric, final
scores, state, wall time) and the leaderboard printed at the end of a sweep."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa

from ftlib import storage
from ftlib.io import parquet_bytes
from sweeps.trainable import TRIALS

TRIALS_FILE = "trials.parquet"


def trial_rows(experiment_dir: str, tune_results) -> list[dict[str, Any]]:
    rows = []
    for result in tune_results:
        config, metrics = result.config or {}, result.metrics or {}
        point = config.get("point", {})
        run_ids = metrics.get("run_ids") or []
        trial_json = _trial_file(experiment_dir, run_ids[0], "trial.json") if run_ids else {}
        run_config = _trial_file(experiment_dir, run_ids[0], "run_config.json") if run_ids else {}
        if result.error is not None:
            state = "errored"
        elif metrics.get("objective_done"):
            state = "completed"
        else:
            state = "stopped_early"  # stopped by the scheduler before its objective was scored
        rows.append({
            "trial_id": run_ids[0] if run_ids else "",
            "tune_trial_id": metrics.get("trial_id") or Path(result.path).name,
            "state": state,
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
            "error": str(result.error)[:2000] if result.error is not None else None,
        })
    return rows


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
