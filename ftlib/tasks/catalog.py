"""The task catalog: an explicit list of the built-in task modules, each defining its ``SPEC``. Nothing registers
itself on import; a new task is a module in ``builtin/`` and a line here."""
from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from ftlib.core.configs import check_unique
from ftlib.core.errors import ConfigError
from ftlib.tasks.builtin import (
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
from ftlib.tasks.schema import TaskSpec

BUILTIN = (headline, fpb, finner_cls, convfinqa, twitter_topics, twitter_sentiment, finqa, openorca, orca_math,
           fiqa_sa, finance_mc)
TASKS: dict[str, TaskSpec] = {module.SPEC.name: module.SPEC for module in BUILTIN}

FINANCIAL = ("headline", "fpb", "finner_cls", "convfinqa", "twitter_topics", "twitter_sentiment", "finqa")
STUDY_SOURCES = FINANCIAL + ("openorca", "orca_math")


class UnknownTaskError(ConfigError, ValueError):
    """A ValueError too: inside a config model, pydantic names the key it was found at."""


def known_tasks(names: list[str]) -> list[str]:
    """A config's task list: each a known task, none twice."""
    for name in names:
        get_task(name)
    return check_unique(names)


TaskNames = Annotated[list[str], AfterValidator(known_tasks)]


def task_names() -> list[str]:
    return sorted(TASKS)


def get_task(name: str) -> TaskSpec:
    try:
        return TASKS[name]
    except KeyError:
        raise UnknownTaskError(f"unknown task {name!r}; valid tasks: {', '.join(sorted(TASKS))}") from None


def resolve_tasks(selector: str | list[str] | tuple[str, ...]) -> list[TaskSpec]:
    """``"all"``, ``"a,b"`` or a list of names -> specs (each name checked)."""
    if isinstance(selector, str):
        names = task_names() if selector.strip() == "all" else [s.strip() for s in selector.split(",") if s.strip()]
    else:
        names = list(selector)
    if not names:
        raise UnknownTaskError(f"no task named; valid tasks: {', '.join(task_names())}")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise UnknownTaskError(f"tasks named twice: {', '.join(repeated)}")
    return [get_task(n) for n in names]
