"""Section 6, domain knowledge: CFA / CPA-style multiple choice, the selected configurations against the base
model untuned (test). "Does not change" is a claim too: it is made only through an equivalence test (TOST) within
the report's margin, never from a difference that merely is not significant."""
from __future__ import annotations

import dataclasses

from evaluation.multiplicity import holm, tost
from evaluation.stats import compare
from sweeps.config import ReportConfig
from sweeps.report.document import Section, Table, fmt, fmt_ci, fmt_p, fmt_seeds, slug
from sweeps.report.measures import ALPHA, Context, estimate_of, outcomes_of, selected_runs
from sweeps.report.study import Study
from sweeps.selection import ROLE_TITLES, ROLES

TASK = "finance_mc"


def domain_knowledge(study: Study, ctx: Context) -> Section:
    section = Section("knowledge", "6. Domain knowledge",
                      "Does task fine-tuning improve broader financial knowledge (CFA / CPA-style multiple choice)? "
                      "(test; against the base model untuned)")
    tested = {e["task"] for e in study.ledger}
    if TASK not in tested:
        section.missing = ("finance_mc has not been scored: its data is licensed; prepare it with `cocktail data "
                           "prepare --tasks finance_mc --source PATH` and finalize with `--tasks ...,finance_mc`")
        return section
    margin = (study.sweep.report or ReportConfig()).equivalence_margin
    arms = {model: _arms(study, ctx, model, by_task[TASK])
            for model, by_task in (study.selection or {}).get("selection", {}).items() if by_task.get(TASK)}
    # One family per kind of claim for the section: the differences, and the equivalences (Holm each).
    keys = [(m, role) for m, rows in arms.items() for role, _, comp in rows if comp is not None
            and not comp.example_only]
    comps = {(m, role): comp for m, rows in arms.items() for role, _, comp in rows}
    p_diff = dict(zip(keys, holm([comps[k].p for k in keys]) if keys else []))
    p_tost = dict(zip(keys, holm([tost(comps[k].diff, comps[k].se, comps[k].df, margin) for k in keys])
                      if keys else []))
    for model, rows in arms.items():
        table = [["base model, untuned", fmt(study.untuned_outcomes(model, TASK).correct.mean())
                  if study.untuned_outcomes(model, TASK) is not None else "not scored", "-", "-", "-", "-", "-"]]
        for role, est, comp in rows:
            verdict = _verdict(comp, p_diff.get((model, role)), p_tost.get((model, role)), margin)
            if verdict != "inconclusive":
                section.findings.append(f"{model.rsplit('/', 1)[-1]}: {ROLE_TITLES[role]} {verdict} finance_mc "
                                        f"({comp.diff:+.3f} against the untuned model, 95% CI [{comp.lo:+.3f}, "
                                        f"{comp.hi:+.3f}]; Holm over the section's {len(keys)} rows)")
            table.append([ROLE_TITLES[role], fmt_ci(est), fmt_seeds(est), fmt_ci(comp, True) if comp else "-",
                          fmt_p(p_diff.get((model, role))), fmt_p(p_tost.get((model, role))), verdict])
        section.tables.append(Table(
            f"knowledge_{slug(model)}", f"{model}: finance_mc accuracy (test), against the base model untuned",
            ["configuration", "accuracy [95% CI]", "seeds (SD)", "− untuned [95% CI]", "p Holm (difference)",
             f"p Holm (TOST, ±{margin:g})", "verdict"], table,
            f"Estimand: each configuration's expected test accuracy over seeds, and its difference from the one "
            f"untuned base model. \"Unchanged\" needs the equivalence test (TOST) within ±{margin:g} "
            f"(report.equivalence_margin) to reject; a difference that is merely not significant is "
            f"\"inconclusive\". Holm over the section's rows, once for differences and once for equivalences."))
    return section


def _arms(study: Study, ctx: Context, model: str, roles) -> list[tuple]:
    """(role, estimate, comparison with the untuned model) of each selected configuration scored on the task."""
    untuned = study.untuned_outcomes(model, TASK)
    family = [selected_runs(study, model, roles[role]) for role in ROLES]
    out = []
    for role in ROLES:
        est, used = estimate_of(study, ctx, selected_runs(study, model, roles[role]), TASK, "test", family)
        if est is None:
            continue
        ctx.record(f"test/{model}/{TASK}/{role}", dataclasses.asdict(est), "test", used, study, [TASK])
        _, outs = outcomes_of(study, used, TASK, "test")
        comp = compare(outs, [untuned], ctx.weights(TASK, "test", len(outs[0].gold)), b_fixed=True) \
            if untuned is not None else None
        out.append((role, est, comp))
    return out


def _verdict(comp, p_diff: float | None, p_tost: float | None, margin: float) -> str:
    if comp is None or p_diff is None:
        return "inconclusive"
    if p_diff < ALPHA:
        return "improves" if comp.diff > 0 else "lowers"
    if p_tost is not None and p_tost < ALPHA:
        return f"leaves unchanged (within ±{margin:g})"
    return "inconclusive"
