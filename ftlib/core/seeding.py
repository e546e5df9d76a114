"""Every random choice draws from a generator derived from the config's seed and a name."""
from __future__ import annotations

import zlib

import numpy as np


def rng_for(seed: int, *names: str) -> np.random.Generator:
    """Independent, reproducible streams: same (seed, names) -> same draws, on any machine."""
    return np.random.default_rng([int(seed), *(zlib.crc32(n.encode()) for n in names)])


# The study (Brief et al. 2024) shuffles each source's hub train split, and then the whole mixture, with
# `datasets.Dataset.shuffle(seed=42)`: numpy's default_rng(42).permutation over the rows.
STUDY_SEED = 42


def study_order(n: int, seed: int = STUDY_SEED) -> np.ndarray:
    """The row order ``Dataset.shuffle(seed=seed)`` gives a dataset of ``n`` rows."""
    return np.random.default_rng(seed).permutation(n)
