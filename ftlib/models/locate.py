"""Where a model name points, decided in the driver before anything runs elsewhere: the embedded defaults
(``tiny-phi3``, ``tiny-llama``, built locally on first use, no hub), local directories (made absolute), object-store
URIs (copied to local disk once) and hub ids (left to transformers)."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pyarrow.fs as pafs

from ftlib.core import storage
from ftlib.core.errors import ConfigError
from ftlib.core.hashing import text_hash
from ftlib.core.storage import atomic_dir
from ftlib.models.tiny import build_tiny

EMBEDDED = {"tiny-phi3": "phi3", "tiny-llama": "llama"}
MODELS_DIR_ENV = "COCKTAIL_MODELS_DIR"
URI_SCHEMES = ("s3://", "gs://", "file://")
# ``org/name``: a hub id, when no such local directory exists (it is not a path to anchor).
_HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


def models_dir() -> Path:
    return Path(os.environ.get(MODELS_DIR_ENV, "outputs/models")).absolute()


def resolve_model(name_or_path: str) -> str:
    """An embedded name -> its local directory (built if missing); anything else is returned as given."""
    if name_or_path not in EMBEDDED:
        return name_or_path
    path = models_dir() / name_or_path
    if not (path / "config.json").exists():  # force: another process may have built it meanwhile
        build_tiny(EMBEDDED[name_or_path], path, force=True)
    return str(path)


def anchor_model(name: str) -> str:
    """An embedded name -> its local directory (built on first use); an existing local path -> absolute;
    URIs and hub ids unchanged."""
    if name in EMBEDDED:
        return resolve_model(name)
    if storage.is_uri(name) or not os.path.exists(name):
        return name
    return os.path.abspath(name)


def model_exists(name: str) -> str | None:
    """Why a model name cannot be used, checked without loading or downloading anything (None: fine)."""
    if name in EMBEDDED or storage.is_uri(name) or os.path.isdir(name):
        return None
    if _HUB_ID.match(name) and not os.path.isabs(name) and not name.startswith("."):
        return None  # a hub id: checked when it is loaded
    return f"model.name {name!r}: no such directory (and not an embedded name or a hub id 'org/name')"


def local_model_path(name: str) -> str:
    """Embedded names are built, URIs are copied to local disk once (keyed by URI), the rest passes through."""
    if not name.startswith(URI_SCHEMES):
        return resolve_model(name)
    target = models_dir() / "downloads" / text_hash(name, 16)
    if not target.exists():  # atomic_dir: it exists only once complete (an adapter dir has no config.json)
        with atomic_dir(target) as tmp:
            try:
                pafs.copy_files(name, str(tmp), destination_filesystem=pafs.LocalFileSystem())
            except (OSError, ValueError) as e:
                raise ConfigError(f"model.name {name!r}: cannot download ({e})") from None
    return str(target)
