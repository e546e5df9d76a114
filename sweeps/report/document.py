"""The report as a document: sections of tables, figures and findings (a section that cannot be computed says
why), and how numbers are written in them."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from evaluation.stats import Comparison, Estimate


@dataclass
class Table:
    name: str  # file stem under tables/
    title: str
    columns: list[str]
    rows: list[list[Any]]
    note: str = ""


@dataclass
class Section:
    key: str
    title: str
    question: str
    tables: list[Table] = field(default_factory=list)
    figures: list[Any] = field(default_factory=list)  # plotly figures
    findings: list[str] = field(default_factory=list)
    missing: str | None = None  # why the section could not be computed


def fmt(x: float | None, digits: int = 3) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def fmt_p(p: float | None) -> str:
    return "-" if p is None else f"{p:.2g}" if p >= 0.001 else "<0.001"


def fmt_ci(e: Estimate | Comparison | None, signed: bool = False) -> str:
    """``0.712 [0.650, 0.768]``; where no interval can be given, the value and why."""
    if e is None:
        return "-"
    value = e.mean if isinstance(e, Estimate) else e.diff
    sign = "+" if signed else ""
    if math.isnan(e.lo):
        return f"{value:{sign}.3f} (no interval: {e.note})" if isinstance(e, Estimate) and e.note else \
            f"{value:{sign}.3f} (no interval)"
    return f"{value:{sign}.3f} [{e.lo:{sign}.3f}, {e.hi:{sign}.3f}]"


def fmt_seeds(e: Estimate | Comparison | None) -> str:
    """Each seed's value (a comparison: each seed pair's difference) and their SD: ``0.70, 0.74 (SD 0.028)``."""
    if e is None or not e.per_seed:
        return "-"
    values = ", ".join(f"{v:.3f}" for v in e.per_seed)
    return values if math.isnan(e.seed_sd) else f"{values} (SD {e.seed_sd:.3f})"


def slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text).strip("_").lower()


def fmt_delta(a: float | None, b: float | None) -> str:
    """``+1,204``: what one side trained beyond the other (tokens, steps); ``-`` where either is unknown."""
    return "-" if a is None or b is None else f"{a - b:+,.0f}"
