"""Sections 2 and 3, which tasks help which: pair gains G[i, j] and leave-one-out L[i, j], on the validation split
of the design's runs, Holm across each matrix's cells."""
from __future__ import annotations

import dataclasses
from typing import Any

from evaluation.multiplicity import benjamini_hochberg
from sweeps.report.document import Section, Table, fmt, fmt_delta, fmt_p, fmt_seeds, slug
from sweeps.report.figures import heatmap
from sweeps.report.measures import ALPHA, Context, compare_of, matched
from sweeps.report.study import Study
from sweeps.selection import mean_of


def transfer_matrices(study: Study, ctx: Context) -> list[Section]:
    gain = Section("pairs", "2. Which tasks help which: pair gains",
                   "G[i, j] = score_i(i + j) − score_i(i alone): does adding source j to target i's training help "
                   "on i? (validation split of the design's runs)")
    loo = Section("leave_one_out", "3. Which tasks help which: leave one out",
                  "L[i, j] = score_i(all) − score_i(all − j): what does target i lose when source j leaves the full "
                  "cocktail? (validation split)")
    matched_gain = Section("pairs_matched", "2b. Pair gains at equal compute",
                           "G=[i, j] = score_i(i + j) − score_i(i alone, trained on as many examples as i + j): "
                           "what source j adds beyond the extra training it brings (validation)")
    targets = [t for t in study.sweep.objective_tasks() if t in study.sweep.pool]
    pool = list(study.sweep.pool)
    cells: dict[str, dict[str, dict]] = {"G": {}, "G=": {}, "L": {}}
    for model in study.models():
        family = list(study.configs(model, design_only=True).values())
        singles = {t: matched(study, model, {t}, None) for t in targets}
        everything = matched(study, model, set(pool), None)
        for i in targets:
            for j in (j for j in pool if j != i):
                pair = matched(study, model, {i, j}, singles[i]) if singles[i] is not None else None
                if pair is not None:
                    cells["G"][model, i, j] = _cell(study, ctx, pair, singles[i], i, family)
                    control = _control(study, model, i, pair, singles[i])
                    if control is not None:
                        cells["G="][model, i, j] = _cell(study, ctx, pair, control, i, family)
                without = matched(study, model, set(pool) - {j}, everything) if everything is not None else None
                if without is not None:
                    cells["L"][model, i, j] = _cell(study, ctx, everything, without, i, family)
    for section, label, name in ((gain, "G", "pair_gain"), (matched_gain, "G=", "pair_gain_matched"),
                                 (loo, "L", "leave_one_out")):
        computed = {k: v for k, v in cells[label].items() if v["comp"] is not None}
        tested = [k for k, v in computed.items() if not v["comp"].example_only]
        adjusted = dict(zip(tested, benjamini_hochberg([computed[k]["comp"].p for k in tested])))
        for model in study.models():
            mine = {(i, j): v for (m, i, j), v in computed.items() if m == model}
            if mine:
                adjusted_here = {(i, j): p for (m, i, j), p in adjusted.items() if m == model}
                _matrix_section(section, study, ctx, model, targets, pool, mine, adjusted_here, len(tested), name,
                                label)
    for section, need, sizes in ((gain, "runs of each target alone and of the target with one other source",
                                  "1 and 2"),
                                 (loo, "a run with every source and runs that leave one source out", "0 and -1")):
        if not section.tables:
            section.missing = (f"the design lacks {need}: a subsets grid with sizes {sizes} (the paper_ablation "
                               f"design has both) provides them")
    if not matched_gain.tables:
        matched_gain.missing = ("the design has no compute-matched controls (search.grid.compute_matched: true adds "
                                "them; a design that trains every configuration the same steps, as the mini study "
                                "does, is matched already: see Δtokens in section 2)")
    return [gain, matched_gain, loo]


def _control(study: Study, model: str, target: str, pair, alone):
    """Target alone trained longer (a compute-matched control): of the design's runs of the target alone other than
    ``alone``, the one whose tokens come closest to the pair's; None where the design has none."""
    others = [c for c in study.with_sources(model, {target}) if c[0]["point_key"] != alone[0]["point_key"]]
    tokens = mean_of(r.get("tokens") for r in pair)
    if not others or tokens is None:
        return None
    return min(others, key=lambda c: abs((mean_of(r.get("tokens") for r in c) or 0) - tokens))


def _cell(study: Study, ctx: Context, a, b, task: str, family) -> dict[str, Any]:
    """A − B on the target's validation split, the seed variance pooled over the model's design configurations
    scored on it; and what A trained beyond B (tokens, optimizer steps: a gain may be compute, not content)."""
    comp, used = compare_of(study, ctx, a, b, task, "validation", family)
    return {"comp": comp, "runs": used,
            **{key: fmt_delta(mean_of(r.get(key) for r in a), mean_of(r.get(key) for r in b))
               for key in ("tokens", "steps")}}


def _matrix_section(section: Section, study: Study, ctx: Context, model: str, targets, pool, cells, adjusted,
                    family: int, name: str, label: str) -> None:
    short = model.rsplit("/", 1)[-1]
    rows, z, text = [], [], []
    for i in targets:
        z_row, t_row = [], []
        for j in pool:
            cell = cells.get((i, j))
            if cell is None:
                z_row.append(None)
                t_row.append("")
                continue
            comp, p = cell["comp"], adjusted.get((i, j))
            significant = p is not None and p < ALPHA
            ident = ctx.record(f"validation/{model}/{name}/{i}/{j}", dataclasses.asdict(comp), "validation",
                               cell["runs"], study)
            rows.append([i, j, fmt(comp.diff), fmt(comp.lo), fmt(comp.hi), fmt_p(comp.p),
                         "example noise only" if comp.example_only else fmt_p(p), "yes" if significant else "no",
                         len(comp.per_seed), fmt_seeds(comp), cell["tokens"], cell["steps"],
                         ident])
            z_row.append(comp.diff)
            t_row.append(f"{comp.diff:+.3f}{' *' if significant else ''}")
            if significant:
                section.findings.append(f"{short}: {label}[{i}, {j}] = {comp.diff:+.3f} (95% CI [{comp.lo:+.3f}, "
                                        f"{comp.hi:+.3f}], BH p = {p:.3g} over the section's {family} cells; "
                                        f"Δtokens {cell['tokens']})")
        z.append(z_row)
        text.append(t_row)
    section.tables.append(Table(
        f"{name}_{slug(short)}", f"{short}: {label}[i, j] (validation)",
        ["target i", "source j", "difference", "95% lo", "95% hi", "p", "p (BH)", "significant", "seed pairs",
         "seed differences (SD)", "Δtokens", "Δsteps", "provenance"], rows,
        f"Estimand: the difference of the two configurations' expected validation scores as the design trained them "
        f"(Δtokens, Δsteps: what the first trained beyond the second; where they are not 0 a gain may be compute, "
        f"not content). Family: every tested cell of this section ({family}), Benjamini–Hochberg; * marks cells "
        f"significant after it. The seed variance is pooled over the model's design configurations scored on the "
        f"target, where they agree; a cell with one seed a side and no pooled variance carries example noise only "
        f"and is never marked significant."))
    section.figures.append(heatmap(f"{short}: {label}[i, j] (validation; * = BH-significant)", z, text, targets,
                                   pool))
