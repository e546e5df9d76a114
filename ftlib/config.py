"""YAML in, validated once at the edge, typed objects inside; errors name the file and key path."""
from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from ftlib.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def validate(cls: type[M], data: Any, where: str) -> M:
    try:
        return cls.model_validate(data)
    except ValidationError as e:
        raise ConfigError(f"{where}: " + "; ".join(_describe(err) for err in e.errors())) from None


def load_yaml(path: str | Path) -> Any:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: no such file")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({e})") from None


def _describe(err: dict) -> str:
    loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-after"))
    msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
    return f"{loc}: {msg}" if loc else msg
