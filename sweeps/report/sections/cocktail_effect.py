"""Section 1, the cocktail effect: on held-out test data, does training on a cocktail of tasks beat training on
the target alone, by how much, and how sure are we? (the configurations selected on validation)"""
from __future__ import annotations

import dataclasses
from typing import Any

from evaluation.stats import Comparison, holm
from sweeps.report.document import Section, Table, fmt_ci, fmt_p, slug
from sweeps.report.figures import role_bars
from sweeps.report.measures import ALPHA, Context, compare_of, estimate_of, mcnemar_text, metric_name, selected_runs
from sweeps.report.study import Study
from sweeps.selection import ROLE_TITLES, ROLES


def cocktail_effect(study: Study, ctx: Context) -> Section:
    section = Section("cocktail", "1. The cocktail effect",
                      "Does training on a cocktail of tasks beat training on the target task alone, on held-out "
                      "test data, by how much, and how sure are we?")
    if study.selection is None:
        section.missing = (f"no selection yet: `cocktail sweep finalize {study.exp}` selects on validation, replicates "
                           f"over seeds and scores the test split once")
        return section
    for model, by_task in study.selection["selection"].items():
        rows, figure_rows, comparisons = _task_rows(study, ctx, model, by_task)
        short = model.rsplit("/", 1)[-1]
        section.tables.append(_model_table(section, study, short, rows, comparisons))
        section.figures.append(role_bars(short, figure_rows))
    if not any(t.rows for t in section.tables):
        section.missing = "finalize has not scored the test split yet (or every selected run failed)"
    return section


def _task_rows(study: Study, ctx: Context, model: str, by_task: dict[str, Any]):
    """Per target task: each role's test estimate, and best multi-task and all sources against the target alone."""
    rows, figure_rows = [], []
    comparisons: dict[str, list[tuple[str, Comparison]]] = {"best_multi": [], "all_sources": []}
    for task, roles in by_task.items():
        est = {}
        for role in ROLES:
            est[role], used = estimate_of(study, ctx, selected_runs(study, model, roles[role]), task, "test")
            if est[role] is not None:
                ctx.record(f"test/{model}/{task}/{role}", dataclasses.asdict(est[role]), "test", used, study, [task])
                figure_rows.append((task, role, est[role]))
        cells = {}
        for role in ("best_multi", "all_sources"):
            comp, used = compare_of(study, ctx, selected_runs(study, model, roles[role]),
                                    selected_runs(study, model, roles["alone"]), task, "test")
            cells[role] = comp
            if comp is not None:
                comparisons[role].append((task, comp))
                ctx.record(f"test/{model}/{task}/{role}-alone", dataclasses.asdict(comp), "test", used, study,
                           [task])
        rows.append([task, metric_name(task, study.profile), *(fmt_ci(est[r]) for r in ROLES), cells["best_multi"],
                     cells["all_sources"], max((len(e.per_seed) for e in est.values() if e), default=0),
                     max((e.n_examples for e in est.values() if e), default=0)])
    return rows, figure_rows, comparisons


def _model_table(section: Section, study: Study, short: str, rows, comparisons) -> Table:
    """One model's table, Holm across tasks within each comparison; the significant cells become findings."""
    adjusted = {role: dict(zip([t for t, _ in comps], holm([c.p for _, c in comps]) if comps else []))
                for role, comps in comparisons.items()}
    table_rows = []
    for task, metric, *cols, multi, everything, seeds, n in rows:
        retested = any(e.get("retest") for e in study.ledger if e["task"] == task)
        table_rows.append([task, metric, *cols,
                           fmt_ci(multi, True), fmt_p(multi.p if multi else None),
                           fmt_p(adjusted["best_multi"].get(task)), mcnemar_text(multi),
                           fmt_ci(everything, True), fmt_p(adjusted["all_sources"].get(task)),
                           seeds, n, "yes" if retested else "no"])
        for role, comp, label in (("best_multi", multi, "best multi-task"), ("all_sources", everything,
                                                                             "all sources")):
            p = adjusted[role].get(task)
            if comp is not None and p is not None and p < ALPHA:
                word = "beats" if comp.diff > 0 else "trails"
                section.findings.append(
                    f"{task}: {label} {word} the target alone by {comp.diff:+.3f} {metric} (95% CI "
                    f"[{comp.lo:+.3f}, {comp.hi:+.3f}], Holm p = {p:.3g}, {len(comp.per_seed)} seed pairs)")
    return Table(
        f"cocktail_effect_{slug(short)}", f"{short}: test scores of the configurations selected on validation",
        ["task", "metric", *(f"{ROLE_TITLES[r]} (mean [95% CI])" for r in ROLES), "best multi − alone",
         "p", "p Holm (best multi)", "McNemar p per seed", "all sources − alone", "p Holm (all sources)", "seeds",
         "test examples", "retested"], table_rows,
        "Means over seeds; intervals add the spread between seeds (t) to a paired bootstrap over the test "
        "examples; p-values from the same; Holm across tasks within each comparison. McNemar: exact, per seed "
        "pair, for accuracy metrics. One seed: the interval covers test-example noise only.")
