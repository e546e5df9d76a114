"""The first round of a mixture search: a space-filling design over the simplex's faces as well as its interior.

Flat random (or Sobol) mixtures almost never leave a task out, yet the best mixture often does: the study's grid
of singles and pairs finds sparse optima that random search misses. So the design holds every task alone, pairs
at equal shares (each task in about as many), sparse mixtures of three, and scrambled-Sobol points mapped to the
simplex (``-log u``, normalised: the flat Dirichlet) for the interior."""
from __future__ import annotations

import numpy as np
from scipy.stats import qmc

from ftlib.core.errors import ConfigError

MIN_POINTS = 4


def face_counts(n: int, k: int) -> tuple[int, int, int, int]:
    """How many singles, pairs, triples and interior points ``n`` points over ``k`` tasks hold: singles up to a
    third of the design, pairs a fifth, triples a sixth, the rest interior (at least a quarter)."""
    singles = min(k, n // 3)
    pairs = min(k * (k - 1) // 2, n // 5)
    triples = min(k * (k - 1) * (k - 2) // 6, n // 6) if k > 2 else 0
    return singles, pairs, triples, n - singles - pairs - triples


def face_design(n: int, k: int, seed: int) -> np.ndarray:
    """``n`` mixtures of ``k`` tasks (rows sum to 1): singles, pairs, triples, then the interior."""
    if n < MIN_POINTS or k < 2:
        raise ConfigError(f"a design of {n} mixture(s) over {k} task(s): expected at least {MIN_POINTS} mixtures "
                          f"of at least 2 tasks")
    rng = np.random.default_rng(seed)
    singles, pairs, triples, interior = face_counts(n, k)
    rows = [np.eye(k)[i] for i in rng.permutation(k)[:singles]]
    rows += [_on(k, s, np.full(2, 0.5)) for s in _balanced_subsets(k, 2, pairs, rng)]
    rows += [_on(k, s, rng.dirichlet(np.ones(3))) for s in _balanced_subsets(k, 3, triples, rng)]
    if interior:
        u = qmc.Sobol(k, scramble=True, seed=rng).random_base2(int(np.ceil(np.log2(interior))))[:interior]
        x = -np.log(np.clip(u, 1e-12, 1.0))
        rows += list(x / x.sum(axis=1, keepdims=True))
    return np.array(rows)


def _on(k: int, subset: tuple[int, ...], shares: np.ndarray) -> np.ndarray:
    w = np.zeros(k)
    w[list(subset)] = shares
    return w


def _balanced_subsets(k: int, size: int, count: int, rng: np.random.Generator) -> list[tuple[int, ...]]:
    """``count`` distinct subsets of ``size`` tasks, each task in about as many: the least used tasks first."""
    used, chosen = np.zeros(k), set()
    while len(chosen) < count:
        order = np.lexsort((rng.random(k), used))
        subset = tuple(sorted(order[:size]))
        if subset in chosen:  # the least used set was taken: a random fresh one
            subset = tuple(sorted(rng.choice(k, size, replace=False)))
            if subset in chosen:
                continue
        chosen.add(subset)
        used[list(subset)] += 1
    return sorted(chosen, key=lambda s: rng.random())
