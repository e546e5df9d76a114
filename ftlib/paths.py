"""Every path of a config made absolute in the driver, once, before anything runs elsewhere.

Ray Train runs worker functions in its own working directory (``…/artifacts/<run>/``) and Tune runs trial
functions in their trial directories: a relative ``outputs/data`` or an embedded model name resolved there
names a new, empty place (data prepared again, the tiny model built again by two workers at once). ``train``,
``eval``, ``sweep`` and ``submit`` all go through here.
"""
from __future__ import annotations

import copy
import os
import re
from typing import Any

from ftlib import storage

# ``org/name``: a hub id, when no such local directory exists (it is not a path to anchor).
_HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


def anchor_model(name: str) -> str:
    """An embedded name -> its local directory (built on first use); an existing local path -> absolute;
    URIs and hub ids unchanged."""
    from ftlib.models.embedded import EMBEDDED, resolve_model

    if name in EMBEDDED:
        return resolve_model(name)
    if storage.is_uri(name) or not os.path.exists(name):
        return name
    return os.path.abspath(name)


def anchor_run(data: dict[str, Any]) -> dict[str, Any]:
    """A run-config mapping (as read from YAML) with model, data dir and output dir absolute."""
    from ftlib.train.config import DataConfig, ModelConfig, RunConfig, get_path, set_path

    if not isinstance(data, dict):
        return data
    out = copy.deepcopy(data)
    set_path(out, "model.name", anchor_model(get_path(out, "model.name", ModelConfig().name)))
    set_path(out, "data.dir", storage.absolute(get_path(out, "data.dir", DataConfig().dir)))
    out["output_dir"] = storage.absolute(out.get("output_dir", RunConfig.model_fields["output_dir"].default))
    return out


def anchor_sweep(sweep):
    """A sweep with its base run config, models, recipe and storage path absolute."""
    update: dict[str, Any] = {"base": anchor_run(sweep.base),
                              "resources": sweep.resources.model_copy(
                                  update={"storage_path": storage.absolute(sweep.resources.storage_path)})}
    if sweep.models:
        update["models"] = [anchor_model(m) for m in sweep.models]
    grid = sweep.search.grid
    if grid is not None and grid.recipe:
        update["search"] = sweep.search.model_copy(
            update={"grid": grid.model_copy(update={"recipe": os.path.abspath(grid.recipe)})})
    return sweep.model_copy(update=update)


def model_exists(name: str) -> str | None:
    """Why a model name cannot be used, checked without loading or downloading anything (None: fine)."""
    from ftlib.models.embedded import EMBEDDED

    if name in EMBEDDED or storage.is_uri(name) or os.path.isdir(name):
        return None
    if _HUB_ID.match(name) and not os.path.isabs(name) and not name.startswith("."):
        return None  # a hub id: checked when it is loaded
    return f"model.name {name!r}: no such directory (and not an embedded name or a hub id 'org/name')"
