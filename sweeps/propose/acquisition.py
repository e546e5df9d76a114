"""Which mixtures to run next: an acquisition over the surrogate's prediction and its uncertainty, a batch at a time.

``mean`` is pure exploitation (the mixtures the chosen model predicts best). The others use the Gaussian process
(scikit-learn's; its posterior sd is the uncertainty) and pick a batch the classical way:
    ei        expected improvement over the best predicted score among the measured mixtures (noisy EI)
    ucb       upper confidence bound, mean + BETA sd
    thompson  each batch member the best of its own draw from the joint posterior
EI and UCB fill a batch by the kriging believer (Ginsbourger et al. 2010): a chosen mixture joins the data at its
predicted mean, the GP is refitted with its kernel held, and its sd there drops to the noise, so the next pick
goes elsewhere. Every batch member is at least MIN_DISTANCE (L1) from the others.

The acquisition is maximised over the simplex as the proposals always were: Dirichlet draws (flat, and sparse
ones near the faces), every task alone and every pair at equal shares, then Dirichlet steps around the best.
Why not Optuna's GPSampler: it models a box, so the simplex enters as -log(u) weights whose faces it cannot reach
(a share of exactly 0 needs u = 0), and on benchmarks/bench_search.py's families this loop closed more of random
search's regret than it did in every structured family (the table is in the benchmark's docstring)."""
from __future__ import annotations

from typing import Any, Callable, get_args

import numpy as np
from scipy.stats import norm
from sklearn.base import clone

from ftlib.core.errors import ConfigError
from sweeps.config import Acquisition
from sweeps.propose.surrogate import Constraints, Data, SurrogateFit

ACQUISITIONS = get_args(Acquisition)
BETA = 2.0
MIN_DISTANCE = 0.05  # L1 between two mixtures of one batch
THOMPSON_CANDIDATES = 1000  # joint posterior draws cost the cube of this
REFINE_STEPS, REFINE_ROUNDS = 16, 15


def _sample(rng, n: int, k: int, allowed: np.ndarray, alpha: np.ndarray | None = None) -> np.ndarray:
    """Dirichlet points on the face of the simplex the allowed tasks span."""
    W = np.zeros((n, k))
    W[:, allowed] = rng.dirichlet(np.ones(allowed.sum()) if alpha is None else alpha, n)
    return W


def candidates(rng: np.random.Generator, k: int, allowed: np.ndarray, constraints: Constraints,
               tasks: list[str], samples: int) -> np.ndarray:
    """Feasible starting points: flat draws, a quarter sparse (Dirichlet 0.1: in 9 dimensions a flat draw almost
    never leaves a task out, yet the best mixture often does), every allowed task alone and every allowed pair."""
    idx = np.flatnonzero(allowed)
    corners = [np.eye(k)[i] for i in idx]
    corners += [(np.eye(k)[i] + np.eye(k)[j]) / 2 for a, i in enumerate(idx) for j in idx[a + 1:]]
    W = np.concatenate([_sample(rng, samples - samples // 4, k, allowed),
                        _sample(rng, samples // 4, k, allowed, np.full(len(idx), 0.1)), np.array(corners)])
    W = W[constraints.feasible(W, tasks)]
    if len(W) == 0:
        raise ConfigError("no sampled mixture satisfies the constraints: loosen them")
    return W


def maximize(score: Callable[[np.ndarray], np.ndarray], W: np.ndarray, rng: np.random.Generator,
             allowed: np.ndarray, constraints: Constraints, tasks: list[str], keep: int) -> tuple[np.ndarray, ...]:
    """The ``keep`` best of ``W`` under ``score``, each refined by Dirichlet steps around it (a step kept when it
    scores better and stays feasible); returns the points and their scores, best first, and ``W``'s scores."""
    values = score(W)
    order = np.argsort(-values)[:keep]
    best, best_value = W[order].copy(), values[order].copy()
    for _ in range(REFINE_ROUNDS):  # every point's steps scored in one call
        cand = np.concatenate([_sample(rng, REFINE_STEPS, len(tasks), allowed, 200 * b[allowed] + 1e-3)
                               for b in best])
        m = np.where(constraints.feasible(cand, tasks), score(cand), -np.inf).reshape(len(best), REFINE_STEPS)
        j = m.argmax(axis=1)
        better = m[np.arange(len(best)), j] > best_value
        best[better] = cand.reshape(len(best), REFINE_STEPS, -1)[better, j[better]]
        best_value[better] = m[better, j[better]]
    order = np.argsort(-best_value)
    return best[order], best_value[order], values


def expected_improvement(mean: np.ndarray, sd: np.ndarray, best: float) -> np.ndarray:
    sd = np.maximum(sd, 1e-12)
    z = (mean - best) / sd
    return (mean - best) * norm.cdf(z) + sd * norm.pdf(z)


def _distinct(w: np.ndarray, chosen: list[np.ndarray], distance: float = MIN_DISTANCE) -> bool:
    return all(np.abs(w - c).sum() > distance for c in chosen)


def _gp_fit(fits: list[SurrogateFit]) -> SurrogateFit:
    return next(f for f in fits if f.name == "gp")


def propose_batch(fits: list[SurrogateFit], data: Data, constraints: Constraints, top: int, acquisition: str,
                  samples: int = 100_000, seed: int = 0) -> list[dict[str, Any]]:
    """``top`` mixtures to run next, each with the GP's predicted mean and sd (``mean``: the chosen model's) and
    its acquisition value when it was chosen: EI's expected improvement; UCB's bound (mean - 2 sd for a loss),
    Thompson's draw and ``mean``'s prediction in the target's own units."""
    if acquisition not in ACQUISITIONS:
        raise ConfigError(f"unknown acquisition {acquisition!r}; expected one of {', '.join(ACQUISITIONS)}")
    rng = np.random.default_rng(seed)
    tasks = data.tasks
    allowed = np.array([t not in constraints.forced_out for t in tasks])
    if not allowed.any():
        raise ConfigError("--constraint leaves no task in the mixture")
    W = candidates(rng, len(tasks), allowed, constraints, tasks, samples)
    pick = {"mean": _exploit, "thompson": _thompson}.get(acquisition, _believer)
    chosen, values = pick(fits, data, W, rng, allowed, constraints, top, acquisition)
    model = fits[0] if acquisition == "mean" else _gp_fit(fits)
    mean, std = model.predict(np.array(chosen))
    return [{"weights": {t: round(float(w), 4) for t, w in zip(tasks, c) if w > 5e-5}, "predicted": float(m),
             "std": float(s), "acquisition": acquisition, "acquisition_value": float(v)}
            for c, m, s, v in zip(chosen, mean, std, values)]


def _exploit(fits, data, W, rng, allowed, constraints, top, acquisition):
    """The chosen model's best predictions, none within 0.1 (L1) of another: refined points, then sampled ones."""
    fit = fits[0]
    score = lambda X: fit.sign * fit.predict_mean(X)  # noqa: E731
    best, best_value, values = maximize(score, W, rng, allowed, constraints, data.tasks, max(top * 4, 20))
    ranked = np.argsort(-values)
    pool = [*zip(best, best_value), *((W[i], values[i]) for i in ranked)]
    chosen, chosen_values = [], []
    for w, v in pool:
        if _distinct(w, chosen, 0.1):
            chosen.append(w)
            chosen_values.append(fit.sign * v)
        if len(chosen) == top:
            break
    return chosen, chosen_values


def _believer(fits, data, W, rng, allowed, constraints, top, acquisition):
    gp, sign = _gp_fit(fits).models[0], data.sign
    X, y = data.X.copy(), data.y.copy()
    chosen, chosen_values = [], []
    while len(chosen) < top:
        best = float(np.max(sign * gp.predict(X)))

        def score(C, gp=gp, best=best):
            mean, sd = gp.predict(C, return_std=True)
            if acquisition == "ei":
                return expected_improvement(sign * mean, sd, best)
            return sign * mean + BETA * sd

        points, point_values, values = maximize(score, W, rng, allowed, constraints, data.tasks, 10)
        i = next((i for i, w in enumerate(points) if _distinct(w, chosen)), None)
        if i is None:  # every refined point is a batch member's twin: the best distinct candidate instead
            i_w = next(i for i in np.argsort(-values) if _distinct(W[i], chosen))
            w, v = W[i_w], values[i_w]
        else:
            w, v = points[i], point_values[i]
        chosen.append(w)
        chosen_values.append(float(v if acquisition == "ei" else sign * v))  # UCB: the bound in the target's units
        X, y = np.vstack([X, w]), np.append(y, gp.predict(w[None])[0])
        gp = clone(gp).set_params(kernel=gp.kernel_, optimizer=None).fit(X, y)  # make_model's GP, kernel held
    return chosen, chosen_values


def _thompson(fits, data, W, rng, allowed, constraints, top, acquisition):
    """Draws over a candidate set: the best half by UCB (refined), the rest at random."""
    gp, sign = _gp_fit(fits).models[0], data.sign

    def ucb(C):
        mean, sd = gp.predict(C, return_std=True)
        return sign * mean + BETA * sd

    half = THOMPSON_CANDIDATES // 2
    refined, _, values = maximize(ucb, W, rng, allowed, constraints, data.tasks, 20)
    C = np.concatenate([refined, W[np.argsort(-values)[:half - len(refined)]],
                        W[rng.choice(len(W), min(half, len(W)), replace=False)]])
    draws = sign * gp.sample_y(C, top, random_state=int(rng.integers(1 << 31)))
    chosen, chosen_values = [], []
    for d in draws.T:
        i = next(i for i in np.argsort(-d) if _distinct(C[i], chosen))
        chosen.append(C[i])
        chosen_values.append(float(sign * d[i]))  # the draw in the target's units
    return chosen, chosen_values
