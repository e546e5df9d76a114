"""``cocktail report DIR``: a finished (and, for test numbers, finalized) sweep into the study's answers. Reads
only what is stored; trains and scores nothing, so a report can be rebuilt any time from the experiment dir. The
sections, in the order the report shows them, are listed here."""
from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

from ftlib.core import storage
from ftlib.core.errors import ConfigError
from sweeps.layout import REPORT, report_out
from sweeps.report.document import Section
from sweeps.report.measures import Context
from sweeps.report.render import provenance_document, write_report
from sweeps.report.sections.added_source import added_source, math_split
from sweeps.report.sections.cocktail_effect import cocktail_effect
from sweeps.report.sections.compute_calibration import compute_calibration
from sweeps.report.sections.domain_knowledge import domain_knowledge
from sweeps.report.sections.references import external_references
from sweeps.report.sections.search import search_section
from sweeps.report.sections.surrogate import surrogate_section
from sweeps.report.sections.transfer_matrices import transfer_matrices
from sweeps.report.sections.validation_to_test import validation_to_test
from sweeps.report.study import Study, load_study
from sweeps.saved import report_dir


def build_report(exp: str, out: str | None = None, compare: tuple[str, ...] = (), profile: str = "cocktail",
                 resamples: int = 1000, seed: int = 0, force: bool = False) -> dict[str, Any]:
    """``out``: a new or empty directory, or (``force``) an earlier report; by default the sweep's own
    ``report/``, rebuilt from its state each time."""
    if resamples < 100:
        raise ConfigError(f"--resamples {resamples}: at least 100 for a 95% interval")
    if seed < 0:
        raise ConfigError(f"--seed {seed}: expected a seed >= 0")
    # A two-stage search's directory stands for its stage 3 sweep, whose report covers the three stages.
    exps = [report_dir(e) for e in (exp, *compare)]
    default = report_out(storage.absolute(exps[0])) if not storage.is_uri(exps[0]) else None
    if out is None and default is None:
        raise ConfigError("the sweep is in object storage: give --out a local directory for the report")
    if out is not None:
        check_report_out(out, exps)
    force = force or out is None or Path(out).absolute() == Path(default or "").absolute()
    out = out or default
    studies = [load_study(e, profile) for e in exps]
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
                        provenance_document([s.exp for s in studies], ctx.provenance, sections), headline, force)
    return {"out": str(Path(path)), "sections": sections, "headline": headline}


def check_report_out(out: str, exps: list[str]) -> None:
    """``--out`` never lands on a sweep's own files (nor holds a sweep): only its ``report/`` is the report's."""
    if storage.is_uri(out):
        raise ConfigError(f"--out {out}: expected a local directory for the report")
    where = Path(out).resolve()
    for exp in filter(lambda e: not storage.is_uri(e), exps):
        own = Path(exp).resolve()
        if where == own / REPORT:
            continue
        if where == own or own in where.parents or where in own.parents:
            raise ConfigError(f"--out {out}: inside (or around) the sweep {exp}, whose files a report must not "
                              f"replace; give a directory outside it, or leave --out out for {own / REPORT}")


def _headline(sections: list[Section]) -> list[str]:
    """The study's answers first: the cocktail effect's significant findings, then the transfer matrices'."""
    picked = []
    for key in ("cocktail", "pairs", "pairs_matched", "general", "math", "transfer"):
        for section in sections:
            if section.key == key:
                picked += section.findings[:3]
    return picked


def all_sections(study: Study, ctx: Context) -> list[Section]:
    return [cocktail_effect(study, ctx), *transfer_matrices(study, ctx),
            added_source(study, ctx, "openorca", "general", "4. General instruction data",
                         "Is general instruction data (OpenOrca) a regulariser: what happens to general ability "
                         "(OpenOrca perplexity) and to financial scores when it joins a mixture?"),
            math_split(added_source(study, ctx, "orca_math", "math", "5. Math data",
                                    "Does math data (Orca-Math) improve numerical reasoning (FinQA, ConvFinQA) and "
                                    "transfer to financial QA?")),
            domain_knowledge(study, ctx), validation_to_test(study, ctx), search_section(study),
            external_references(study, ctx), compute_calibration(study), surrogate_section(study)]
