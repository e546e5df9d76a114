"""Sections 4 and 5, what an added source does: general instruction data (a regulariser?) and math data (numeric
reasoning?), over matched mixtures S and S + source."""
from __future__ import annotations

import dataclasses
import math

from sweeps.report.document import Section, Table, fmt, fmt_p, slug
from sweeps.report.measures import Context, compare_of, matched, t_summary
from sweeps.report.study import Study
from sweeps.selection import active_tasks, mean_of

NUMERIC_TASKS = ("finqa", "convfinqa")


def added_source(study: Study, ctx: Context, source: str, key: str, title: str, question: str) -> Section:
    section = Section(key, title, question)
    if source not in study.sweep.pool:
        section.missing = f"{source} is not in the sweep's pool"
        return section
    targets = [t for t in study.sweep.objective_tasks() if t in study.sweep.pool]
    for model in study.models():
        short = model.rsplit("/", 1)[-1]
        rows, deltas = [], {t: [] for t in targets}
        loss_deltas = []
        for runs in study.configs(model).values():
            sources = set(active_tasks(runs[0]))
            if source in sources:
                continue
            plus = matched(study, model, sources | {source}, runs)
            if plus is None:
                continue
            loss = (mean_of(r.get(f"val_loss_{source}") for r in plus),
                    mean_of(r.get(f"val_loss_{source}") for r in runs))
            d_ppl = math.exp(loss[0]) - math.exp(loss[1]) if None not in loss else None
            if d_ppl is not None:
                loss_deltas.append(d_ppl)
            for task in sorted(sources & set(targets)):
                comp, used = compare_of(study, ctx, plus, runs, task, "validation")
                if comp is None:
                    continue
                deltas[task].append(comp.diff)
                ident = ctx.record(f"validation/{model}/{key}/{'+'.join(sorted(sources))}/{task}",
                                   dataclasses.asdict(comp), "validation", used, study)
                rows.append(["+".join(sorted(sources)), task, fmt(comp.diff), fmt(comp.lo), fmt(comp.hi),
                             fmt_p(comp.p), fmt(d_ppl, 2), ident])
        if not rows:
            continue
        summary = [[task, len(v), *t_summary(v)] for task, v in deltas.items() if v]
        if loss_deltas:
            summary.append([f"{source} perplexity" + (" (general ability)" if source == "openorca" else ""),
                            len(loss_deltas), *t_summary(loss_deltas)])
        section.tables.append(Table(f"{key}_{slug(short)}", f"{short}: S + {source} − S, matched mixtures",
                                    ["mixture S", "task", "difference", "95% lo", "95% hi", "p",
                                     f"Δ {source} perplexity", "provenance"], rows))
        section.tables.append(Table(f"{key}_summary_{slug(short)}", f"{short}: mean effect of adding {source}",
                                    ["measure", "matched pairs", "mean", "95% lo", "95% hi"], summary,
                                    "t interval across matched mixtures (each mixture one unit)."))
        for task, n, mean, lo, hi in summary:
            if n > 1 and lo != "-" and (float(lo) > 0 or float(hi) < 0):
                direction = "raises" if float(mean) > 0 else "lowers"
                section.findings.append(f"{short}: adding {source} {direction} {task} by {mean} on average "
                                        f"(95% CI [{lo}, {hi}], {n} matched mixtures)")
    if not section.tables:
        section.missing = f"no pair of mixtures S and S + {source} with the same parameters in the design"
    return section


def math_split(section: Section) -> Section:
    """Numeric tasks (FinQA, ConvFinQA) apart from the rest, as the study asks."""
    for table in section.tables:
        if "_summary_" in table.name:
            table.rows = sorted(table.rows, key=lambda r: (r[0] not in NUMERIC_TASKS, r[0]))
            table.note += " Numeric tasks first (FinQA, ConvFinQA), then the others."
    return section
