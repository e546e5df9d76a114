"""The seed variance behind an interval, from one configuration's few seeds or pooled across the configurations
of one model × task × split.

With 2 or 3 seeds a configuration's own variance has 1 or 2 degrees of freedom: seeds that agree by chance give
an interval far too narrow, and a t quantile at 1 df one far too wide. Where the configurations' variances are
homogeneous (Bartlett's test does not reject), every one gets the pooled within-configuration variance, on the
pooled degrees of freedom (the residual variance of a one-way model). Where they are not, each keeps its own,
but never less than the pooled one: the check fires exactly when some configuration's few seeds agree by chance,
and taking that variance as it is made every comparison with that configuration significant together (in null
pair-gain matrices at 3 seeds, 48 % of the targets where the check fired had a Bonferroni-significant cell, and
the family-wise rate doubled to 0.10-0.125).
The pooled variance is the df-weighted mean of the sample variances, unbiased whatever their distribution:
limma's log-scale moderation (Smyth 2004) was tried here first and ran ~25 % low on accuracy differences, whose
two-seed variances are often exactly zero (discrete scores), which its log moments cannot take.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import stats as st

HOMOGENEITY_ALPHA = 0.05


@dataclass(frozen=True)
class SeedVariance:
    """The variance of one seed's value (on the scale the caller works on) and its degrees of freedom."""
    var: float
    df: float
    # "own" (this configuration's seeds), "pooled" (across a homogeneous family) or "floor" (a heterogeneous
    # family's pooled variance: the least any configuration of it takes)
    source: str


def own(values: Sequence[float]) -> SeedVariance | None:
    values = np.asarray(values, np.float64)
    return SeedVariance(float(values.var(ddof=1)), len(values) - 1, "own") if len(values) > 1 else None


def within(groups: Sequence[Sequence[float]], source: str = "own") -> SeedVariance | None:
    """The within-group variance of the groups with replicates, on their summed degrees of freedom."""
    replicated = [np.asarray(g, np.float64) for g in groups if len(g) > 1]
    if not replicated:
        return None
    df = float(sum(len(g) - 1 for g in replicated))
    return SeedVariance(float(sum(((g - g.mean()) ** 2).sum() for g in replicated) / df), df, source)


def shared(groups: Sequence[Sequence[float]]) -> SeedVariance | None:
    """A family's seed variance: "pooled" where its configurations agree, else their pooled variance as a "floor";
    None where fewer than two configurations have replicates."""
    replicated = [np.asarray(g, np.float64) for g in groups if len(g) > 1]
    if len(replicated) < 2:
        return None
    return within(replicated, "pooled" if homogeneous(replicated) else "floor")


def for_one(family: SeedVariance | None, mine: SeedVariance | None) -> SeedVariance | None:
    """What one estimate or comparison uses: the family's pooled variance; under a floor its own, or the floor
    where its own is smaller; with no seeds of its own to check against a floor, none (example noise only)."""
    if family is None or family.source == "pooled":
        return family or mine
    if mine is None:
        return None
    return mine if mine.var > family.var else family


def homogeneous(groups: Sequence[np.ndarray]) -> bool:
    """Bartlett's test of equal variances does not reject. Groups whose values agree exactly (a discrete score's
    seeds can) have no log variance to test: the test runs on the others, and two or more groups are needed."""
    varying = [g for g in groups if g.var() > 0]
    return len(varying) < 2 or bool(st.bartlett(*varying).pvalue >= HOMOGENEITY_ALPHA)
