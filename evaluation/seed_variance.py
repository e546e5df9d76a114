"""The seed variance behind an interval, from one configuration's few seeds or pooled across the configurations
of one model × task × split, where they agree.

With 2 or 3 seeds a configuration's own variance has 1 or 2 degrees of freedom: seeds that agree by chance give
an interval far too narrow, and a t quantile at 1 df one far too wide. Where the configurations' variances are
homogeneous (Bartlett's test does not reject), every one gets the pooled within-configuration variance, on the
pooled degrees of freedom (the residual variance of a one-way model); where they are not, each keeps its own.
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
    source: str  # "own" (this configuration's seeds) or "pooled" (across the configurations of one family)


def own(values: Sequence[float]) -> SeedVariance | None:
    values = np.asarray(values, np.float64)
    return SeedVariance(float(values.var(ddof=1)), len(values) - 1, "own") if len(values) > 1 else None


def pooled(groups: Sequence[Sequence[float]]) -> list[SeedVariance | None]:
    """Each group's seed variance: pooled over the groups with replicates when they are homogeneous, else its own.
    A group of one seed has none (its value carries example noise only)."""
    replicated = [np.asarray(g, np.float64) for g in groups if len(g) > 1]
    owns = [own(g) for g in groups]
    if len(replicated) < 2 or not homogeneous(replicated):
        return owns
    df = float(sum(len(g) - 1 for g in replicated))
    var = float(sum(((g - g.mean()) ** 2).sum() for g in replicated) / df)
    return [None if o is None else SeedVariance(var, df, "pooled") for o in owns]


def shared(groups: Sequence[Sequence[float]]) -> SeedVariance | None:
    """The pooled seed variance of these groups, for any configuration of their family (one of a single seed
    included); None where fewer than two groups have replicates or they disagree (each then keeps its own)."""
    found = [v for v in pooled(groups) if v is not None]
    return found[0] if found and found[0].source == "pooled" else None


def homogeneous(groups: Sequence[np.ndarray]) -> bool:
    """Bartlett's test of equal variances does not reject. Groups whose values agree exactly (a discrete score's
    seeds can) have no log variance to test: the test runs on the others, and two or more groups are needed."""
    varying = [g for g in groups if g.var() > 0]
    return len(varying) < 2 or bool(st.bartlett(*varying).pvalue >= HOMOGENEITY_ALPHA)
