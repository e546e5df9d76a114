"""Section 1, the cocktail effect: on held-out test data, does training on a cocktail of tasks beat training on
the target alone, by how much, and how sure are we? (the configurations selected on validation)"""
from __future__ import annotations

import dataclasses
from typing import Any

from evaluation.multiplicity import holm
from evaluation.stats import Comparison
from sweeps.report.document import Section, Table, fmt_ci, fmt_p, fmt_seeds, slug
from sweeps.report.figures import role_bars
from sweeps.report.measures import ALPHA, Context, compare_of, estimate_of, mcnemar_text, metric_name, selected_runs
from sweeps.report.study import Study
from sweeps.selection import ROLE_TITLES, ROLES

MIN_TEST_SEEDS = 3  # an interval or p-value on test needs this many seeds a side


def cocktail_effect(study: Study, ctx: Context) -> Section:
    section = Section("cocktail", "1. The cocktail effect",
                      "Does training on a cocktail of tasks beat training on the target task alone, on held-out "
                      "test data, by how much, and how sure are we?")
    if study.selection is None:
        section.missing = (f"no selection yet: `cocktail sweep finalize {study.exp}` selects on validation, replicates "
                           f"over seeds and scores the test split once")
        return section
    by_model = {model: _task_rows(study, ctx, model, by_task)
                for model, by_task in study.selection["selection"].items()}
    # One family for the section's findings: every comparison of every model, task and role.
    tested = [(model, task, role, comp) for model, (_, _, comps) in by_model.items()
              for role, cells in comps.items() for task, comp in cells if _testable(comp)]
    adjusted = dict(zip([(m, t, r) for m, t, r, _ in tested], holm([c.p for *_, c in tested]) if tested else []))
    for model, (rows, figure_rows, _) in by_model.items():
        short = model.rsplit("/", 1)[-1]
        section.tables.append(_model_table(section, study, model, short, rows, adjusted, len(tested)))
        section.figures.append(role_bars(short, figure_rows))
    if not any(t.rows for t in section.tables):
        section.missing = "finalize has not scored the test split yet (or every selected run failed)"
    return section


def _testable(comp: Comparison | None) -> bool:
    """A test comparison with a p-value: seed variance known, and enough seeds on each side (the fewer side's
    count is the number of seed pairs)."""
    return comp is not None and not comp.example_only and len(comp.per_seed) >= MIN_TEST_SEEDS


def _task_rows(study: Study, ctx: Context, model: str, by_task: dict[str, Any]):
    """Per target task: each role's test estimate (the seed variance pooled over the task's selected
    configurations), and best multi-task and all sources against the target alone."""
    rows, figure_rows = [], []
    comparisons: dict[str, list[tuple[str, Comparison]]] = {"best_multi": [], "all_sources": []}
    for task, roles in by_task.items():
        runs = {role: selected_runs(study, model, roles[role]) for role in ROLES}
        family = list({r[0]["point_key"]: r for r in runs.values() if r}.values())
        est = {}
        for role in ROLES:
            est[role], used = estimate_of(study, ctx, runs[role], task, "test", family)
            if est[role] is not None:
                ctx.record(f"test/{model}/{task}/{role}", dataclasses.asdict(est[role]), "test", used, study, [task])
                figure_rows.append((task, role, est[role]))
        cells = {}
        for role in ("best_multi", "all_sources"):
            comp, used = compare_of(study, ctx, runs[role], runs["alone"], task, "test", family)
            cells[role] = comp
            if comp is not None:
                comparisons[role].append((task, comp))
                ctx.record(f"test/{model}/{task}/{role}-alone", dataclasses.asdict(comp), "test", used, study,
                           [task])
        rows.append([task, metric_name(task, study.profile), *(fmt_ci(est[r]) for r in ROLES),
                     *(fmt_seeds(est[r]) for r in ROLES), cells["best_multi"], cells["all_sources"],
                     max((len(e.per_seed) for e in est.values() if e), default=0),
                     max((e.n_examples for e in est.values() if e), default=0)])
    return rows, figure_rows, comparisons


def _model_table(section: Section, study: Study, model: str, short: str, rows, adjusted, family: int) -> Table:
    """One model's table; the significant cells (Holm over the section's family) become findings."""
    table_rows = []
    for task, metric, *cols, multi, everything, seeds, n in rows:
        retested = any(e.get("retest") for e in study.ledger if e["task"] == task)
        p_multi, p_all = adjusted.get((model, task, "best_multi")), adjusted.get((model, task, "all_sources"))
        table_rows.append([task, metric, *cols,
                           fmt_ci(multi, True), fmt_p(multi.p if _testable(multi) else None), fmt_p(p_multi),
                           mcnemar_text(multi), fmt_ci(everything, True), fmt_p(p_all),
                           seeds, n, "yes" if retested else "no"])
        for comp, p, label in ((multi, p_multi, "best multi-task"), (everything, p_all, "all sources")):
            if comp is not None and p is not None and p < ALPHA:
                word = "beats" if comp.diff > 0 else "trails"
                section.findings.append(
                    f"{task}: {label} {word} the target alone by {comp.diff:+.3f} {metric} (95% CI "
                    f"[{comp.lo:+.3f}, {comp.hi:+.3f}], Holm p = {p:.3g} over the section's {family} tests, "
                    f"{len(comp.per_seed)} seeds a side)")
    return Table(
        f"cocktail_effect_{slug(short)}", f"{short}: test scores of the configurations selected on validation",
        ["task", "metric", *(f"{ROLE_TITLES[r]} (mean [95% CI])" for r in ROLES),
         *(f"{ROLE_TITLES[r]}: seeds (SD)" for r in ROLES), "best multi − alone", "p", "p Holm (best multi)",
         "McNemar p per seed", "all sources − alone", "p Holm (all sources)", "seeds", "test examples", "retested"],
        table_rows,
        f"Estimand: each configuration's expected test score over training seeds. Means over seeds; intervals on "
        f"the logit scale (inside [0, 1]), the seed variance pooled over the task's selected configurations where "
        f"they agree (Bartlett; else each its own, never less than the pooled one), plus a paired bootstrap over the test examples. An interval or p-value needs "
        f"{MIN_TEST_SEEDS} seeds a side: with fewer the seeds' values are shown instead. Holm over every comparison "
        f"of this section (all models, tasks and roles: {family} tests). McNemar: exact, per seed pair, for accuracy "
        f"metrics.")
