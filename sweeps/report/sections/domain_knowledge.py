"""Section 6, domain knowledge: CFA / CPA-style multiple choice of the selected configurations (test)."""
from __future__ import annotations

import dataclasses

from sweeps.report.document import Section, Table, fmt_ci, slug
from sweeps.report.measures import Context, estimate_of, selected_runs
from sweeps.report.study import Study
from sweeps.selection import ROLE_TITLES, ROLES


def domain_knowledge(study: Study, ctx: Context) -> Section:
    section = Section("knowledge", "6. Domain knowledge",
                      "Does task fine-tuning improve broader financial knowledge (CFA / CPA-style multiple choice)?")
    tested = {e["task"] for e in study.ledger}
    if "finance_mc" not in tested:
        section.missing = ("finance_mc has not been scored: its data is licensed; prepare it with `cocktail data "
                           "prepare --tasks finance_mc --source PATH` and finalize with `--tasks ...,finance_mc`")
        return section
    for model, by_task in (study.selection or {}).get("selection", {}).items():
        roles = by_task.get("finance_mc")
        if not roles:
            continue
        rows = []
        for role in ROLES:
            est, used = estimate_of(study, ctx, selected_runs(study, model, roles[role]), "finance_mc", "test")
            if est is not None:
                ctx.record(f"test/{model}/finance_mc/{role}", dataclasses.asdict(est), "test", used, study,
                           ["finance_mc"])
            rows.append([ROLE_TITLES[role], fmt_ci(est)])
        section.tables.append(Table(f"knowledge_{slug(model)}", f"{model}: finance_mc accuracy (test)",
                                    ["configuration", "accuracy [95% CI]"], rows))
    return section
