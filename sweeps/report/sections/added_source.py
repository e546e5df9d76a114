"""Sections 4 and 5, what an added source does: general instruction data (a regulariser?) and math data (numeric
reasoning?), over matched mixtures S and S + source."""
from __future__ import annotations

import dataclasses
import math

from evaluation.multiplicity import holm
from sweeps.report.document import Section, Table, fmt, fmt_delta, fmt_p, slug
from sweeps.report.measures import ALPHA, Context, compare_of, matched, t_summary
from sweeps.report.study import Study
from sweeps.selection import active_tasks, mean_of

NUMERIC_TASKS = ("finqa", "convfinqa")


def added_source(study: Study, ctx: Context, source: str, key: str, title: str, question: str) -> Section:
    section = Section(key, title, question)
    if source not in study.sweep.pool:
        section.missing = f"{source} is not in the sweep's pool"
        return section
    targets = [t for t in study.sweep.objective_tasks() if t in study.sweep.pool]
    found = {model: _matched_pairs(study, ctx, model, source, key, targets) for model in study.models()}
    # One family for the section's findings: every summary measure of every model.
    tests = [(model, row[0], row[-1]) for model, (_, summary) in found.items() for row in summary
             if row[-1] is not None]
    adjusted = dict(zip([(m, t) for m, t, _ in tests], holm([p for *_, p in tests]) if tests else []))
    for model, (rows, summary) in found.items():
        if not rows:
            continue
        short = model.rsplit("/", 1)[-1]
        section.tables.append(Table(f"{key}_{slug(short)}", f"{short}: S + {source} − S, matched mixtures",
                                    ["mixture S", "task", "difference", "95% lo", "95% hi", "p", "Δtokens",
                                     f"Δ {source} perplexity", "provenance"], rows,
                                    "Estimand: the difference of expected validation scores between a design "
                                    f"mixture S and S + {source}, as the design trained them (Δtokens: what S + "
                                    f"{source} trained beyond S)."))
        table = [[measure, n, mean, lo, hi, fmt_p(p), fmt_p(adjusted.get((model, measure)))]
                 for measure, n, mean, lo, hi, p in summary]
        section.tables.append(Table(f"{key}_summary_{slug(short)}", f"{short}: mean effect of adding {source}",
                                    ["measure", "matched pairs", "mean", "95% lo", "95% hi", "p", "p Holm"], table,
                                    f"t interval across matched mixtures (each mixture one unit); Holm over the "
                                    f"section's {len(tests)} measures (all models)."))
        for measure, n, mean, lo, hi, p in summary:
            q = adjusted.get((model, measure))
            if q is not None and q < ALPHA:
                direction = "raises" if float(mean) > 0 else "lowers"
                section.findings.append(f"{short}: adding {source} {direction} {measure} by {mean} on average "
                                        f"(95% CI [{lo}, {hi}], {n} matched mixtures, Holm p = {q:.3g} over the "
                                        f"section's {len(tests)} measures)")
    if not section.tables:
        section.missing = f"no pair of mixtures S and S + {source} with the same parameters in the design"
    return section


def _matched_pairs(study: Study, ctx: Context, model: str, source: str, key: str, targets: list[str]):
    """Every design mixture S without the source that has a design mixture S + source: their differences per
    target of S, and the mean effect per target (and on the source's perplexity) across them."""
    configs = study.configs(model, design_only=True)
    family = study.seed_groups(model)
    rows, deltas, loss_deltas = [], {t: [] for t in targets}, []
    for runs in configs.values():
        sources = set(active_tasks(runs[0]))
        plus = matched(study, model, sources | {source}, runs) if source not in sources else None
        if plus is None:
            continue
        loss = (mean_of(r.get(f"val_loss_{source}") for r in plus), mean_of(r.get(f"val_loss_{source}") for r in runs))
        d_ppl = math.exp(loss[0]) - math.exp(loss[1]) if None not in loss else None
        if d_ppl is not None:
            loss_deltas.append(d_ppl)
        tokens = fmt_delta(mean_of(r.get("tokens") for r in plus), mean_of(r.get("tokens") for r in runs))
        for task in sorted(sources & set(targets)):
            comp, used = compare_of(study, ctx, plus, runs, task, "validation", family)
            if comp is None:
                continue
            deltas[task].append(comp.diff)
            ident = ctx.record(f"validation/{model}/{key}/{'+'.join(sorted(sources))}/{task}",
                               dataclasses.asdict(comp), "validation", used, study)
            rows.append(["+".join(sorted(sources)), task, fmt(comp.diff), fmt(comp.lo), fmt(comp.hi),
                         fmt_p(comp.p), tokens, fmt(d_ppl, 2), ident])
    summary = [[task, len(v), *t_summary(v)] for task, v in deltas.items() if v]
    if loss_deltas:
        summary.append([f"{source} perplexity" + (" (general ability)" if source == "openorca" else ""),
                        len(loss_deltas), *t_summary(loss_deltas)])
    return rows, summary


def math_split(section: Section) -> Section:
    """Numeric tasks (FinQA, ConvFinQA) apart from the rest, as the study asks."""
    for table in section.tables:
        if "_summary_" in table.name:
            table.rows = sorted(table.rows, key=lambda r: (r[0] not in NUMERIC_TASKS, r[0]))
            table.note += " Numeric tasks first (FinQA, ConvFinQA), then the others."
    return section
