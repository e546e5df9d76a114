"""Sections 2 and 3, which tasks help which: pair gains G[i, j] and leave-one-out L[i, j], on the validation split
of the design's runs, Benjamini–Hochberg over each section's tested cells."""
from __future__ import annotations

import dataclasses
from typing import Any

from evaluation.multiplicity import benjamini_hochberg
from sweeps.report.document import Section, Table, fmt, fmt_delta, fmt_p, fmt_seeds, slug
from sweeps.report.figures import heatmap
from sweeps.report.measures import ALPHA, Context, compare_of, matched
from sweeps.report.study import Study
from sweeps.selection import mean_of

TOKEN_MATCH = 0.10  # a control within 10 % of the pair's tokens counts as compute-matched
_AS_TRAINED = ("Estimand: the difference of the two configurations' expected validation scores as the design trained "
               "them (Δtokens, Δsteps: what the first trained beyond the second; where they are not 0 a gain may be "
               "compute, not content).")
ESTIMAND = {
    "G": _AS_TRAINED, "L": _AS_TRAINED,
    "G=": (f"Estimand: the difference of expected validation scores at equal compute: the pair against the run of "
           f"the target alone whose tokens come closest to the pair's (within {TOKEN_MATCH:.0%}; Δtokens, Δsteps "
           f"show how close). Where the design trains every configuration the same steps, that run is the target "
           f"alone itself and G= repeats G; search.grid.compute_matched adds the target alone trained longer."),
}


def transfer_matrices(study: Study, ctx: Context) -> list[Section]:
    gain = Section("pairs", "2. Which tasks help which: pair gains",
                   "G[i, j] = score_i(i + j) − score_i(i alone): does adding source j to target i's training help "
                   "on i? (validation split of the design's runs)")
    loo = Section("leave_one_out", "3. Which tasks help which: leave one out",
                  "L[i, j] = score_i(all) − score_i(all − j): what does target i lose when source j leaves the full "
                  "cocktail? (validation split)")
    matched_gain = Section("pairs_matched", "2b. Pair gains at equal compute",
                           "G=[i, j] = score_i(i + j) − score_i(i alone, trained on as many tokens as i + j): "
                           "what source j adds beyond the extra training it brings (validation)")
    targets = [t for t in study.sweep.objective_tasks() if t in study.sweep.pool]
    pool = list(study.sweep.pool)
    cells: dict[str, dict[str, dict]] = {"G": {}, "G=": {}, "L": {}}
    for model in study.models():
        family = study.seed_groups(model)
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
        matched_gain.missing = (f"no run of a target alone trained within {TOKEN_MATCH:.0%} of a pair's tokens "
                                f"(search.grid.compute_matched: true adds such controls to a design whose pairs train "
                                f"longer than their targets alone)")
    return [gain, matched_gain, loo]


def _family(tested: int) -> str:
    if tested:
        return f"every tested cell of this section ({tested}), Benjamini–Hochberg; * marks cells significant after it"
    return ("no cell could be tested: one seed a side and no seed variance to pool (two or more seeds in the sweep's "
            "`seeds`, or finalize's replicates, give one)")


def _seed_variance(comp) -> str:
    names = {"own": "the two sides' own", "pooled": "pooled", "floor": "pooled, as a floor"}
    return f"{names[comp.seed_variance]} (df {comp.seed_df:g})" if comp.seed_variance else "none"


def _control(study: Study, model: str, target: str, pair, alone):
    """The compute-matched control: of the design's runs of the target alone, the one whose tokens come closest to
    the pair's, where within TOKEN_MATCH of them; None where none is. A design that trains every configuration the
    same steps has one already: the target alone itself. A grid with compute_matched adds the target alone trained
    for more epochs."""
    tokens = mean_of(r.get("tokens") for r in pair)
    if tokens is None:
        return None
    candidates = study.with_sources(model, {target})
    distance = {c[0]["point_key"]: abs((mean_of(r.get("tokens") for r in c) or 0) - tokens) for c in candidates}
    best = min(candidates, key=lambda c: (distance[c[0]["point_key"]], c[0]["point_key"] != alone[0]["point_key"]))
    return best if distance[best[0]["point_key"]] <= TOKEN_MATCH * tokens else None


def _cell(study: Study, ctx: Context, a, b, task: str, family) -> dict[str, Any]:
    """A − B on the target's validation split, the seed variance pooled over the model's seed groups scored on
    it; and what A trained beyond B (tokens, optimizer steps: a gain may be compute, not content)."""
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
                         len(comp.per_seed), fmt_seeds(comp), _seed_variance(comp), cell["tokens"], cell["steps"],
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
         "seed differences (SD)", "seed variance", "Δtokens", "Δsteps", "provenance"], rows,
        f"{ESTIMAND[label]} Family: {_family(family)}. The seed variance is pooled over the model's configurations "
        f"scored on the target (each design configuration's seeds, and the fresh seeds finalize replicated a "
        f"selected one with) where they agree (Bartlett); where they do not, a cell takes its two sides' own, or "
        f"the pooled one where that is larger. Its degrees of freedom are shown. A cell with one seed a "
        f"side and no pooled variance carries example noise only and is never marked significant."))
    section.figures.append(heatmap(f"{short}: {label}[i, j] (validation; * = BH-significant)", z, text, targets,
                                   pool))
