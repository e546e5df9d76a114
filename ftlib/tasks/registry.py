"""Task registry: one module per task registers its ``TaskSpec`` by name."""
from __future__ import annotations

from ftlib.errors import ConfigError
from ftlib.tasks.schema import TaskSpec

_TASKS: dict[str, TaskSpec] = {}

FINANCIAL = ("headline", "fpb", "finner_cls", "convfinqa", "twitter_topics", "twitter_sentiment", "finqa")
STUDY_SOURCES = FINANCIAL + ("openorca", "orca_math")


class UnknownTaskError(ConfigError):
    pass


def register(spec: TaskSpec) -> TaskSpec:
    if spec.name in _TASKS:
        raise ValueError(f"task {spec.name!r} registered twice")
    _TASKS[spec.name] = spec
    return spec


def task_names() -> list[str]:
    _load_builtin()
    return sorted(_TASKS)


def get_task(name: str) -> TaskSpec:
    _load_builtin()
    try:
        return _TASKS[name]
    except KeyError:
        raise UnknownTaskError(f"unknown task {name!r}; valid tasks: {', '.join(sorted(_TASKS))}") from None


def resolve_tasks(selector: str | list[str] | tuple[str, ...]) -> list[TaskSpec]:
    """``"all"``, ``"a,b"`` or a list of names -> specs (each name checked)."""
    if isinstance(selector, str):
        names = task_names() if selector.strip() == "all" else [s.strip() for s in selector.split(",") if s.strip()]
    else:
        names = list(selector)
    if not names:
        raise UnknownTaskError(f"no task named; valid tasks: {', '.join(task_names())}")
    return [get_task(n) for n in names]


def _load_builtin() -> None:
    if _TASKS:
        return
    from ftlib.tasks import (  # noqa: F401  (import registers)
        convfinqa,
        finance_mc,
        finner_cls,
        finqa,
        fiqa_sa,
        fpb,
        headline,
        openorca,
        orca_math,
        twitter_sentiment,
        twitter_topics,
    )
