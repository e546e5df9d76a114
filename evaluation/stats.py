"""Statistics over per-example outcomes: metric values under bootstrap resampling, means over seeds and paired
differences with confidence intervals and p-values, exact McNemar, Holm's correction. numpy (vectorised,
seeded) for resampling, scipy for distributions.

The quantity a study reports is a configuration's expected score over training seeds on the task's test
distribution. Two sources of noise move a measured score from it: the seed (checked by training again) and the
finite test set (checked by resampling examples). ``estimate`` and ``compare`` add both: the variance of the
seed-mean from the spread between seeds (a t over seeds) plus the variance of the seed-mean when the test
examples are resampled with replacement, all seeds and both configurations on the same resampled examples (a
paired bootstrap). The example noise inside each seed's value is counted in both terms, so the interval errs on
the wide side; ``tests/test_statistics.py`` measures its coverage by simulation. Degrees of freedom:
Welch-Satterthwaite, the bootstrap term counted with ``n_examples - 1``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy import stats as st

from evaluation.profiles import Outcomes

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
    w = np.ones((1, n), np.float32) if weights is None else weights
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
    """A configuration's score: the mean over seeds with its interval, and each seed's value."""
    mean: float
    lo: float
    hi: float
    se: float
    df: float
    per_seed: tuple[float, ...]
    n_examples: int


@dataclass(frozen=True)
class Comparison:
    """A minus B on the same examples, seeds paired in order: the mean difference, its interval and p-value,
    and exact McNemar p-values per seed pair where the metric is an accuracy."""
    diff: float
    lo: float
    hi: float
    p: float
    se: float
    df: float
    per_seed: tuple[float, ...]
    mcnemar: tuple[float, ...]


def _seed_mean_replicates(runs: list[Outcomes], weights: np.ndarray, cache: dict | None) -> np.ndarray:
    """Mean over seeds of each replicate. ``cache`` (keyed by object identity: the caller keeps the outcomes and
    weights alive) spares recomputing a run that takes part in several comparisons."""
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
    return np.mean(values, axis=0)


def _combine(per_seed: np.ndarray, replicates: np.ndarray, n_examples: int) -> tuple[float, float]:
    """Standard error of the seed-mean (seed spread + example bootstrap) and its Satterthwaite df."""
    s = len(per_seed)
    seed_var = per_seed.var(ddof=1) / s if s > 1 else 0.0
    example_var = replicates.var(ddof=1)
    total = seed_var + example_var
    if total <= 0:
        return 0.0, float("inf")
    df_terms = (seed_var**2 / (s - 1) if s > 1 else 0.0) + example_var**2 / max(n_examples - 1, 1)
    return float(np.sqrt(total)), float(total**2 / df_terms) if df_terms > 0 else float("inf")


def _interval(center: float, se: float, df: float, level: float) -> tuple[float, float]:
    half = st.t.ppf(0.5 + level / 2, df) * se if se > 0 else 0.0
    return center - half, center + half


def _check_same_examples(runs: list[Outcomes]) -> int:
    sizes = {len(r.gold) for r in runs}
    if len(sizes) != 1:
        raise ValueError(f"runs scored on different numbers of examples: {sorted(sizes)}")
    return sizes.pop()


def estimate(runs: list[Outcomes], weights: np.ndarray, level: float = LEVEL, cache: dict | None = None) -> Estimate:
    """Mean over seeds (one ``Outcomes`` per seed, same examples) with its interval."""
    n = _check_same_examples(runs)
    per_seed = np.array([metric_value(r) for r in runs])
    se, df = _combine(per_seed, _seed_mean_replicates(runs, weights, cache), n)
    mean = float(per_seed.mean())
    lo, hi = _interval(mean, se, df, level)
    return Estimate(mean, lo, hi, se, df, tuple(per_seed.tolist()), n)


def compare(a: list[Outcomes], b: list[Outcomes], weights: np.ndarray, level: float = LEVEL,
            cache: dict | None = None) -> Comparison:
    """A − B, seeds paired in order (the first ``min(len(a), len(b))``), every seed on the same examples."""
    pairs = min(len(a), len(b))
    a, b = a[:pairs], b[:pairs]
    n = _check_same_examples([*a, *b])
    diffs = np.array([metric_value(x) - metric_value(y) for x, y in zip(a, b)])
    replicates = _seed_mean_replicates(a, weights, cache) - _seed_mean_replicates(b, weights, cache)
    se, df = _combine(diffs, replicates, n)
    diff = float(diffs.mean())
    lo, hi = _interval(diff, se, df, level)
    p = float(2 * st.t.sf(abs(diff) / se, df)) if se > 0 else (1.0 if diff == 0 else 0.0)
    mcnemar = tuple(mcnemar_exact(x.correct, y.correct) for x, y in zip(a, b)) if a[0].kind == "accuracy" else ()
    return Comparison(diff, lo, hi, p, se, df, tuple(diffs.tolist()), mcnemar)


def mcnemar_exact(correct_a, correct_b) -> float:
    """Exact (binomial) McNemar test on paired right / wrong outcomes: two-sided p."""
    a, b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    if only_a + only_b == 0:
        return 1.0
    return float(min(1.0, 2 * st.binom.cdf(min(only_a, only_b), only_a + only_b, 0.5)))


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error at the nominal level)."""
    p = np.asarray(pvalues, float)
    order = np.argsort(p)
    m = len(p)
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def percentile_interval(out: Outcomes, weights: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """One run's metric, percentile bootstrap interval over its examples (the within-seed interval)."""
    values = metric_value(out, weights)
    return float(np.quantile(values, 0.5 - level / 2)), float(np.quantile(values, 0.5 + level / 2))
