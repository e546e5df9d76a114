"""Many tests at once, and tests of "no difference": Holm's family-wise correction, Benjamini–Hochberg's false
discovery rate, and the two one-sided tests (TOST) of equivalence within a margin."""
from __future__ import annotations

import numpy as np
from scipy import stats as st


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error at the nominal level)."""
    p = np.asarray(pvalues, float)
    order = np.argsort(p)
    m = len(p)
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def benjamini_hochberg(pvalues) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (false discovery rate; under the global null, the family-wise
    error too)."""
    p = np.asarray(pvalues, float)
    m = len(p)
    if m == 0:
        return p
    order = np.argsort(p)
    scaled = p[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def tost(diff: float, se: float, df: float, margin: float) -> float:
    """p of the two one-sided t tests that ``diff`` lies within ``(-margin, margin)``: small p says
    "equivalent within the margin"; a large one says nothing either way."""
    if se <= 0:
        return 0.0 if abs(diff) < margin else 1.0
    lower = st.t.sf((diff + margin) / se, df)  # H0: diff <= -margin
    upper = st.t.cdf((diff - margin) / se, df)  # H0: diff >= +margin
    return float(max(lower, upper))
