"""A sweep directory's saved configs, read without Ray or models: ``sweep.json`` (the sweep as it ran) and a
two-stage search's ``two_stage.json``. What reports, proposals and resumes start from."""
from __future__ import annotations

import json
from typing import Any

from ftlib.core import storage
from ftlib.core.errors import ConfigError
from sweeps.config import SweepConfig, TwoStageSweep
from sweeps.layout import SWEEP_FILE, sweep_file, target_name, two_stage_file


def saved_config(exp: str) -> SweepConfig:
    """The sweep as its run saved it (paths anchored)."""
    saved = storage.read_bytes(sweep_file(exp))
    if saved is None:
        raise ConfigError(f"{exp}: not a sweep directory (no {SWEEP_FILE})")
    return SweepConfig.model_validate(json.loads(saved))


def two_stage_state(parent: str) -> dict[str, Any] | None:
    """``{"config": ..., "ended": [stages]}`` of a two-stage search's parent directory, or None."""
    raw = storage.read_bytes(two_stage_file(parent))
    return json.loads(raw) if raw else None


def saved_two_stage(parent: str) -> TwoStageSweep | None:
    state = two_stage_state(storage.absolute(parent))
    return TwoStageSweep.model_validate(state["config"]) if state else None


def report_dir(exp: str) -> str:
    """A two-stage search's directory stands for its stage 3 sweep, whose report covers the three stages."""
    spec = saved_two_stage(exp)
    return storage.join(storage.absolute(exp), target_name(spec.name)) if spec else exp
