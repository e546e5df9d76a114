"""Statistics against scipy / statsmodels / sklearn on fixed inputs, and intervals checked by simulation
against a known truth (coverage, false-positive rate)."""
import numpy as np
import pytest
from scipy import stats as st
from sklearn.metrics import f1_score
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

from evaluation import metrics
from evaluation.profiles import Outcomes
from evaluation.stats import (compare, estimate, holm, mcnemar_exact, metric_value, percentile_interval,
                              resample_weights)


def labelled(kind, gold, pred, k, group=None):
    gold, pred = np.array(gold), np.array(pred)
    return Outcomes(kind, gold, pred, np.zeros_like(gold) if group is None else np.array(group), k)


def test_metric_values_match_sklearn_and_the_harness():
    rng = np.random.default_rng(0)
    gold = rng.integers(0, 3, 200)
    pred = np.where(rng.random(200) < 0.6, gold, rng.integers(0, 4, 200))  # 3 = missing
    out = labelled("f1_weighted", gold, pred, 3)
    assert metric_value(out) == pytest.approx(f1_score(gold, pred, labels=[0, 1, 2], average="weighted",
                                                       zero_division=0))
    binary = labelled("f1_binary", gold % 2, pred % 2, 2)
    assert metric_value(binary) == pytest.approx(f1_score(gold % 2, pred % 2, pos_label=0, average="binary"))
    group = rng.integers(0, 4, 200)
    grouped = labelled("avg_f1", gold % 2, np.minimum(pred, 2) % 3, 2, group)
    names = ["Yes", "No", None]
    expected = metrics.grouped_f1([names[g] for g in gold % 2], [names[p] for p in np.minimum(pred, 2) % 3],
                                  [str(g) for g in group], ("Yes", "No"))["avg_f1"]
    assert metric_value(grouped) == pytest.approx(expected)
    # Resampled values equal the metric recomputed on each resample.
    weights = resample_weights(200, 5, rng)
    for run in (out, binary, grouped, Outcomes.from_correct(gold == pred)):
        values = metric_value(run, weights)
        for b in range(5):
            idx = np.repeat(np.arange(200), weights[b].astype(int))
            sub = Outcomes(run.kind, run.gold[idx], run.pred[idx], run.group[idx], run.n_labels)
            assert values[b] == pytest.approx(metric_value(sub))


def test_percentile_interval_matches_scipy_bootstrap():
    rng = np.random.default_rng(1)
    correct = rng.random(300) < 0.7
    out = Outcomes.from_correct(correct)
    lo, hi = percentile_interval(out, resample_weights(300, 20000, rng))
    ref = st.bootstrap((correct.astype(float),), np.mean, n_resamples=20000, method="percentile",
                       random_state=np.random.default_rng(2)).confidence_interval
    assert lo == pytest.approx(ref.low, abs=0.006) and hi == pytest.approx(ref.high, abs=0.006)


def test_mcnemar_and_holm_match_statsmodels():
    rng = np.random.default_rng(3)
    for _ in range(20):
        a, b = rng.random(80) < rng.uniform(0.3, 0.9), rng.random(80) < rng.uniform(0.3, 0.9)
        table = [[int((a & b).sum()), int((a & ~b).sum())], [int((~a & b).sum()), int((~a & ~b).sum())]]
        assert mcnemar_exact(a, b) == pytest.approx(mcnemar(table, exact=True).pvalue)
    p = rng.random(12) ** 3
    assert holm(p) == pytest.approx(multipletests(p, method="holm")[1])


def test_seed_only_interval_is_the_t_interval_over_seeds():
    """Resamples that keep every example once carry no example noise: the interval is scipy's t over seeds."""
    seeds = [0.60, 0.66, 0.71]
    runs = [Outcomes.from_correct(np.arange(100) < round(100 * s)) for s in seeds]
    weights = np.ones((50, 100), np.float32)  # every example once in every replicate: no example variance
    est = estimate(runs, weights)
    lo, hi = st.t.interval(0.95, 2, loc=np.mean(seeds), scale=st.sem(seeds))
    assert est.mean == pytest.approx(np.mean(seeds)) and est.lo == pytest.approx(lo) and est.hi == pytest.approx(hi)


def _simulated_runs(rng, p, seeds, examples, seed_sd, difficulty):
    """Accuracy outcomes: example e is right with probability logistic(logit(p) + seed effect + difficulty_e)."""
    logit = np.log(p / (1 - p))
    return [Outcomes.from_correct(rng.random(examples) < 1 / (1 + np.exp(-(logit + rng.normal(0, seed_sd) +
                                                                             difficulty)))) for _ in range(seeds)]


def _truth(p, seed_sd, sd_difficulty, rng):
    """Expected accuracy over seeds and examples (Monte Carlo, large)."""
    logit = np.log(p / (1 - p))
    z = logit + rng.normal(0, seed_sd, 400_000) + rng.normal(0, sd_difficulty, 400_000)
    return float(np.mean(1 / (1 + np.exp(-z))))


@pytest.mark.parametrize("seeds", [2, 3])
def test_intervals_cover_the_truth_and_null_differences_are_rarely_significant(seeds):
    """200 simulated studies with fresh seeds and fresh test sets: the 95 % interval of a mean and of a
    difference covers the truth in >= 90 % of them; with no true difference, p < 0.05 in <= 8 %."""
    rng = np.random.default_rng(10 + seeds)
    seed_sd, sd_difficulty, examples = 0.15, 1.0, 300
    truth_a, truth_b = _truth(0.65, seed_sd, sd_difficulty, rng), _truth(0.72, seed_sd, sd_difficulty, rng)
    covered_mean = covered_diff = false_positive = 0
    studies = 200
    for _ in range(studies):
        difficulty = rng.normal(0, sd_difficulty, examples)  # a fresh test set, shared by every run
        a = _simulated_runs(rng, 0.65, seeds, examples, seed_sd, difficulty)
        b = _simulated_runs(rng, 0.72, seeds, examples, seed_sd, difficulty)
        null = _simulated_runs(rng, 0.65, seeds, examples, seed_sd, difficulty)
        weights = resample_weights(examples, 400, rng)
        est = estimate(a, weights)
        covered_mean += est.lo <= truth_a <= est.hi
        diff = compare(b, a, weights)
        covered_diff += diff.lo <= truth_b - truth_a <= diff.hi
        false_positive += compare(null, a, weights).p < 0.05
    assert covered_mean / studies >= 0.90 and covered_diff / studies >= 0.90, (covered_mean, covered_diff)
    assert false_positive / studies <= 0.08, false_positive
