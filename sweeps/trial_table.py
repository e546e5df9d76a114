"""``trials.parquet``: the tidy table of a sweep, one row per training run (a Tune trial runs one per seed), flat
columns that pandas or DuckDB read with no JSON parsing:

``trial_id`` (the run id), ``tune_trial_id``, ``point_key`` (the configuration without its seed: replicates
share it) and ``point`` (that configuration, JSON), ``model``, ``seed``, ``state``, ``config_hash``; per pool
task ``w_<task>`` (realized share of the run's examples, 0 when absent) and ``rows_<task>``; ``tokens``, ``examples_cut``;
``param_<dotted.path>`` per searched parameter; per task ``score_<task>`` (validation headline score) and
``val_loss_<task>``; ``val_loss``, ``val_loss_objective`` (ASHA's default signal), ``objective``, ``wall_s``,
``steps``; ``history`` and ``run_config`` stay JSON; ``error``.
Tables written before this layout are read by ``load_trials`` and converted, so old sweeps still open.
"""
from __future__ import annotations

import json
import math
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ftlib.core import storage
from ftlib.core.encode import parquet_bytes
from ftlib.core.errors import ConfigError
from ftlib.data.plan import PLAN_META_KEY
from ftlib.run.files import TRIAL_FILE
from sweeps.layout import run_plan, runs_dir, trials_table, validation_dir
from sweeps.objective import objective_keys, objective_loss, stored_objective
from sweeps.space import build_run_config, point_key, seeds_of

UNFINISHED = ("running", "pending", "paused", "unfinished")


def trial_rows(sweep, experiment_dir: str, trials, live: bool = False) -> list[dict[str, Any]]:
    """The tidy rows of a sweep's Tune trials. ``live``: the sweep is still running (its unfinished trials are
    running or pending); otherwise they are ``unfinished`` (the driver was interrupted: ``sweep resume``)."""
    objective = objective_keys(sweep)[0]
    trials_dir = runs_dir(experiment_dir)
    params = sorted({p for t in trials for p in ((t.config or {}).get("point") or {}).get("params", {})})
    rows = []
    for trial in trials:
        metrics = trial.last_result or {}
        point = (trial.config or {}).get("point") or {}
        per_seed = {s["run_id"]: s for s in json.loads(metrics.get("per_seed", "[]"))}
        state = _state(trial.status, metrics, live)
        error = _error_text(trial) if trial.status == "ERROR" else None
        # The runs a trial makes follow from its point: known for trials stopped before their final report too.
        for seed in seeds_of(sweep, point) if point else []:
            cfg = build_run_config(sweep, {**point, "seed": seed}, trials_dir)
            run_dir = storage.join(trials_dir, cfg.run_id())
            trial_json = _read_json(storage.join(run_dir, TRIAL_FILE))
            scores = per_seed.get(cfg.run_id(), {})
            run_state = state
            if live and state in UNFINISHED and not scores and trial_json:
                # Tune writes its state to disk now and then: a run of a running sweep may be done already.
                scores = stored_objective(sweep, validation_dir(experiment_dir, cfg.run_id())) or {}
                run_state = "completed" if scores else "running"
            realized = trial_json.get("mixture") or _planned_mixture(run_dir)
            # A run stopped mid-training: the trial's last report is this run's (the one that had started).
            final = trial_json.get("final_metrics") or (metrics if realized and not per_seed else {})
            row = {"trial_id": cfg.run_id(), "tune_trial_id": trial.trial_id, "point_key": point_key(point),
                   "point": json.dumps({k: point.get(k) for k in ("sources", "params", "model")}, sort_keys=True),
                   "model": cfg.model.name, "seed": seed,
                   "state": "stopped_early" if run_state == "completed" and not scores else run_state,
                   "config_hash": cfg.config_hash()}
            for task in sweep.pool:
                row[f"w_{task}"] = realized.get(task, {}).get("share", 0.0)
                row[f"rows_{task}"] = realized.get(task, {}).get("rows", 0)
            row["tokens"] = trial_json.get("tokens", final.get("tokens"))
            row["examples_cut"] = trial_json.get("examples_cut")  # prompts cut to fit data.seq_len
            row["flops"] = trial_json.get("flops")  # model FLOPs trained; peak_flops: the device's (the report's
            row["peak_flops"] = final.get("peak_flops")  # compute calibration against the planner)
            row.update({f"param_{p}": _cell(point.get("params", {}).get(p)) for p in params})
            for task in sorted({*sweep.pool, *sweep.objective_tasks()}):
                row[f"score_{task}"] = scores.get(f"score_{task}")
                row[f"val_loss_{task}"] = final.get(f"val_loss_{task}")
            row.update(val_loss=final.get("val_loss"), val_loss_objective=objective_loss(final, sweep.objective_tasks()),
                       objective=scores.get(objective),
                       wall_s=trial_json.get("wall_s"), steps=trial_json.get("steps", final.get("step")),
                       history=json.dumps(trial_json.get("history", [])),
                       run_config=json.dumps(cfg.model_dump(mode="json"), sort_keys=True), error=error)
            rows.append(row)
    return rows


def _state(status: str, metrics: dict[str, Any], live: bool) -> str:
    if status == "ERROR":
        return "errored"
    if status == "TERMINATED":
        # Ended without its objective scored: the scheduler stopped it early.
        return "completed" if metrics.get("objective_done") else "stopped_early"
    return status.lower() if live else "unfinished"


def _cell(value: Any) -> Any:
    """A parameter value as a flat cell (lists and mappings as their JSON text)."""
    return json.dumps(value, sort_keys=True) if isinstance(value, (list, dict)) else value


def _error_text(trial) -> str:
    """The first lines of the trial's error file (Tune writes it beside the trial's results)."""
    path = trial.error_file
    data = storage.read_bytes(path) if path else None
    return data.decode(errors="replace")[:2000] if data else "error (no error file)"


def _read_json(location: str) -> dict:
    data = storage.read_bytes(location)
    return json.loads(data) if data is not None else {}


def _planned_mixture(run_dir: str) -> dict[str, dict[str, Any]]:
    """Rows and shares from the run's saved plan (a run stopped before it wrote trial.json still has it)."""
    data = storage.read_bytes(run_plan(run_dir))
    if data is None:
        return {}
    meta = json.loads(pq.read_schema(pa.BufferReader(data)).metadata[PLAN_META_KEY])
    return {s["task"]: {"rows": s["rows"], "share": s["rows"] / meta["examples"], "tokens": s["tokens"]}
            for s in meta["sources"]}


def write_trials(experiment_dir: str, rows: list[dict[str, Any]]) -> str:
    path = trials_table(experiment_dir)
    storage.write_bytes(path, parquet_bytes(pa.Table.from_pylist(rows)))
    return path


def load_trials(experiment_dir: str) -> list[dict[str, Any]]:
    """``trials.parquet`` as rows in the tidy layout; a table from before it (JSON columns ``mixture``,
    ``hparams``, ``metrics``) is converted: target weights stand in for realized shares there."""
    location = trials_table(experiment_dir)
    try:
        data = storage.read_bytes(location)
        if data is None:
            return []
        table = pq.read_table(pa.BufferReader(data))
        if table.num_rows == 0:
            return []
        tidy = "point_key" in table.column_names
        missing = sorted({"state", *(() if tidy else ("config_hash", "mixture"))}
                         - set(table.column_names))
        if missing:
            raise ValueError(f"no column {', '.join(missing)}")
        return [r if tidy else _from_old_layout(r) for r in table.to_pylist()]
    except (OSError, ValueError, pa.ArrowException) as e:  # unreadable, not Parquet, not a trials table
        raise ConfigError(f"{location}: damaged ({' '.join(str(e).split())[:200]}); restore it from a copy, or "
                          f"remove it and run `cocktail sweep resume {experiment_dir}`, which writes it again from "
                          f"Tune's state") from None


def _from_old_layout(row: dict[str, Any]) -> dict[str, Any]:
    mixture = json.loads(row.get("mixture") or "{}")
    total = sum(v for v in mixture.values() if isinstance(v, (int, float))) or 1
    metrics = json.loads(row.get("metrics") or "{}")
    out = {k: row.get(k) for k in ("trial_id", "tune_trial_id", "model", "seed", "state", "config_hash", "wall_s",
                                   "history", "run_config", "error")}
    out["point_key"] = row.get("config_hash", "")
    out.update({f"w_{t}": (v / total if isinstance(v, (int, float)) else None) for t, v in mixture.items()})
    out.update({f"param_{k}": _cell(v) for k, v in json.loads(row.get("hparams") or "{}").items()})
    out.update({k: v for k, v in metrics.items() if k.startswith(("score_", "val_loss"))})
    out.update(tokens=metrics.get("tokens"), steps=metrics.get("step"), objective=metrics.get("mean_financial"))
    return out


def leaderboard(rows: list[dict[str, Any]], key: str, mode: str, top: int = 10) -> list[list[Any]]:
    """Completed configurations ranked by ``key``, averaged over their seeds."""
    by_point: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r["state"] == "completed" and r.get(key) is not None and not math.isnan(r[key]):
            by_point.setdefault(r["point_key"], []).append(r)
    ranked = sorted(by_point.values(), key=lambda rs: sum(r[key] for r in rs) / len(rs), reverse=(mode == "max"))
    return [[i + 1, rs[0]["trial_id"], f"{sum(r[key] for r in rs) / len(rs):.4f}", len(rs), mixture_text(rs[0]),
             params_text(rs[0])] for i, rs in enumerate(ranked[:top])]


def row_shares(row: dict[str, Any]) -> dict[str, float]:
    """The realized shares of a row's tasks (its nonzero ``w_<task>`` columns)."""
    return {k[2:]: v for k, v in row.items() if k.startswith("w_") and v}


def shares_text(shares: dict[str, float]) -> str:
    """``orca_math 0.59, fpb 0.41``: shares, largest first."""
    return ", ".join(f"{t} {v:.2f}" for t, v in sorted(shares.items(), key=lambda kv: -kv[1]))


def mixture_text(row: dict[str, Any]) -> str:
    return shares_text(row_shares(row))


def params_text(row: dict[str, Any]) -> str:
    return ", ".join(f"{k[6:]}={v:.3g}" if isinstance(v, float) else f"{k[6:]}={v}"
                     for k, v in sorted(row.items()) if k.startswith("param_") and v is not None)
