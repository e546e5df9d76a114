"""Studies with a known truth, for checking the statistics where the designs really use them (1–5 seeds, scores
near 0.5 and near 1, small test sets). An example is right with probability ``expit(logit(p) + seed effect +
difficulty)``: the seed effect (SD on the logit scale) is drawn once per training run, the difficulty once per
example of a test set, shared by every run scored on it. The truth is the expected accuracy over seeds and
examples. ``tests/test_statistics.py`` runs small grids of these; ``benchmarks/bench_stats.py`` the full one."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from evaluation.multiplicity import benjamini_hochberg
from evaluation.profiles import Outcomes
from evaluation.seed_variance import shared
from evaluation.stats import compare, estimate, expit, resample_weights, seed_logits

DIFFICULTY_SD = 1.0


def truth(p: float, seed_sd: float, rng: np.random.Generator, draws: int = 400_000) -> float:
    """Expected accuracy over seeds and examples (Monte Carlo)."""
    z = math.log(p / (1 - p)) + rng.normal(0, seed_sd, draws) + rng.normal(0, DIFFICULTY_SD, draws)
    return float(expit(z).mean())


def runs(rng: np.random.Generator, p: float, seeds: int, difficulty: np.ndarray, seed_sd: float) -> list[Outcomes]:
    """One configuration's runs (fresh seeds) on one test set."""
    center = math.log(p / (1 - p))
    return [Outcomes.from_correct(rng.random(len(difficulty)) < expit(center + rng.normal(0, seed_sd) + difficulty))
            for _ in range(seeds)]


@dataclass
class Coverage:
    covered: float  # share of intervals given that hold the truth
    given: float  # share of studies that give an interval at all
    outside_range: int  # interval ends outside [0, 1]
    width: float  # mean width of the intervals given


def interval_coverage(rng: np.random.Generator, seeds: int, p: float, seed_sd: float, examples: int,
                      studies: int, configurations: int = 8, resamples: int = 300, min_seeds: int = 3) -> Coverage:
    """The interval of one configuration's score, its seed variance moderated across ``configurations`` of the same
    task (as the report's sections do), against the truth."""
    target = truth(p, seed_sd, rng)
    covered = given = outside = 0
    widths = []
    for _ in range(studies):
        difficulty = rng.normal(0, DIFFICULTY_SD, examples)
        configs = [runs(rng, p, seeds, difficulty, seed_sd) for _ in range(configurations)]
        variance = shared([seed_logits(c) for c in configs])
        est = estimate(configs[0], resample_weights(examples, resamples, rng), seed_variance=variance,
                       min_seeds=min_seeds)
        if not est.has_interval:
            continue
        given += 1
        covered += est.lo <= target <= est.hi
        outside += est.lo < 0 or est.hi > 1
        widths.append(est.hi - est.lo)
    return Coverage(covered / max(given, 1), given / studies, outside, float(np.mean(widths)) if widths else math.nan)


def null_matrix_false_positives(rng: np.random.Generator, seeds: int, p: float, seed_sd: float, examples: int,
                                studies: int, targets: int = 7, sources: int = 8, resamples: int = 300,
                                alpha: float = 0.05, replicated: int = 0, replicate_seeds: int = 3) -> float:
    """Share of null studies (no source changes any target) where some cell of a targets × sources pair-gain
    matrix comes out significant after Benjamini–Hochberg within the matrix: the report's rules (each target's
    seed variance pooled over the configurations scored on it, and over ``replicated`` configurations that
    finalize reran with ``replicate_seeds`` fresh seeds; a cell with one seed a side and nothing to pool is never
    significant)."""
    hits = 0
    for _ in range(studies):
        pvalues = []
        for _ in range(targets):
            difficulty = rng.normal(0, DIFFICULTY_SD, examples)
            weights = resample_weights(examples, resamples, rng)
            alone = runs(rng, p, seeds, difficulty, seed_sd)
            pairs = [runs(rng, p, seeds, difficulty, seed_sd) for _ in range(sources)]
            extra = [runs(rng, p, replicate_seeds, difficulty, seed_sd) for _ in range(replicated)]
            variance = shared([seed_logits(c) for c in [alone, *pairs, *extra]])
            comps = [compare(pair, alone, weights, seed_variance=variance) for pair in pairs]
            pvalues += [c.p for c in comps if not c.example_only]
        hits += bool(pvalues) and bool((benjamini_hochberg(pvalues) < alpha).any())
    return hits / studies
