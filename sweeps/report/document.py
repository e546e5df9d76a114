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
    if e is None:
        return "-"
    value = e.mean if isinstance(e, Estimate) else e.diff
    return f"{value:+.3f} [{e.lo:+.3f}, {e.hi:+.3f}]" if signed else f"{value:.3f} [{e.lo:.3f}, {e.hi:.3f}]"


def slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text).strip("_").lower()
