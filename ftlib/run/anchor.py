"""Every path of a run config made absolute in the driver, once, before anything runs elsewhere.

Ray Train runs worker functions in its own working directory (``…/artifacts/<run>/``) and Tune runs trial
functions in their trial directories: a relative ``outputs/data`` or an embedded model name resolved there
names a new, empty place (data prepared again, the tiny model built again by two workers at once). ``train``,
``eval``, ``sweep`` and ``submit`` all go through here.
"""
from __future__ import annotations

import copy
from typing import Any

from ftlib.core import storage
from ftlib.core.configs import get_path, load_config, set_path
from ftlib.models.config import ModelConfig
from ftlib.models.locate import anchor_model
from ftlib.run.config import DataConfig, RunConfig


def anchor_run(data: dict[str, Any]) -> dict[str, Any]:
    """A run-config mapping (as read from YAML) with model, data dir and output dir absolute."""
    if not isinstance(data, dict):
        return data
    out = copy.deepcopy(data)
    set_path(out, "model.name", anchor_model(get_path(out, "model.name", ModelConfig().name)))
    set_path(out, "data.dir", storage.absolute(get_path(out, "data.dir", DataConfig().dir)))
    out["output_dir"] = storage.absolute(out.get("output_dir", RunConfig.model_fields["output_dir"].default))
    return out


def load_run_config(path: str, overrides: list[str]) -> RunConfig:
    """A run YAML with its ``--set`` overrides, paths anchored."""
    return load_config(RunConfig, path, overrides, edit=anchor_run)
