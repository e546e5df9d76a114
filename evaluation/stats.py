"""Statistics over per-example outcomes: metric values under bootstrap resampling, means over seeds and paired
differences with confidence intervals and p-values, exact McNemar. numpy (vectorised, seeded) for resampling,
scipy for distributions.

The quantity a study reports is a configuration's expected score over training seeds on the task's test
distribution. Two sources of noise move a measured score from it: the seed (checked by training again) and the
finite test set (checked by resampling examples). ``estimate`` and ``compare`` add both: the variance of the
seed-mean from the spread between seeds plus the variance of the seed-mean when the test examples are resampled
with replacement, all seeds and both configurations on the same resampled examples (a paired bootstrap).
Degrees of freedom: Welch–Satterthwaite, the bootstrap term counted with ``n_examples - 1``.

A configuration's score is bounded by 0 and 1: its interval is built on the logit scale (seeds' logits, the
logit of the resampled seed-means) and mapped back, so it never leaves the metric's range and is not pulled
symmetric near 1. The seed variance may come from elsewhere (``seed_variance.shared``: pooled across a
model × task's configurations, or a floor where they disagree); with fewer seeds than ``min_seeds`` no interval
is given. A difference with one seed on each side and no borrowed seed variance carries example noise only: its
interval and p say nothing about seeds, and it is marked so (``Comparison.example_only``).
``tests/test_statistics.py`` and ``benchmarks/bench_stats.py`` measure coverage and false positives by simulation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy import stats as st

from evaluation.profiles import Outcomes
from evaluation.seed_variance import SeedVariance, for_one, own, within

LEVEL = 0.95


def resample_weights(n: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``resamples`` × ``n`` bootstrap weights: how many times each example is drawn, with replacement, in each
    replicate (each row sums to ``n``). One matrix serves every run scored on the same examples, so resampled
    metrics are paired, and a run's replicates cost one sparse product instead of a gather per replicate."""
    draws = rng.integers(0, n, size=(resamples, n)) + (np.arange(resamples) * n)[:, None]
    return np.bincount(draws.ravel(), minlength=resamples * n).reshape(resamples, n).astype(np.float32)


def metric_value(out: Outcomes, weights: np.ndarray | None = None) -> np.ndarray | float:
    """The headline metric of ``out``; with ``weights`` (B × n), its value on each replicate (length B)."""
    n = len(out.gold)
    w = np.ones((1, n), np.float64) if weights is None else weights  # one value: float64 (resamples: float32)
    if out.kind == "accuracy":
        values = w @ out.correct.astype(np.float32) / n
    else:
        groups = int(out.group.max()) + 1 if out.kind == "avg_f1" and n else 1
        group = out.group if out.kind == "avg_f1" else np.zeros(n, np.int64)
        k = out.n_labels
        conf = _confusion(w, out.gold, out.pred, group, groups, k)
        if out.kind == "avg_f1":
            values = _grouped_weighted_f1(conf)
        elif out.kind == "f1_weighted":
            values = _weighted_f1(conf[:, 0])
        else:
            values = _binary_f1(conf[:, 0], 0)
    return float(values[0]) if weights is None else values.astype(float)


def _confusion(w: np.ndarray, gold, pred, group, groups: int, k: int) -> np.ndarray:
    """Weighted counts per replicate, group, gold label and predicted label (column k = missing):
    B × G × K × (K+1), as weights × a sparse one-hot of each example's cell."""
    cells = (group * k + gold) * (k + 1) + pred
    onehot = sparse.csr_matrix((np.ones(len(cells), np.float32), (np.arange(len(cells)), cells)),
                               shape=(len(cells), groups * k * (k + 1)))
    return np.asarray((onehot.T @ w.T).T).reshape(w.shape[0], groups, k, k + 1)


def _per_label_f1(conf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """F1 and support per label from ``... × K × (K+1)`` confusion counts (sklearn's zero_division=0)."""
    k = conf.shape[-2]
    tp = conf[..., np.arange(k), np.arange(k)].astype(float)
    support = conf.sum(-1).astype(float)
    predicted = conf[..., :k].sum(-2).astype(float)
    denominator = support + predicted  # 2TP / (support + predicted) == harmonic mean of precision and recall
    f1 = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
    return f1, support


def _weighted_f1(conf: np.ndarray) -> np.ndarray:
    f1, support = _per_label_f1(conf)
    total = support.sum(-1)
    return np.divide((f1 * support).sum(-1), total, out=np.zeros_like(total), where=total > 0)


def _binary_f1(conf: np.ndarray, positive: int) -> np.ndarray:
    f1, _ = _per_label_f1(conf)
    return f1[..., positive]


def _grouped_weighted_f1(conf: np.ndarray) -> np.ndarray:
    """FinBen's avg-F1: weighted F1 within each group present, averaged over the groups."""
    per_group = _weighted_f1(conf)  # B × G
    present = conf.sum((-1, -2)) > 0
    return np.where(present, per_group, 0).sum(-1) / np.maximum(present.sum(-1), 1)


@dataclass(frozen=True)
class Estimate:
    """A configuration's score: the mean over seeds, its interval (NaN where none can be given: ``note`` says
    why), each seed's value and their spread."""
    mean: float
    lo: float
    hi: float
    se: float  # on the logit scale
    df: float
    per_seed: tuple[float, ...]
    n_examples: int
    seed_sd: float  # of the seeds' values (NaN with one seed)
    seed_variance: str = ""  # where the seed variance came from: own, pooled, floor, or "" (no interval)
    note: str = ""

    @property
    def has_interval(self) -> bool:
        return not math.isnan(self.lo)


@dataclass(frozen=True)
class Comparison:
    """A minus B on the same examples: the difference of the seed-means, its interval and p-value; the
    differences of the seeds paired in order (shown in tables) and exact McNemar p-values per pair where the metric
    is an accuracy."""
    diff: float
    lo: float
    hi: float
    p: float
    se: float
    df: float
    per_seed: tuple[float, ...]
    mcnemar: tuple[float, ...]
    unpaired: int = 0  # seeds of the larger side with no partner of the same rank (they count in the mean)
    seed_sd: float = math.nan  # of the per-pair differences
    seed_variance: str = ""  # own, pooled, floor, or "" (example noise only)
    seed_df: float = math.nan  # the seed variance's degrees of freedom

    @property
    def example_only(self) -> bool:
        """One seed each and no seed variance from elsewhere: the interval and p cover example noise only."""
        return not self.seed_variance


def _replicates(runs: list[Outcomes], weights: np.ndarray, cache: dict | None) -> np.ndarray:
    """Each run's metric on each replicate (seeds × B). ``cache`` (keyed by object identity: the caller keeps the
    outcomes and weights alive) spares recomputing a run that takes part in several comparisons."""
    values = []
    for run in runs:
        key = (id(run), id(weights))
        if cache is None or key not in cache:
            value = metric_value(run, weights)
            if cache is None:
                values.append(value)
                continue
            cache[key] = value
        values.append(cache[key])
    return np.asarray(values, np.float64)


def _own_example_noise(replicates: np.ndarray) -> float:
    """The part of one run's resampled variance that is its own (which examples this run happens to get right),
    not shared with the other seeds of its configuration; 0 where one seed cannot tell the two apart."""
    seeds = len(replicates)
    if seeds < 2:
        return 0.0
    each = float(replicates.var(axis=1, ddof=1).mean())
    mean_var = float(replicates.mean(axis=0).var(ddof=1))
    return max((each - mean_var) * seeds / (seeds - 1), 0.0)


def _example_variance(sides: list[tuple[np.ndarray, int]], seeded: list[np.ndarray]) -> float:
    """The variance the test set adds to a seed-mean (or a difference of two): the resampled variance, less the
    own example noise of the ``seeded`` sides' runs, which their seed term already holds (the seeds' spread
    includes it)."""
    total = sum(sign * r.mean(axis=0) for r, sign in sides)
    var = float(np.var(total, ddof=1)) - sum(_own_example_noise(r) / len(r) for r in seeded)
    return max(var, 0.0)


def _combine(seed: SeedVariance | None, scale: float, example_var: float, n_examples: int) -> tuple[float, float]:
    """Standard error (seed variance × ``scale`` + the example term) and its Satterthwaite df. ``scale``: 1/S for
    a seed-mean, 1/S_a + 1/S_b for a difference of two."""
    seed_var = seed.var * scale if seed is not None else 0.0
    total = seed_var + example_var
    if total <= 0:
        return 0.0, math.inf
    df_terms = (seed_var**2 / seed.df if seed is not None and seed.df > 0 and not math.isinf(seed.df) else 0.0) \
        + example_var**2 / max(n_examples - 1, 1)
    return float(np.sqrt(total)), float(total**2 / df_terms) if df_terms > 0 else math.inf


def _interval(center: float, se: float, df: float, level: float) -> tuple[float, float]:
    half = st.t.ppf(0.5 + level / 2, df) * se if se > 0 else 0.0
    return center - half, center + half


def _check_same_examples(runs: list[Outcomes]) -> int:
    sizes = {len(r.gold) for r in runs}
    if len(sizes) != 1:
        raise ValueError(f"runs scored on different numbers of examples: {sorted(sizes)}")
    return sizes.pop()


def logit(x, n_examples: int) -> np.ndarray:
    """The logit of scores in [0, 1], kept finite half an example away from the ends."""
    eps = 0.5 / max(n_examples, 1)
    x = np.clip(np.asarray(x, np.float64), eps, 1 - eps)
    return np.log(x / (1 - x))


def expit(z):
    return 1 / (1 + np.exp(-np.asarray(z, np.float64)))


def seed_logits(runs: list[Outcomes]) -> np.ndarray:
    """Each seed's value on the logit scale: what ``seed_variance.shared`` pools for estimates and comparisons."""
    n = _check_same_examples(runs)
    return logit([metric_value(r) for r in runs], n)


def estimate(runs: list[Outcomes], weights: np.ndarray, level: float = LEVEL, cache: dict | None = None,
             seed_variance: SeedVariance | None = None, min_seeds: int = 3) -> Estimate:
    """Mean over seeds (one ``Outcomes`` per seed, same examples) with its interval on the logit scale.
    ``seed_variance``: of the seeds' logits, the family's (``seed_variance.for_one`` with the seeds' own)."""
    n = _check_same_examples(runs)
    per_seed = np.array([metric_value(r) for r in runs], np.float64)
    mean = float(per_seed.mean())
    seed_sd = float(per_seed.std(ddof=1)) if len(runs) > 1 else math.nan
    if len(runs) < min_seeds:
        return Estimate(mean, math.nan, math.nan, math.nan, math.nan, tuple(per_seed.tolist()), n, seed_sd,
                        note=f"{len(runs)} seed(s): too few seeds for an interval (needs {min_seeds})")
    seed = for_one(seed_variance, own(logit(per_seed, n)))
    replicates = logit(_replicates(runs, weights, cache), n)
    se, df = _combine(seed, 1 / len(runs), _example_variance([(replicates, 1)], [replicates] if seed else []), n)
    lo, hi = _interval(float(logit(mean, n)), se, df, level)
    # At the metric's ends the logit is taken half an example inside them: the end itself stays in the interval.
    lo, hi = min(float(expit(lo)), mean), max(float(expit(hi)), mean)
    return Estimate(mean, lo, hi, se, df, tuple(per_seed.tolist()), n, seed_sd,
                    seed.source if seed is not None else "")


def pair_differences(a: list[Outcomes], b: list[Outcomes]) -> np.ndarray:
    """A − B per seed pair (seeds paired in order, as far as both go): what the tables show of each seed."""
    return np.array([metric_value(x) - metric_value(y) for x, y in zip(a, b)], np.float64)


def compare(a: list[Outcomes], b: list[Outcomes], weights: np.ndarray, level: float = LEVEL,
            cache: dict | None = None, seed_variance: SeedVariance | None = None, b_fixed: bool = False
            ) -> Comparison:
    """A − B, every run of each on the same examples; all seeds of both count (their runs are distinct).
    ``seed_variance``: of one run's logit, the family's (``seed_variance.for_one`` with A's and B's own seeds
    pooled). It is carried to each side's scale by the delta method (a score near 1 varies
    less than one near 0.5 for the same logit spread). Without one (one seed each), example noise only.
    ``b_fixed``: B is one fixed model (an untuned base model): it has no seed variance."""
    n = _check_same_examples([*a, *b])
    values_a, values_b = np.array([metric_value(r) for r in a]), np.array([metric_value(r) for r in b])
    seeded = [values_a] if b_fixed else [values_a, values_b]
    seed = for_one(seed_variance, within([logit(v, n) for v in seeded]))
    # (d score / d logit)² at both sides' mean: one side's own mean, at one seed, would shrink its variance
    # exactly when its value is extreme (tails 1.5 times too heavy at one seed a side).
    common = _slope(np.concatenate(seeded).mean(), n) ** 2
    slope = [common / len(v) for v in seeded]
    rep_a, rep_b = _replicates(a, weights, cache), _replicates(b, weights, cache)
    own_noise = ([rep_a] if b_fixed else [rep_a, rep_b]) if seed is not None else []
    se, df = _combine(seed, sum(slope), _example_variance([(rep_a, 1), (rep_b, -1)], own_noise), n)
    diff = float(values_a.mean() - values_b.mean())
    lo, hi = _interval(diff, se, df, level)
    p = float(2 * st.t.sf(abs(diff) / se, df)) if se > 0 else (1.0 if diff == 0 else 0.0)
    pairs = pair_differences(a, b)
    mcnemar = tuple(mcnemar_exact(x.correct, y.correct) for x, y in zip(a, b)) if a[0].kind == "accuracy" else ()
    return Comparison(diff, lo, hi, p, se, df, tuple(pairs.tolist()), mcnemar, abs(len(a) - len(b)),
                      float(pairs.std(ddof=1)) if len(pairs) > 1 else math.nan, seed.source if seed is not None else "",
                      seed.df if seed is not None else math.nan)


def _slope(mean: float, n_examples: int) -> float:
    """d score / d logit at a score: p (1 − p), kept off 0 as ``logit`` keeps the score off the ends."""
    m = float(np.clip(mean, 0.5 / n_examples, 1 - 0.5 / n_examples))
    return m * (1 - m)


def mcnemar_exact(correct_a, correct_b) -> float:
    """Exact (binomial) McNemar test on paired right / wrong outcomes: two-sided p."""
    a, b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    if only_a + only_b == 0:
        return 1.0
    return float(min(1.0, 2 * st.binom.cdf(min(only_a, only_b), only_a + only_b, 0.5)))


def percentile_interval(out: Outcomes, weights: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """One run's metric, percentile bootstrap interval over its examples (the within-seed interval)."""
    values = metric_value(out, weights)
    return float(np.quantile(values, 0.5 - level / 2)), float(np.quantile(values, 0.5 + level / 2))
