"""YAML in, validated once at the edge, typed objects inside; errors name the file and key path. Every YAML the
CLI reads goes through ``load_config``, every config model derives from ``Strict``."""
from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated, Any, Callable, Literal, Sequence, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from ftlib.core.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    """A config section: unknown keys are refused (with a suggestion), values are frozen once validated, and a
    number is finite (``.inf`` or ``.nan`` trains to NaN losses and exits 0)."""
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def check_name(name: str) -> str:
    """A run or sweep name becomes a directory under its storage path: a non-empty slug, no path separator, no
    ``..``, so it can never write outside it or into it."""
    if not _SLUG.fullmatch(name) or ".." in name:
        raise ValueError(f"{name!r} is not a name: expected letters, digits, '.', '_' or '-', starting with a "
                         f"letter or digit, without '..' or '/'")
    return name


def check_unique(items: list) -> list:
    repeated = sorted({str(x) for x in items if items.count(x) > 1})
    if repeated:
        raise ValueError(f"repeated: {', '.join(repeated)} (each may appear once)")
    return items


def on_off(value: Any) -> Any:
    """YAML reads an unquoted ``on`` / ``off`` as a boolean: for an on/off key, that is what the user meant."""
    return {True: "on", False: "off"}.get(value, value) if isinstance(value, bool) else value


Name = Annotated[str, AfterValidator(check_name)]
Seed = Annotated[int, Field(ge=0)]  # numpy's generators take no negative seed
OnOff = Annotated[Literal["auto", "on", "off"], BeforeValidator(on_off)]
Seeds = Annotated[list[Seed], Field(min_length=1), AfterValidator(check_unique)]


def load_config(cls: type[M], path: str | Path, overrides: Sequence[str] = (),
                edit: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> M:
    """A YAML file as ``cls``: ``--set`` overrides applied, then ``edit`` (the caller's own adjustments, e.g.
    paths made absolute), then validated; every error names ``path`` and the key."""
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of {cls.__name__} keys")
    data = apply_overrides(data, list(overrides))
    return validate(cls, edit(data) if edit else data, str(path))


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
    if path.is_dir():
        raise ConfigError(f"{path}: a directory; expected a YAML file")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text (byte {e.start}); expected a YAML file") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({' '.join(str(e).split())})") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot be read ({e.strerror})") from None


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


def set_path(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """``data["a"]["b"] = value`` for ``path`` ``"a.b"``, creating mappings on the way."""
    node = data
    parts = path.split(".")
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{path!r}: {part!r} is not a mapping")
        node = child
    node[parts[-1]] = value
    return data


def get_path(data: dict[str, Any], path: str, default: Any = None) -> Any:
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """``--set a.b=value`` (value read as YAML) into a config dict, naming the bad override."""
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected KEY.PATH=VALUE")
        try:
            set_path(data, key, yaml.safe_load(raw))
        except yaml.YAMLError as e:
            raise ConfigError(f"--set {item!r}: the value is not valid YAML ({' '.join(str(e).split())})") from None
        except ConfigError as e:
            raise ConfigError(f"--set {item!r}: {e}") from None
    return data


def changed_keys(old: Any, new: Any, prefix: str = "") -> list[str]:
    """The dotted paths where two config mappings differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [k for key in sorted(set(old) | set(new))
                for k in changed_keys(old.get(key), new.get(key), f"{prefix}{key}.")]
    return [] if old == new else [prefix.rstrip(".")]
