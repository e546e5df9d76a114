"""Response surfaces over the study's 9 sources for benchmarks/bench_search.py: families of random surfaces, each
scaled like measured scores (mean 0.5 and sd 0.05 over flat random mixtures) and observed with noise (sd 0.01,
about what one seed moves a score).

Families (``FAMILIES``):
    quadratic   Scheffé quadratic: Σ b_i w_i + Σ g_ij w_i w_j, pairwise interactions of random sign
    cubic       the quadratic plus special-cubic terms Σ h_ijk w_i w_j w_k of random sign
    mixing-law  Data Mixing Laws per financial target, -exp(Σ_j t_ij w_j), random exponents, averaged
    face        a peak on a random face of the simplex (1 to 3 tasks): -(w - w*)ᵀA(w - w*), A random positive definite
    interior    the same peak with w* inside the simplex
    plateau     terraces: a random quadratic rounded to 6 levels (flat regions and steps)
    control     no structure: every distinct mixture its own independent draw (no method can beat random)
A family's surface ``i`` is the same on every run (its seed is the family's and ``i``)."""
from __future__ import annotations

import importlib.util
import itertools

import numpy as np
from scipy.optimize import minimize

POOL = ["headline", "fpb", "finner_cls", "convfinqa", "twitter_topics", "twitter_sentiment", "finqa", "openorca",
        "orca_math"]
FINANCIAL = POOL[:7]
K = len(POOL)
NOISE, SPREAD, CENTRE = 0.01, 0.05, 0.5
FAMILIES = ("quadratic", "cubic", "mixing-law", "face", "interior", "plateau", "control")
PAIRS = list(itertools.combinations(range(K), 2))
TRIPLES = list(itertools.combinations(range(K), 3))


class Surface:
    """``raw(W)`` for rows of shares, rescaled; ``score`` adds the noise; ``optimum`` the best true score."""
    smooth = True

    def __init__(self, rng: np.random.Generator):
        flat = np.random.default_rng(7).dirichlet(np.ones(K), 4000)
        values = self.raw(flat)
        self.shift, self.scale = values.mean(), SPREAD / max(values.std(), 1e-12)

    def raw(self, W: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def values(self, W: np.ndarray) -> np.ndarray:
        return CENTRE + (self.raw(np.atleast_2d(W)) - self.shift) * self.scale

    def true(self, w: np.ndarray) -> float:
        return float(self.values(w)[0])

    def score(self, w: np.ndarray, rng: np.random.Generator) -> float:
        return self.true(w) + rng.normal(0, NOISE)

    def optimum(self) -> float:
        """The best of many draws (flat, sparse, every single and pair), each of the 10 best polished by SLSQP on
        the simplex (it reaches the faces, where a softmax parametrisation cannot)."""
        rng = np.random.default_rng(11)
        eye = np.eye(K)
        W = np.concatenate([rng.dirichlet(np.ones(K), 20000), rng.dirichlet(np.full(K, 0.1), 20000), eye,
                            np.array([(eye[i] + eye[j]) / 2 for i, j in PAIRS])])
        values = self.values(W)
        best = float(values.max())
        if not self.smooth:
            return best
        for w0 in W[np.argsort(-values)[:10]]:
            res = minimize(lambda w: -self.true(np.clip(w, 0, 1)), w0, method="SLSQP", bounds=[(0, 1)] * K,
                           constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1}], options={"maxiter": 200})
            w = np.clip(res.x, 0, 1)
            best = max(best, self.true(w / w.sum()))
        return best


class Quadratic(Surface):
    def __init__(self, rng, cubic: bool = False):
        self.b, self.g = rng.normal(0, 1, K), rng.normal(0, 3, len(PAIRS))
        self.h = rng.normal(0, 20, len(TRIPLES)) if cubic else None
        super().__init__(rng)

    def raw(self, W):
        out = W @ self.b + sum(g * W[:, i] * W[:, j] for g, (i, j) in zip(self.g, PAIRS))
        if self.h is not None:
            out = out + sum(h * W[:, i] * W[:, j] * W[:, k] for h, (i, j, k) in zip(self.h, TRIPLES))
        return out


class MixingLaw(Surface):
    def __init__(self, rng):
        t = rng.normal(0.5, 0.4, (len(FINANCIAL), K))  # most sources dilute a target...
        for i in range(len(FINANCIAL)):
            t[i, i] = rng.uniform(-3.0, -1.5)  # ...its own data helps most,
            for j in rng.choice([x for x in range(7) if x != i], 2, replace=False):
                t[i, j] = rng.uniform(-1.5, -0.3)  # two related tasks help,
        t[:, POOL.index("orca_math")] = np.where(np.isin(FINANCIAL, ["finqa", "convfinqa"]), -1.0, 0.3)
        self.t = t * rng.uniform(0.5, 2.0, (len(FINANCIAL), 1))  # each target's own exponent scale
        super().__init__(rng)

    def raw(self, W):
        return -np.exp(W @ self.t.T).mean(axis=1)


class Peak(Surface):
    def __init__(self, rng, face: bool):
        if face:
            support = rng.choice(K, rng.integers(1, 4), replace=False)
            self.peak = np.zeros(K)
            self.peak[support] = rng.dirichlet(np.ones(len(support)))
        else:
            self.peak = rng.dirichlet(np.full(K, 2.0))
        Q = rng.normal(0, 1, (K, K))
        self.A = Q.T @ Q / K + 0.1 * np.eye(K)
        super().__init__(rng)

    def raw(self, W):
        D = W - self.peak
        return -np.einsum("ni,ij,nj->n", D, self.A, D)

    def optimum(self):
        return self.true(self.peak)


class Plateau(Quadratic):
    smooth = False  # its optimum: the top terrace, which the draws find (the steps defeat a gradient)
    LEVELS = 6

    def __init__(self, rng):
        self.base = Quadratic(rng)
        Surface.__init__(self, rng)

    def raw(self, W):
        v = self.base.values(W)
        return np.floor((v - 0.35) / 0.3 * self.LEVELS)


class Control(Surface):
    """No structure at all: every distinct mixture (to 4 decimals) its own uniform draw, so no method that
    never repeats a mixture can expect a lower regret than random search (a check on the bench itself)."""
    smooth = False
    HALF_WIDTH = SPREAD * 3 ** 0.5  # a uniform of sd SPREAD

    def __init__(self, rng):
        self.key = int(rng.integers(1 << 31))

    def values(self, W):
        out = [np.random.default_rng([self.key, *np.round(w * 1e4).astype(np.int64)]).uniform(-1, 1)
               for w in np.atleast_2d(W)]
        return CENTRE + self.HALF_WIDTH * np.array(out)

    def optimum(self):
        return CENTRE + self.HALF_WIDTH  # the supremum of the draws


class FromFile:
    """``--surface FILE.py``: a module with ``score(weights: dict[str, float], rng) -> float`` and optionally
    ``optimum() -> float``; its noise-free value is a score with a fixed rng."""
    def __init__(self, path: str):
        spec = importlib.util.spec_from_file_location("surface", path)
        self.module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(self.module)

    def true(self, w: np.ndarray) -> float:
        return float(self.module.score(dict(zip(POOL, w)), np.random.default_rng(0)))

    def score(self, w: np.ndarray, rng) -> float:
        return float(self.module.score(dict(zip(POOL, w)), rng))

    def optimum(self) -> float | None:
        return self.module.optimum() if hasattr(self.module, "optimum") else None


def make_surface(family: str, index: int):
    if family not in FAMILIES:
        return FromFile(family)
    rng = np.random.default_rng([FAMILIES.index(family), index])
    return {"quadratic": lambda: Quadratic(rng), "cubic": lambda: Quadratic(rng, cubic=True),
            "mixing-law": lambda: MixingLaw(rng), "face": lambda: Peak(rng, face=True),
            "interior": lambda: Peak(rng, face=False), "plateau": lambda: Plateau(rng),
            "control": lambda: Control(rng)}[family]()
