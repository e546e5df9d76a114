"""YAML in, validated once at the edge, typed objects inside; errors name the file and key path."""
from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from ftlib.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def validate(cls: type[M], data: Any, where: str, prefix: str = "") -> M:
    """``where``: the file (or flag) the data came from; ``prefix``: the key path of ``data`` inside it, so an
    error reads ``smoke.yaml: base.optim.lrr: unknown key (did you mean lr?)``."""
    try:
        return cls.model_validate(data)
    except ValidationError as e:
        raise ConfigError(f"{where}: " + "; ".join(_describe(err, cls, prefix) for err in e.errors())) from None


def load_yaml(path: str | Path) -> Any:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: no such file")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({e})") from None


def _describe(err: dict, cls: type[BaseModel], prefix: str) -> str:
    parts = [str(p) for p in err["loc"] if not str(p).startswith("function-after")]
    loc = ".".join(([prefix] if prefix else []) + parts)
    if err["type"] == "extra_forbidden":
        msg = "unknown key" + _suggestion(cls, parts)
    else:
        msg = err["msg"].removeprefix("Value error, ")
    return f"{loc}: {msg}" if loc else msg


def _suggestion(cls: type[BaseModel], parts: list[str]) -> str:
    """`` (did you mean lr?)`` when the unknown key is close to a key of the model it sits in."""
    model: Any = cls
    for part in parts[:-1]:
        field = model.model_fields.get(part) if isinstance(model, type) and issubclass(model, BaseModel) else None
        if field is None:
            return ""
        model = _model_of(field.annotation)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return ""
    close = difflib.get_close_matches(parts[-1], list(model.model_fields), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def _model_of(annotation: Any) -> Any:
    """The pydantic model inside ``X``, ``X | None``."""
    for candidate in (annotation, *getattr(annotation, "__args__", ())):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None
