"""Section 7, validation → test: does a configuration chosen on validation hold up on test?"""
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
                      "means over seeds)")
    if study.selection is None:
        section.missing = "no selection yet: run `cocktail sweep finalize`"
        return section
    points, rows = [], []
    for model, by_task in study.selection["selection"].items():
        for task, roles in by_task.items():
            seen = set()
            for role in ROLES:
                key = roles[role].get("point_key")
                if not key or key in seen:
                    continue
                seen.add(key)
                runs = selected_runs(study, model, roles[role])
                val = mean_of(r.get(f"score_{task}") for r in runs)
                est, _ = estimate_of(study, ctx, runs, task, "test")
                if val is None or est is None:
                    continue
                points.append((task, role, val, est.mean))
                rows.append([model.rsplit("/", 1)[-1], task, ROLE_TITLES[role], fmt(val), fmt(est.mean)])
    if len(points) < 3:
        section.missing = "fewer than 3 selected configurations have both validation and test scores"
        return section
    rho, p = st.spearmanr([v for *_, v, _ in points], [t for *_, t in points])
    section.tables.append(Table("validation_to_test", "validation vs test, selected configurations",
                                ["model", "task", "role", "validation", "test"], rows,
                                f"Spearman rank correlation {rho:.3f} (p = {p:.3g}, n = {len(points)})."))
    section.findings.append(f"selection transfers with Spearman ρ = {rho:.2f} between validation and test "
                            f"(n = {len(points)} configurations)")
    section.figures.append(validation_scatter(points, rho))
    return section
