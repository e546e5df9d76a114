"""Section 9, external references: published numbers the study compares with, beside ours under the profile
they are published with."""
from __future__ import annotations

import dataclasses

from sweeps.report import published
from sweeps.report.document import Section, Table, fmt_ci, slug
from sweeps.report.measures import Context, estimate_of, metric_name, selected_runs
from sweeps.report.study import Study


def external_references(study: Study, ctx: Context) -> Section:
    section = Section("references", "9. External references",
                      "Published numbers the study compares with — not measurements of ours.")
    ours = dataclasses.replace(study, profile=published.PROFILE, _outcomes={})
    rows = []
    for model, by_task in ((study.selection or {}).get("selection") or {}).items():
        for task, gpt4o in published.GPT4O.items():
            roles = by_task.get(task)
            est = None
            if roles:
                est, used = estimate_of(ours, ctx, selected_runs(study, model, roles["best_multi"]), task, "test")
                if est is not None:
                    ctx.record(f"test/{model}/{task}/best_multi@{published.PROFILE}", dataclasses.asdict(est), "test",
                               used, study, [task])
            rows.append([task, metric_name(task, published.PROFILE), fmt_ci(est) if est else "not in this study",
                         f"{gpt4o:.1f}"])
        section.tables.append(Table(f"references_{slug(model)}", f"{model.rsplit('/', 1)[-1]}: best multi-task "
                                    f"(test, {published.PROFILE} profile) beside published GPT-4o",
                                    ["task", "metric", f"ours (best multi-task, {published.PROFILE}; 0-1)",
                                     "published GPT-4o (0-100, not ours)"], rows,
                                    f"Source: {published.SOURCE}. Ours are read by the {published.PROFILE} profile "
                                    f"(FinBen's rule), the convention these benchmarks are published under; the "
                                    f"source does not name its parser."))
    if not rows:
        section.tables.append(Table("references", "published GPT-4o", ["task", "published GPT-4o (not ours)"],
                                    [[t, f"{v:.1f}"] for t, v in published.GPT4O.items()],
                                    f"Source: {published.SOURCE}. Finalize the sweep to put ours beside them."))
    return section
