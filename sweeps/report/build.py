"""``cocktail report DIR``: a finished (and, for test numbers, finalized) sweep into the study's answers. Reads
only what is stored; trains and scores nothing, so a report can be rebuilt any time from the experiment dir."""
from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

from ftlib import storage
from ftlib.errors import ConfigError
from sweeps.report.analyses import Context, Section, all_sections
from sweeps.report.render import provenance_document, write_report
from sweeps.report.study import load_study

REPORT = "report"


def build_report(exp: str, out: str | None = None, compare: tuple[str, ...] = (), profile: str = "cocktail",
                 resamples: int = 1000, seed: int = 0) -> dict[str, Any]:
    if resamples < 100:
        raise ConfigError(f"--resamples {resamples}: at least 100 for a 95% interval")
    studies = [load_study(e, profile) for e in (exp, *compare)]
    out = out or (storage.join(studies[0].exp, REPORT) if not storage.is_uri(studies[0].exp) else None)
    if out is None or storage.is_uri(out):
        raise ConfigError("the sweep is in object storage: give --out a local directory for the report")
    ctx = Context(resamples, seed)
    sections: list[Section] = []
    headline: list[str] = []
    for study in studies:
        mine = all_sections(study, ctx)
        if len(studies) > 1:
            mine = [dataclasses.replace(s, key=f"{study.name}-{s.key}", title=f"{study.name}: {s.title}")
                    for s in mine]
        sections += mine
        headline += [f"{study.name}: {f}" if len(studies) > 1 else f for f in _headline(mine)]
    meta = [f"sweep {s.name} ({s.exp}): {len(s.rows)} runs, {len(s.completed())} completed"
            + (f"; finalized over seeds {s.selection['seeds']}" if s.selection else "; not finalized")
            for s in studies]
    meta.append(f"scoring profile {profile}; {resamples} bootstrap resamples (seed {seed}); selection on "
                f"validation only; built {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}")
    path = write_report(out, f"cocktail study: {', '.join(s.name for s in studies)}", meta, sections,
                        provenance_document([s.exp for s in studies], ctx.provenance, sections), headline)
    return {"out": str(Path(path)), "sections": sections, "headline": headline}


def _headline(sections: list[Section]) -> list[str]:
    """The study's answers first: the cocktail effect's significant findings, then the transfer matrices'."""
    picked = []
    for key in ("cocktail", "pairs", "general", "math", "transfer"):
        for section in sections:
            if section.key == key:
                picked += section.findings[:3]
    return picked
