"""The study's questions, one function each, over a ``Study``: tables, figures, findings, and for every number its
provenance (runs, config hashes, seeds, split, ledger entries). A section that cannot be computed says why."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from evaluation.stats import Comparison, Estimate, compare, estimate, holm, resample_weights
from ftlib.errors import ConfigError
from ftlib.io import canonical_hash
from sweeps.finalize import ROLE_TITLES, ROLES, active_tasks, mean_of
from sweeps.report import references
from sweeps.report.study import Study

ALPHA = 0.05
NUMERIC_TASKS = ("finqa", "convfinqa")


@dataclass
class Table:
    name: str  # file stem under tables/
    title: str
    columns: list[str]
    rows: list[list[Any]]
    note: str = ""


@dataclass
class Section:
    key: str
    title: str
    question: str
    tables: list[Table] = field(default_factory=list)
    figures: list[Any] = field(default_factory=list)  # plotly figures
    findings: list[str] = field(default_factory=list)
    missing: str | None = None  # why the section could not be computed


class Context:
    """Shared by every section: bootstrap weights per (task, split), one seeded stream, so every comparison on
    a task is paired on the same resampled examples; and the provenance of every number."""

    def __init__(self, resamples: int, seed: int):
        self.resamples, self.seed = resamples, seed
        self._weights: dict[tuple[str, str, int], np.ndarray] = {}
        self.replicates: dict = {}  # a run's resampled metric, computed once for all its comparisons
        self.provenance: dict[str, dict[str, Any]] = {}

    def weights(self, task: str, split: str, n: int) -> np.ndarray:
        key = (task, split, n)
        if key not in self._weights:
            rng = np.random.default_rng([self.seed, int(canonical_hash([task, split, n], 8), 16)])
            self._weights[key] = resample_weights(n, self.resamples, rng)
        return self._weights[key]

    def record(self, ident: str, value: Any, split: str, runs: list[dict[str, Any]], study: Study,
               tasks: list[str] | tuple[str, ...] = ()) -> str:
        self.provenance[ident] = {
            "value": value, "split": split, "sweep": study.name,
            "runs": [r["trial_id"] for r in runs], "config_hashes": [r["config_hash"] for r in runs],
            "seeds": [r["seed"] for r in runs], "point_keys": sorted({r["point_key"] for r in runs}),
            "ledger": [e for r in runs for t in tasks for e in study.test_entries(r["trial_id"], t)] if split == "test"
            else []}
        return ident


def fmt(x: float | None, digits: int = 3) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def fmt_p(p: float | None) -> str:
    return "-" if p is None else f"{p:.2g}" if p >= 0.001 else "<0.001"


def fmt_ci(e: Estimate | Comparison | None, signed: bool = False) -> str:
    if e is None:
        return "-"
    value = e.mean if isinstance(e, Estimate) else e.diff
    return f"{value:+.3f} [{e.lo:+.3f}, {e.hi:+.3f}]" if signed else f"{value:.3f} [{e.lo:.3f}, {e.hi:.3f}]"


def _outcomes(study: Study, runs: list[dict[str, Any]], task: str, split: str):
    """The runs that have outcomes for the task on the split, and those outcomes (seeds in order)."""
    pairs = [(r, study.outcomes(r["trial_id"], task, split)) for r in runs]
    pairs = [(r, o) for r, o in pairs if o is not None]
    return [r for r, _ in pairs], [o for _, o in pairs]


def _estimate(study: Study, ctx: Context, runs, task: str, split: str) -> tuple[Estimate | None, list]:
    runs, outs = _outcomes(study, runs, task, split)
    if not outs:
        return None, []
    return estimate(outs, ctx.weights(task, split, len(outs[0].gold)), cache=ctx.replicates), runs


def _compare(study: Study, ctx: Context, a_runs, b_runs, task: str, split: str):
    a_runs, a = _outcomes(study, a_runs, task, split)
    b_runs, b = _outcomes(study, b_runs, task, split)
    if not a or not b:
        return None, a_runs + b_runs
    return compare(a, b, ctx.weights(task, split, len(a[0].gold)), cache=ctx.replicates), a_runs + b_runs


def _metric(task: str, profile: str) -> str:
    from evaluation.harness import headline_metric

    return headline_metric(task, profile).split("@")[0]


# ---------------------------------------------------------------------------------------------------------------
# 1. The cocktail effect (test split, selected configurations)

def selected_runs(study: Study, model: str, chosen: dict[str, Any]) -> list[dict[str, Any]]:
    """Every completed run of a selected configuration (its replicates over seeds)."""
    return study.configs(model).get(chosen.get("point_key", ""), [])


def cocktail_effect(study: Study, ctx: Context) -> Section:
    section = Section("cocktail", "1. The cocktail effect",
                      "Does training on a cocktail of tasks beat training on the target task alone, on held-out "
                      "test data, by how much, and how sure are we?")
    if study.selection is None:
        section.missing = (f"no selection yet: `cocktail sweep finalize {study.exp}` selects on validation, replicates "
                           f"over seeds and scores the test split once")
        return section
    selection = study.selection["selection"]
    for model, by_task in selection.items():
        rows, figure_rows = [], []
        comparisons: dict[str, list[tuple[str, Comparison]]] = {"best_multi": [], "all_sources": []}
        for task, roles in by_task.items():
            metric = _metric(task, study.profile)
            est = {}
            for role in ROLES:
                runs = selected_runs(study, model, roles[role])
                est[role], used = _estimate(study, ctx, runs, task, "test")
                if est[role] is not None:
                    ctx.record(f"test/{model}/{task}/{role}", dataclasses.asdict(est[role]), "test", used, study,
                               [task])
                    figure_rows.append((task, role, est[role]))
            cells = {}
            for role in ("best_multi", "all_sources"):
                comp, used = _compare(study, ctx, selected_runs(study, model, roles[role]),
                                      selected_runs(study, model, roles["alone"]), task, "test")
                cells[role] = comp
                if comp is not None:
                    comparisons[role].append((task, comp))
                    ctx.record(f"test/{model}/{task}/{role}-alone", dataclasses.asdict(comp), "test", used, study,
                               [task])
            rows.append([task, metric, *(fmt_ci(est[r]) for r in ROLES), cells["best_multi"], cells["all_sources"],
                         max((len(e.per_seed) for e in est.values() if e), default=0),
                         max((e.n_examples for e in est.values() if e), default=0)])
        adjusted = {role: dict(zip([t for t, _ in comps], holm([c.p for _, c in comps]) if comps else []))
                    for role, comps in comparisons.items()}
        table_rows = []
        for task, metric, *cols, multi, everything, seeds, n in rows:
            retested = any(e.get("retest") for e in study.ledger if e["task"] == task)
            table_rows.append([task, metric, *cols,
                               fmt_ci(multi, True), fmt_p(multi.p if multi else None),
                               fmt_p(adjusted["best_multi"].get(task)), _mcnemar(multi),
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
        short = model.rsplit("/", 1)[-1]
        section.tables.append(Table(
            f"cocktail_effect_{_slug(short)}", f"{short}: test scores of the configurations selected on validation",
            ["task", "metric", *(f"{ROLE_TITLES[r]} (mean [95% CI])" for r in ROLES), "best multi − alone",
             "p", "p Holm (best multi)", "McNemar p per seed", "all sources − alone", "p Holm (all sources)", "seeds",
             "test examples", "retested"], table_rows,
            "Means over seeds; intervals add the spread between seeds (t) to a paired bootstrap over the test "
            "examples; p-values from the same; Holm across tasks within each comparison. McNemar: exact, per seed "
            "pair, for accuracy metrics. One seed: the interval covers test-example noise only."))
        section.figures.append(_role_bars(short, figure_rows))
    if not any(t.rows for t in section.tables):
        section.missing = "finalize has not scored the test split yet (or every selected run failed)"
    return section


def _mcnemar(comp: Comparison | None) -> str:
    return ", ".join(fmt_p(p) for p in comp.mcnemar) if comp is not None and comp.mcnemar else "-"


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text).strip("_").lower()


def _role_bars(model: str, rows):
    import plotly.graph_objects as go

    fig = go.Figure()
    for role in ROLES:
        picked = [(t, e) for t, r, e in rows if r == role]
        if picked:
            fig.add_bar(name=ROLE_TITLES[role], x=[t for t, _ in picked], y=[e.mean for _, e in picked],
                        error_y={"type": "data", "symmetric": False, "array": [e.hi - e.mean for _, e in picked],
                                 "arrayminus": [e.mean - e.lo for _, e in picked]})
    fig.update_layout(title=f"{model}: test score by selected configuration (95% CI)", barmode="group",
                      yaxis_title="headline metric", height=420)
    return fig


# ---------------------------------------------------------------------------------------------------------------
# 2-3. Which tasks help which: pair gains and leave-one-out (validation, over the design's runs)

def _matched(study: Study, model: str, sources: set[str], like: list[dict[str, Any]] | None):
    """The configuration with exactly these sources, preferring the one whose parameters equal ``like``'s."""
    candidates = study.with_sources(model, sources)
    if not candidates:
        return None
    if like:
        params = {k: v for k, v in like[0].items() if k.startswith("param_")}
        same = [c for c in candidates if {k: v for k, v in c[0].items() if k.startswith("param_")} == params]
        candidates = same or candidates
    return max(candidates, key=lambda runs: (len(runs), runs[0]["point_key"]))


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
        singles = {t: _matched(study, model, {t}, None) for t in targets}
        cells_g = {}
        for i in targets:
            if singles[i] is None:
                continue
            for j in pool:
                if j != i:
                    pair = _matched(study, model, {i, j}, singles[i])
                    if pair is not None:
                        cells_g[i, j] = _compare(study, ctx, pair, singles[i], i, "validation")
        everything = _matched(study, model, set(pool), None)
        cells_l = {}
        if everything is not None:
            for i in targets:
                for j in pool:
                    if j != i:
                        without = _matched(study, model, set(pool) - {j}, everything)
                        if without is not None:
                            cells_l[i, j] = _compare(study, ctx, everything, without, i, "validation")
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
    section.tables.append(Table(f"{name}_{_slug(short)}", f"{short}: {label}[i, j] (validation)",
                                ["target i", "source j", "difference", "95% lo", "95% hi", "p", "p (Holm)",
                                 "significant", "seed pairs", "provenance"], rows,
                                f"Holm across the {len(keys)} cells of the matrix; * marks cells significant "
                                f"after it."))
    section.figures.append(_heatmap(f"{short}: {label}[i, j] (validation; * = Holm-significant)", z, text, targets,
                                    pool))


def _heatmap(title: str, z, text, rows, cols):
    import plotly.graph_objects as go

    finite = [abs(v) for row in z for v in row if v is not None]
    bound = max(finite) if finite else 1.0
    fig = go.Figure(go.Heatmap(z=z, x=cols, y=rows, text=text, texttemplate="%{text}", colorscale="RdBu",
                               zmid=0, zmin=-bound, zmax=bound, hoverongaps=False,
                               colorbar={"title": "difference"}))
    fig.update_layout(title=title, xaxis_title="source j", yaxis_title="target i", height=160 + 60 * len(rows),
                      yaxis={"autorange": "reversed"})
    return fig


# ---------------------------------------------------------------------------------------------------------------
# 4-5. What an added source does: general instructions (regulariser?) and math (numeric reasoning?)

def added_source(study: Study, ctx: Context, source: str, key: str, title: str, question: str) -> Section:
    section = Section(key, title, question)
    if source not in study.sweep.pool:
        section.missing = f"{source} is not in the sweep's pool"
        return section
    targets = [t for t in study.sweep.objective_tasks() if t in study.sweep.pool]
    for model in study.models():
        short = model.rsplit("/", 1)[-1]
        rows, deltas = [], {t: [] for t in targets}
        loss_deltas = []
        for runs in study.configs(model).values():
            sources = set(active_tasks(runs[0]))
            if source in sources:
                continue
            plus = _matched(study, model, sources | {source}, runs)
            if plus is None:
                continue
            loss = (mean_of(r.get(f"val_loss_{source}") for r in plus),
                    mean_of(r.get(f"val_loss_{source}") for r in runs))
            d_ppl = math.exp(loss[0]) - math.exp(loss[1]) if None not in loss else None
            if d_ppl is not None:
                loss_deltas.append(d_ppl)
            for task in sorted(sources & set(targets)):
                comp, used = _compare(study, ctx, plus, runs, task, "validation")
                if comp is None:
                    continue
                deltas[task].append(comp.diff)
                ident = ctx.record(f"validation/{model}/{key}/{'+'.join(sorted(sources))}/{task}",
                                   dataclasses.asdict(comp), "validation", used, study)
                rows.append(["+".join(sorted(sources)), task, fmt(comp.diff), fmt(comp.lo), fmt(comp.hi),
                             fmt_p(comp.p), fmt(d_ppl, 2), ident])
        if not rows:
            continue
        summary = [[task, len(v), *_t_summary(v)] for task, v in deltas.items() if v]
        if loss_deltas:
            summary.append([f"{source} perplexity" + (" (general ability)" if source == "openorca" else ""),
                            len(loss_deltas), *_t_summary(loss_deltas)])
        section.tables.append(Table(f"{key}_{_slug(short)}", f"{short}: S + {source} − S, matched mixtures",
                                    ["mixture S", "task", "difference", "95% lo", "95% hi", "p",
                                     f"Δ {source} perplexity", "provenance"], rows))
        section.tables.append(Table(f"{key}_summary_{_slug(short)}", f"{short}: mean effect of adding {source}",
                                    ["measure", "matched pairs", "mean", "95% lo", "95% hi"], summary,
                                    "t interval across matched mixtures (each mixture one unit)."))
        for task, n, mean, lo, hi in summary:
            if n > 1 and lo != "-" and (float(lo) > 0 or float(hi) < 0):
                direction = "raises" if float(mean) > 0 else "lowers"
                section.findings.append(f"{short}: adding {source} {direction} {task} by {mean} on average "
                                        f"(95% CI [{lo}, {hi}], {n} matched mixtures)")
    if not section.tables:
        section.missing = f"no pair of mixtures S and S + {source} with the same parameters in the design"
    return section


def _t_summary(values: list[float]) -> list[str]:
    from scipy import stats as st

    mean = float(np.mean(values))
    if len(values) < 2:
        return [fmt(mean), "-", "-"]
    half = st.t.ppf(0.975, len(values) - 1) * st.sem(values)
    return [fmt(mean), fmt(mean - half), fmt(mean + half)]


def math_split(section: Section) -> Section:
    """Numeric tasks (FinQA, ConvFinQA) apart from the rest, as the study asks."""
    for table in section.tables:
        if "_summary_" in table.name:
            table.rows = sorted(table.rows, key=lambda r: (r[0] not in NUMERIC_TASKS, r[0]))
            table.note += " Numeric tasks first (FinQA, ConvFinQA), then the others."
    return section


# ---------------------------------------------------------------------------------------------------------------
# 6. Domain knowledge; 7. validation -> test; 8. the search; 9. published references

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
            est, used = _estimate(study, ctx, selected_runs(study, model, roles[role]), "finance_mc", "test")
            if est is not None:
                ctx.record(f"test/{model}/finance_mc/{role}", dataclasses.asdict(est), "test", used, study,
                           ["finance_mc"])
            rows.append([ROLE_TITLES[role], fmt_ci(est)])
        section.tables.append(Table(f"knowledge_{_slug(model)}", f"{model}: finance_mc accuracy (test)",
                                    ["configuration", "accuracy [95% CI]"], rows))
    return section


def validation_to_test(study: Study, ctx: Context) -> Section:
    from scipy import stats as st

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
                est, _ = _estimate(study, ctx, runs, task, "test")
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
    import plotly.graph_objects as go

    fig = go.Figure()
    for task in sorted({t for t, *_ in points}):
        mine = [pt for pt in points if pt[0] == task]
        fig.add_scatter(x=[v for *_, v, _ in mine], y=[t for *_, t in mine], mode="markers", name=task,
                        text=[ROLE_TITLES[r] for _, r, *_ in mine])
    lo = min(min(v, t) for *_, v, t in points)
    hi = max(max(v, t) for *_, v, t in points)
    fig.add_scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="y = x", line={"dash": "dot", "color": "gray"})
    fig.update_layout(title=f"validation vs test (Spearman ρ = {rho:.2f})", xaxis_title="validation",
                      yaxis_title="test", height=420)
    section.figures.append(fig)
    return section


def search(study: Study) -> Section:
    section = Section("search", "8. The search", "How did the Optuna search proceed, and what mattered?")
    from sweeps.driver import optuna_url, saved_sweep

    sweep, exp = study.sweep, study.exp
    if sweep.search.optuna is None and sweep.proposed_from:
        # The proposals' sweep (stage 3 of a two-stage search) shows the search its surrogate learnt from.
        try:
            sweep, exp = saved_sweep(sweep.proposed_from), sweep.proposed_from
        except ConfigError as e:
            section.missing = f"the sweep the proposals came from cannot be read: {e}"
            return section
    if sweep.search.optuna is None:
        section.missing = "a grid sweep: there is no search to show"
        return section
    if exp != study.exp:
        section.findings.append(f"the search of {sweep.name} ({exp}), whose trials the surrogate of section 11 "
                                f"was fitted on")
    import optuna
    from optuna import visualization as vis

    url = optuna_url(sweep, exp)
    try:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        trial_study = optuna.load_study(study_name=sweep.name, storage=url) if url else None
    except (KeyError, ValueError) as e:
        trial_study = None
        section.missing = f"the Optuna study cannot be read ({e})"
    if trial_study is None:
        section.missing = section.missing or "the Optuna study lives in Tune's searcher state (object storage)"
        return section
    complete = [t for t in trial_study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if len(complete) < 2:
        section.missing = f"{len(complete)} completed Optuna trial(s): too few to plot"
        return section
    if len(sweep.objective.metrics) > 1:
        section.figures.append(vis.plot_pareto_front(trial_study))
    else:
        section.figures.append(vis.plot_optimization_history(trial_study))
        try:
            section.figures.append(vis.plot_param_importances(trial_study))
        except (ValueError, RuntimeError) as e:  # e.g. every trial sampled the same value
            section.findings.append(f"parameter importances not computed: {e}")
        weights = [p for p in trial_study.best_trial.params if p.startswith("w_")]
        section.figures.append(vis.plot_parallel_coordinate(trial_study, params=weights or None))
    if len(sweep.objective.metrics) == 1:
        section.findings.append(f"{len(complete)} completed Optuna trials; best objective "
                                f"{fmt(trial_study.best_value)} (trial {trial_study.best_trial.number})")
    return section


def external_references(study: Study, ctx: Context) -> Section:
    section = Section("references", "9. External references",
                      "Published numbers the study compares with — not measurements of ours.")
    ours = dataclasses.replace(study, profile=references.PROFILE, _outcomes={})
    rows = []
    for model, by_task in ((study.selection or {}).get("selection") or {}).items():
        for task, published in references.GPT4O.items():
            roles = by_task.get(task)
            est = None
            if roles:
                est, used = _estimate(ours, ctx, selected_runs(study, model, roles["best_multi"]), task, "test")
                if est is not None:
                    ctx.record(f"test/{model}/{task}/best_multi@{references.PROFILE}", dataclasses.asdict(est), "test",
                               used, study, [task])
            rows.append([task, _metric(task, references.PROFILE), fmt_ci(est) if est else "not in this study",
                         f"{published:.1f}"])
        section.tables.append(Table(f"references_{_slug(model)}", f"{model.rsplit('/', 1)[-1]}: best multi-task "
                                    f"(test, {references.PROFILE} profile) beside published GPT-4o",
                                    ["task", "metric", f"ours (best multi-task, {references.PROFILE}; 0-1)",
                                     "published GPT-4o (0-100, not ours)"], rows,
                                    f"Source: {references.SOURCE}. Ours are read by the {references.PROFILE} profile "
                                    f"(FinBen's rule), the convention these benchmarks are published under; the "
                                    f"source does not name its parser."))
    if not rows:
        section.tables.append(Table("references", "published GPT-4o", ["task", "published GPT-4o (not ours)"],
                                    [[t, f"{v:.1f}"] for t, v in references.GPT4O.items()],
                                    f"Source: {references.SOURCE}. Finalize the sweep to put ours beside them."))
    return section


def all_sections(study: Study, ctx: Context) -> list[Section]:
    from sweeps.report.compute import compute_calibration
    from sweeps.report.proposals import surrogate_section

    return [cocktail_effect(study, ctx), *transfer_matrices(study, ctx),
                added_source(study, ctx, "openorca", "general", "4. General instruction data",
                             "Is general instruction data (OpenOrca) a regulariser: what happens to general ability "
                             "(OpenOrca perplexity) and to financial scores when it joins a mixture?"),
                math_split(added_source(study, ctx, "orca_math", "math", "5. Math data",
                                        "Does math data (Orca-Math) improve numerical reasoning (FinQA, ConvFinQA) and "
                                        "transfer to financial QA?")),
                domain_knowledge(study, ctx), validation_to_test(study, ctx), search(study),
                external_references(study, ctx), compute_calibration(study), surrogate_section(study)]
