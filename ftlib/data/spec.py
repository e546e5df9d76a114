"""``MixtureSpec``: what a trial trains on, as data.

Two ways to size each source, not mixed in one spec:
- **weights** + a ``budget`` (examples or tokens): shares of the budget, what an optimiser searches;
- **rows**: absolute counts, ``"all"`` (up to the cap), or ``{sum_of: [...], scale: s}`` — the study's
  recipe ("general = Σ financial, math = ½ of it") is a spec in this form, not special code.
A source's ``cap`` bounds how many *distinct* rows are drawn from it (the study: shuffle with the seed,
keep the first N); ``fill`` says what happens when a share needs more rows than that pool has.
``selection: study`` draws exactly the study's rows: each source's raw train split in the order
``Dataset.shuffle(seed=42)`` gives it, its first N rows, the whole mixture then in the order that shuffle gives
the concatenation (sources in the order the spec lists them; ``seed`` other than 42 reorders the mixture only,
for seed replicates). It needs data prepared with ``cocktail data prepare --study``.
"""
from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, field_validator, model_validator

from ftlib.core.configs import Seed, Strict
from ftlib.core.errors import ConfigError
from ftlib.tasks.catalog import get_task


class SumOf(Strict):
    """``scale`` × Σ min(cap, train rows) over the named tasks (``null`` cap: all rows).

    The caps live here, not in other sources, so the size stays the same when a run drops those tasks.
    """
    sum_of: dict[str, int | None] = Field(min_length=1)
    scale: float = Field(default=1.0, gt=0)

    @field_validator("sum_of")
    @classmethod
    def _known(cls, caps: dict[str, int | None]) -> dict[str, int | None]:
        for name in caps:
            get_task(name)
        return caps


class Source(Strict):
    weight: float | None = None
    rows: int | Literal["all"] | SumOf | None = None
    cap: int | None = Field(default=None, gt=0)

    @field_validator("weight")
    @classmethod
    def _weight(cls, w: float | None) -> float | None:
        if w is not None and (math.isnan(w) or math.isinf(w) or w < 0):
            raise ValueError(f"weight must be a finite number >= 0, got {w}")
        return w

    @field_validator("rows")
    @classmethod
    def _rows(cls, rows):
        if isinstance(rows, int) and rows <= 0:
            raise ValueError(f"rows must be > 0, got {rows}")
        return rows


class MixtureSpec(Strict):
    sources: dict[str, Source] = Field(min_length=1)
    budget: int | None = None
    unit: Literal["examples", "tokens"] = "examples"
    fill: Literal["repeat", "cap"] = "repeat"
    # Temperature T scales each weight by (pool size)^(1/T): T=1 proportional to size, large T -> weights alone.
    temperature: float | None = Field(default=None, gt=0)
    seed: Seed = 42
    selection: Literal["seeded", "study"] = "seeded"

    @field_validator("sources")
    @classmethod
    def _tasks_exist(cls, sources: dict[str, Source]) -> dict[str, Source]:
        for name in sources:
            get_task(name)
        return sources

    @model_validator(mode="after")
    def _one_mode(self) -> "MixtureSpec":
        weighted = [n for n, s in self.sources.items() if s.weight is not None]
        counted = [n for n, s in self.sources.items() if s.rows is not None]
        if weighted and counted:
            raise ValueError(f"sources mix weights ({weighted}) and rows ({counted}); use one or the other")
        if not weighted and not counted:
            raise ValueError("every source needs a weight (with a budget) or rows")
        if weighted:
            missing = [n for n, s in self.sources.items() if s.weight is None]
            if missing:
                raise ValueError(f"sources {missing} have no weight")
            total = sum(s.weight for s in self.sources.values())
            if total <= 0:
                raise ValueError("weights are all zero: nothing to train on")
            if not math.isfinite(total):
                raise ValueError(f"weights sum to {total} (too large to normalise); give shares such as 0.5")
            if self.budget is None or self.budget <= 0:
                raise ValueError(f"budget must be > 0 when sources have weights, got {self.budget}")
        else:
            if self.budget is not None:
                raise ValueError("budget is only for weighted sources; rows sources set their own counts")
            if self.unit != "examples":
                raise ValueError("rows sources count examples; unit must be 'examples'")
        if self.selection == "study" and (weighted or self.fill != "cap"):
            raise ValueError("selection: study draws the study's rows: it needs rows sources (the study's recipe) "
                             "and fill: cap")
        return self

    @property
    def weighted(self) -> bool:
        return any(s.weight is not None for s in self.sources.values())

    def active(self) -> dict[str, Source]:
        """Sources that contribute (a zero weight drops its task)."""
        return {n: s for n, s in self.sources.items() if s.weight is None or s.weight > 0}

    @classmethod
    def from_weights(cls, weights: dict[str, float], budget: int, **kwargs) -> "MixtureSpec":
        return cls(sources={n: Source(weight=w) for n, w in weights.items()}, budget=budget, **kwargs)


def parse_weights(text: str, flag: str = "--weights", kind: type = float) -> dict[str, float]:
    """``"fpb=0.5,finqa=0.3"`` -> ``{"fpb": 0.5, "finqa": 0.3}`` with an error naming ``flag`` and the bad item
    (``kind`` int: whole counts, as ``--cap`` takes)."""
    weights = {}
    what = "NUMBER" if kind is float else "N"
    for item in filter(None, (s.strip() for s in text.split(","))):
        name, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError
            number = kind(value)
            if not math.isfinite(number) or number < 0:
                raise ValueError
        except ValueError:
            raise ConfigError(f"{flag} item {item!r}: expected TASK={what} (a finite number >= 0)") from None
        if name.strip() in weights:
            raise ConfigError(f"{flag}: {name.strip()} is named twice")
        weights[name.strip()] = number
    if not weights:
        raise ConfigError(f"{flag} is empty: expected TASK={what}[,TASK={what}...]")
    return weights
