"""The embedded default models, built locally on first use (no hub): ``tiny-phi3`` and ``tiny-llama``."""
from __future__ import annotations

import os
from pathlib import Path

EMBEDDED = {"tiny-phi3": "phi3", "tiny-llama": "llama"}
MODELS_DIR_ENV = "COCKTAIL_MODELS_DIR"


def models_dir() -> Path:
    return Path(os.environ.get(MODELS_DIR_ENV, "outputs/models")).absolute()


def resolve_model(name_or_path: str) -> str:
    """An embedded name -> its local directory (built if missing); anything else is returned as given."""
    if name_or_path not in EMBEDDED:
        return name_or_path
    path = models_dir() / name_or_path
    if not (path / "config.json").exists():
        from ftlib.models.tiny import build_tiny

        build_tiny(EMBEDDED[name_or_path], path)
    return str(path)
