"""The statistics behind every section, over a ``Study``: estimates and paired comparisons on shared bootstrap
weights, the runs of a configuration, matched configurations, and the provenance of every number."""
from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats as st

from evaluation.harness import headline_metric
from evaluation.seed_variance import SeedVariance, shared
from evaluation.stats import Comparison, Estimate, compare, estimate, resample_weights, seed_logits
from ftlib.core.hashing import canonical_hash
from sweeps.report.document import fmt, fmt_p
from sweeps.report.study import Study
from sweeps.selection import mean_of

ALPHA = 0.05


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


def outcomes_of(study: Study, runs: list[dict[str, Any]], task: str, split: str):
    """The runs that have outcomes for the task on the split, and those outcomes (seeds in order)."""
    pairs = [(r, study.outcomes(r["trial_id"], task, split)) for r in runs]
    pairs = [(r, o) for r, o in pairs if o is not None]
    return [r for r, _ in pairs], [o for _, o in pairs]


def family_variance(study: Study, family: list[list[dict[str, Any]]], task: str, split: str) -> SeedVariance | None:
    """The variance of the seeds' logits pooled over a family's configurations (lists of runs) on one task and
    split (a floor where their variances disagree); None where fewer than two configurations have two seeds."""
    groups = []
    for runs in family:
        _, outs = outcomes_of(study, runs, task, split)
        if outs:
            groups.append(seed_logits(outs))
    return shared(groups)


def estimate_of(study: Study, ctx: Context, runs, task: str, split: str,
                family: list[list[dict[str, Any]]] | None = None) -> tuple[Estimate | None, list]:
    """A configuration's estimate; ``family``: the configurations its seed variance is pooled over."""
    runs, outs = outcomes_of(study, runs, task, split)
    if not outs:
        return None, []
    variance = family_variance(study, family, task, split) if family else None
    return estimate(outs, ctx.weights(task, split, len(outs[0].gold)), cache=ctx.replicates,
                    seed_variance=variance), runs


def compare_of(study: Study, ctx: Context, a_runs, b_runs, task: str, split: str,
               family: list[list[dict[str, Any]]] | None = None):
    """A − B; ``family``: the configurations the seed variance is pooled over."""
    a_runs, a = outcomes_of(study, a_runs, task, split)
    b_runs, b = outcomes_of(study, b_runs, task, split)
    if not a or not b:
        return None, a_runs + b_runs
    variance = family_variance(study, family, task, split) if family else None
    return compare(a, b, ctx.weights(task, split, len(a[0].gold)), cache=ctx.replicates,
                   seed_variance=variance), a_runs + b_runs


def metric_name(task: str, profile: str) -> str:
    return headline_metric(task, profile).split("@")[0]


def selected_runs(study: Study, model: str, chosen: dict[str, Any]) -> list[dict[str, Any]]:
    """Every completed run of a selected configuration (its replicates over seeds)."""
    return study.configs(model).get(chosen.get("point_key", ""), [])


def matched(study: Study, model: str, sources: set[str], like: list[dict[str, Any]] | None):
    """The configuration with exactly these sources, preferring the one whose parameters equal ``like``'s, then the
    most seeds, then the fewest tokens (the design's own run, not a compute-matched control trained longer)."""
    candidates = study.with_sources(model, sources)
    if not candidates:
        return None
    if like:
        params = {k: v for k, v in like[0].items() if k.startswith("param_")}
        same = [c for c in candidates if {k: v for k, v in c[0].items() if k.startswith("param_")} == params]
        candidates = same or candidates
    return max(candidates, key=lambda runs: (len(runs), -(mean_of(r.get("tokens") for r in runs) or 0),
                                             runs[0]["point_key"]))


def t_summary(values: list[float]) -> list:
    """Mean, 95 % t interval and the one-sample t test's p (None with fewer than 2 values) across units."""
    mean = float(np.mean(values))
    if len(values) < 2 or np.std(values) == 0:
        return [fmt(mean), "-", "-", None]
    half = st.t.ppf(0.975, len(values) - 1) * st.sem(values)
    return [fmt(mean), fmt(mean - half), fmt(mean + half), float(st.ttest_1samp(values, 0.0).pvalue)]


def mcnemar_text(comp: Comparison | None) -> str:
    return ", ".join(fmt_p(p) for p in comp.mcnemar) if comp is not None and comp.mcnemar else "-"
