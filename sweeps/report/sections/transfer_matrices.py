"""Sections 2 and 3, which tasks help which: pair gains G[i, j] and leave-one-out L[i, j], on the validation split
of the design's runs, Holm across each matrix's cells."""
from __future__ import annotations

import dataclasses

from evaluation.stats import holm
from sweeps.report.document import Section, Table, fmt, fmt_p, slug
from sweeps.report.figures import heatmap
from sweeps.report.measures import ALPHA, Context, compare_of, matched
from sweeps.report.study import Study


def transfer_matrices(study: Study, ctx: Context) -> list[Section]:
    gain = Section("pairs", "2. Which tasks help which: pair gains",
                   "G[i, j] = score_i(i + j) − score_i(i alone): does adding source j to target i's training help "
                   "on i? (validation split of the design's runs)")
    loo = Section("leave_one_out", "3. Which tasks help which: leave one out",
                  "L[i, j] = score_i(all) − score_i(all − j): what does target i lose when source j leaves the full "
                  "cocktail? (validation split)")
    targets = [t for t in study.sweep.objective_tasks() if t in study.sweep.pool]
    pool = list(study.sweep.pool)
    for model in study.models():
        short = model.rsplit("/", 1)[-1]
        singles = {t: matched(study, model, {t}, None) for t in targets}
        cells_g = {}
        for i in targets:
            if singles[i] is None:
                continue
            for j in pool:
                if j != i:
                    pair = matched(study, model, {i, j}, singles[i])
                    if pair is not None:
                        cells_g[i, j] = compare_of(study, ctx, pair, singles[i], i, "validation")
        everything = matched(study, model, set(pool), None)
        cells_l = {}
        if everything is not None:
            for i in targets:
                for j in pool:
                    if j != i:
                        without = matched(study, model, set(pool) - {j}, everything)
                        if without is not None:
                            cells_l[i, j] = compare_of(study, ctx, everything, without, i, "validation")
        for section, cells, name, label in ((gain, cells_g, "pair_gain", "G"), (loo, cells_l, "leave_one_out", "L")):
            _matrix_section(section, study, ctx, model, short, targets, pool, cells, name, label)
    for section, need, sizes in ((gain, "runs of each target alone and of the target with one other source",
                                  "1 and 2"),
                                 (loo, "a run with every source and runs that leave one source out", "0 and -1")):
        if not section.tables:
            section.missing = (f"the design lacks {need}: a subsets grid with sizes {sizes} (the paper_ablation "
                               f"design has both) provides them")
    return [gain, loo]


def _matrix_section(section: Section, study: Study, ctx: Context, model: str, short: str, targets, pool, cells,
                    name: str, label: str) -> None:
    computed = {k: v for k, v in cells.items() if v[0] is not None}
    if not computed:
        return
    keys = list(computed)
    adjusted = dict(zip(keys, holm([computed[k][0].p for k in keys])))
    rows, z, text = [], [], []
    for i in targets:
        z_row, t_row = [], []
        for j in pool:
            comp = computed.get((i, j), (None,))[0]
            if comp is None:
                z_row.append(None)
                t_row.append("")
                continue
            significant = adjusted[i, j] < ALPHA
            ident = ctx.record(f"validation/{model}/{name}/{i}/{j}", dataclasses.asdict(comp), "validation",
                               computed[i, j][1], study)
            rows.append([i, j, fmt(comp.diff), fmt(comp.lo), fmt(comp.hi), fmt_p(comp.p), fmt_p(adjusted[i, j]),
                         "yes" if significant else "no", len(comp.per_seed), ident])
            z_row.append(comp.diff)
            t_row.append(f"{comp.diff:+.3f}{' *' if significant else ''}")
            if significant:
                section.findings.append(f"{short}: {label}[{i}, {j}] = {comp.diff:+.3f} (95% CI [{comp.lo:+.3f}, "
                                        f"{comp.hi:+.3f}], Holm p = {adjusted[i, j]:.3g})")
        z.append(z_row)
        text.append(t_row)
    section.tables.append(Table(f"{name}_{slug(short)}", f"{short}: {label}[i, j] (validation)",
                                ["target i", "source j", "difference", "95% lo", "95% hi", "p", "p (Holm)",
                                 "significant", "seed pairs", "provenance"], rows,
                                f"Holm across the {len(keys)} cells of the matrix; * marks cells significant "
                                f"after it."))
    section.figures.append(heatmap(f"{short}: {label}[i, j] (validation; * = Holm-significant)", z, text, targets,
                                    pool))
