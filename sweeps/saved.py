"""A sweep directory's saved state, read without Ray or models and checked before anything uses it:
``sweep.json`` (the sweep as it ran), a two-stage search's ``two_stage.json``, and the Optuna study. What reports,
proposals, finalize and resumes start from. A damaged file is one line that names it and says how to recover;
nothing is written."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ftlib.core import storage
from ftlib.core.errors import ConfigError
from sweeps.config import SweepConfig, TwoStageSweep
from sweeps.layout import OPTUNA_DB, SWEEP_FILE, sweep_file, target_name, two_stage_file
from sweeps.trial_table import load_trials

RECOVER = "restore it from a copy of the sweep directory, or run the sweep again under another --name"


def _damaged(location: str, e: Exception) -> ConfigError:
    what = "not a sweep this cocktail reads" if isinstance(e, ValidationError) else "damaged"
    return ConfigError(f"{location}: {what} ({' '.join(str(e).split())[:200]}); {RECOVER}")


def _read_json(location: str) -> Any:
    """A saved JSON file, None where there is none."""
    if not storage.is_uri(location) and Path(location).parent.is_file():
        raise ConfigError(f"{Path(location).parent}: a file; expected a sweep directory")
    try:
        raw = storage.read_bytes(location)
        return None if raw is None else json.loads(raw)
    except (OSError, ValueError) as e:  # unreadable, not UTF-8, not JSON
        raise _damaged(location, e) from None


def saved_config(exp: str) -> SweepConfig:
    """The sweep as its run saved it (paths anchored)."""
    location = sweep_file(exp)
    data = _read_json(location)
    if data is None:
        raise ConfigError(f"{exp}: not a sweep directory (no {SWEEP_FILE})")
    try:
        return SweepConfig.model_validate(data)
    except ValidationError as e:
        raise _damaged(location, e) from None


def two_stage_state(parent: str) -> dict[str, Any] | None:
    """``{"config": ..., "ended": [stages]}`` of a two-stage search's parent directory, or None."""
    location = two_stage_file(parent)
    state = _read_json(location)
    if state is None:
        return None
    try:
        TwoStageSweep.model_validate(state["config"])
        return {**state, "ended": list(state.get("ended", []))}
    except (ValidationError, KeyError, TypeError) as e:
        raise _damaged(location, e) from None


def saved_two_stage(parent: str) -> TwoStageSweep | None:
    state = two_stage_state(storage.absolute(parent))
    return TwoStageSweep.model_validate(state["config"]) if state else None


def checked_state(exp: str) -> SweepConfig:
    """The saved sweep, once its state files read whole: what every reader calls first."""
    sweep = saved_config(exp)
    load_trials(exp)
    check_optuna_db(exp, sweep)
    return sweep


def check_optuna_db(exp: str, sweep: SweepConfig) -> None:
    """The sweep's local Optuna study, read-only: a SQLite file that passes its own check and holds this sweep's
    study. A damaged or foreign file would make Optuna start over, or write where it must not."""
    path = Path(exp) / OPTUNA_DB
    if sweep.search.optuna is None or sweep.resources.optuna_storage or storage.is_uri(exp) or not path.exists():
        return
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as db:  # a live sweep may be writing
            check = db.execute("PRAGMA quick_check").fetchone()[0]
            names = {row[0] for row in db.execute("SELECT study_name FROM studies")}
        db.close()
    except sqlite3.Error as e:
        raise ConfigError(f"{path}: the Optuna study is damaged ({e}); {RECOVER}; nothing was changed") from None
    if check != "ok":
        raise ConfigError(f"{path}: the Optuna study is damaged (SQLite: {check}); {RECOVER}; nothing was changed")
    if sweep.name not in names:
        raise ConfigError(f"{path}: holds the Optuna studies {sorted(names)}, not this sweep's {sweep.name!r}; "
                          f"{RECOVER}; nothing was changed")


def report_dir(exp: str) -> str:
    """A two-stage search's directory stands for its stage 3 sweep, whose report covers the three stages."""
    spec = saved_two_stage(exp)
    return storage.join(storage.absolute(exp), target_name(spec.name)) if spec else exp
