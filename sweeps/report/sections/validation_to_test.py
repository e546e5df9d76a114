"""Section 7, validation → test: does a configuration chosen on validation hold up on test? Within each task (the
configurations of different tasks differ in level, so a pooled correlation would mostly measure the tasks): how
the selected configurations rank on validation and on test, and the test regret of choosing on validation."""
from __future__ import annotations

from scipy import stats as st

from sweeps.report.document import Section, Table, fmt
from sweeps.report.figures import validation_scatter
from sweeps.report.measures import Context, estimate_of, selected_runs
from sweeps.report.study import Study
from sweeps.selection import ROLE_TITLES, ROLES, mean_of


def validation_to_test(study: Study, ctx: Context) -> Section:
    section = Section("transfer", "7. Validation → test",
                      "Does a configuration chosen on validation hold up on test? (selected configurations, "
                      "means over seeds, within each task)")
    if study.selection is None:
        section.missing = "no selection yet: run `cocktail sweep finalize`"
        return section
    points, rows = [], []
    for model, by_task in study.selection["selection"].items():
        for task, roles in by_task.items():
            mine = _tested(study, ctx, model, task, roles)
            points += [(task, role, val, test) for role, val, test in mine]
            if len(mine) >= 2:
                rows.append(_agreement(model, task, mine))
    if not rows:
        section.missing = "no task has two selected configurations with both validation and test scores"
        return section
    section.tables.append(Table(
        "validation_to_test", "validation against test, within each task",
        ["model", "task", "configurations", "Kendall τ (validation vs test)", "chosen on validation",
         "its test score", "best on test", "test regret"], rows,
        "Estimand: for each task, the test score lost by choosing among its selected configurations on validation "
        "(regret: best test score − test score of the validation choice). Rank agreement is descriptive (a handful of "
        "configurations per task: no p-value)."))
    regrets = [float(r[-1]) for r in rows]
    hits = sum(r[4] == r[6] for r in rows)
    section.findings.append(f"choosing on validation picked the test-best configuration in {hits} of {len(rows)} "
                            f"tasks; test regret median {fmt(sorted(regrets)[len(regrets) // 2])}, "
                            f"largest {fmt(max(regrets))}")
    section.figures.append(validation_scatter(points))
    return section


def _tested(study: Study, ctx: Context, model: str, task: str, roles) -> list[tuple[str, float, float]]:
    """(role, validation mean, test mean) of each distinct selected configuration scored on both."""
    out, seen = [], set()
    for role in ROLES:
        key = roles[role].get("point_key")
        if not key or key in seen:
            continue
        seen.add(key)
        runs = selected_runs(study, model, roles[role])
        val = mean_of(r.get(f"score_{task}") for r in runs if r["trial_id"] in study.design)
        est, _ = estimate_of(study, ctx, runs, task, "test")
        if val is not None and est is not None:
            out.append((role, val, est.mean))
    return out


def _agreement(model: str, task: str, mine: list[tuple[str, float, float]]) -> list:
    chosen = max(mine, key=lambda m: m[1])
    best = max(mine, key=lambda m: m[2])
    tau = st.kendalltau([m[1] for m in mine], [m[2] for m in mine]).statistic if len(mine) > 2 else float("nan")
    return [model.rsplit("/", 1)[-1], task, len(mine), fmt(tau), ROLE_TITLES[chosen[0]], fmt(chosen[2]),
            ROLE_TITLES[best[0]], fmt(best[2] - chosen[2])]
