"""How close does each way of searching mixtures get to the best one, within the study's budget of 55 trials?

Methods, each given 55 noisy evaluations of a response surface over the study's 9 sources:
    grid        the study's ablation design (singles, pairs, leave-one-out, all) with its recipe's shares
    random      flat Dirichlet mixtures
    tpe, cmaes  Optuna's samplers over the same flat-Dirichlet parametrisation the sweeps use
    surrogate   25 random proxy trials, then 5 rounds of `sweeps/propose/surrogate.py`'s best proposals, refitted
                on every trial so far each round
Surfaces (pluggable: ``--surface FILE.py`` loads a module with ``score(weights: dict[str, float], rng) -> float``
and optionally ``optimum() -> float``):
    mixing-law  Data Mixing Laws per target task, score_i = -exp(Σ_j t_ij w_j), averaged over the 7 financial
                targets, random transfer coefficients t (helpful related pairs, harmful unrelated ones) + noise
    lookup      a lookup table: 300 random anchor mixtures, a mixture scores its nearest anchor's value (plus
                noise): flat regions and cliffs no smooth model assumes. Each anchor's value is a random
                Scheffé quadratic of its shares plus its own random part (a third of the spread), as measured
                scores are a trend plus what the trend misses
    lookup-iid  the control: the anchors' values independent draws. Nothing links one cell to another, so no
                method can beat distinct random samples there (the >= 70 % target does not apply)
Per method: trials to reach the grid's best (median, IQR; "-" when not reached), the best true score within 55
trials, its regret (optimum - best), and the share of random search's regret the surrogate closes.

    python benchmarks/bench_search.py [--reps 20] [--trials 55] [--surface mixing-law|lookup|FILE.py]
"""
from __future__ import annotations

import argparse
import importlib.util
import itertools
import math

import numpy as np

from ftlib.core.configs import load_config
from ftlib.data.spec import MixtureSpec

POOL = ["headline", "fpb", "finner_cls", "convfinqa", "twitter_topics", "twitter_sentiment", "finqa", "openorca",
        "orca_math"]
FINANCIAL = POOL[:7]


def grid_design() -> list[dict[str, float]]:
    """The study's 55 mixtures: its recipe's rows (caps; G and G // 2 for general and math data), as shares."""
    recipe = load_config(MixtureSpec, "sweeps/mixtures/study_all.yaml").sources
    caps = {t: recipe[t].cap for t in FINANCIAL}
    g = sum(caps.values())
    rows = {**caps, "openorca": g, "orca_math": g // 2}
    subsets = [set(s) for size in (1, 2) for s in itertools.combinations(POOL, size)]
    subsets += [set(POOL) - {t} for t in POOL] + [set(POOL)]
    return [{t: rows[t] / sum(rows[u] for u in s) for t in s} for s in subsets]


class MixingLaw:
    name = "mixing-law"

    def __init__(self, rng: np.random.Generator, noise: float = 0.01):
        t = rng.normal(0.5, 0.4, (len(FINANCIAL), len(POOL)))  # most sources dilute a target...
        for i, target in enumerate(FINANCIAL):
            t[i, i] = rng.uniform(-3.0, -1.5)  # ...its own data helps most,
            for j in rng.choice([x for x in range(7) if x != i], 2, replace=False):
                t[i, j] = rng.uniform(-1.5, -0.3)  # two related tasks help,
        t[:, POOL.index("orca_math")] = np.where(np.isin(FINANCIAL, ["finqa", "convfinqa"]), -1.0, 0.3)
        self.t, self.noise = t, noise

    def true(self, w: np.ndarray) -> float:
        return float(-np.exp(self.t @ w).mean())

    def score(self, weights: dict[str, float], rng) -> float:
        return self.true(as_vector(weights)) + rng.normal(0, self.noise)

    def optimum(self) -> float:
        from scipy.optimize import minimize

        best = -math.inf
        rng = np.random.default_rng(0)
        for _ in range(30):  # softmax parametrisation: the simplex without constraints
            res = minimize(lambda z: -self.true(_softmax(z)), rng.normal(0, 1, len(POOL)), method="L-BFGS-B")
            best = max(best, -res.fun)
        return best


class Lookup:
    name = "lookup"

    def __init__(self, rng: np.random.Generator, anchors: int = 300, noise: float = 0.01, trend: bool = True):
        self.anchors = rng.dirichlet(np.ones(len(POOL)) * 0.7, anchors)
        own = rng.normal(0, 1, anchors)
        if trend:
            A, b = rng.normal(0, 1, (len(POOL), len(POOL))), rng.normal(0, 1, len(POOL))
            values = np.einsum("ni,ij,nj->n", self.anchors, A, self.anchors) + self.anchors @ b
            own = (values - values.mean()) / values.std() + own / 3
        self.values = own
        self.noise = noise

    def true(self, w: np.ndarray) -> float:
        return float(self.values[np.argmin(np.abs(self.anchors - w).sum(axis=1))])

    def score(self, weights, rng) -> float:
        return self.true(as_vector(weights)) + rng.normal(0, self.noise)

    def optimum(self) -> float:
        return float(self.values.max())  # reached at its own anchor


class FromFile:
    def __init__(self, path: str):
        spec = importlib.util.spec_from_file_location("surface", path)
        self.module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(self.module)
        self.name = path

    def true(self, w: np.ndarray) -> float:
        return float(self.module.score(dict(zip(POOL, w)), np.random.default_rng(0)))

    def score(self, weights, rng) -> float:
        return float(self.module.score({t: weights.get(t, 0.0) for t in POOL}, rng))

    def optimum(self) -> float | None:
        return self.module.optimum() if hasattr(self.module, "optimum") else None


def _softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def as_vector(weights: dict[str, float]) -> np.ndarray:
    w = np.array([weights.get(t, 0.0) for t in POOL])
    return w / w.sum()


def run_grid(surface, budget, rng):
    return [as_vector(w) for w in grid_design()][:budget]


def run_random(surface, budget, rng):
    return list(rng.dirichlet(np.ones(len(POOL)), budget))


def run_optuna(sampler_name):
    def run(surface, budget, rng):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        seed = int(rng.integers(1 << 31))
        sampler = (optuna.samplers.TPESampler(multivariate=True, seed=seed) if sampler_name == "tpe" else
                   optuna.samplers.CmaEsSampler(seed=seed))
        study = optuna.create_study(direction="maximize", sampler=sampler)
        chosen = []
        for _ in range(budget):
            trial = study.ask()
            x = np.array([-math.log(trial.suggest_float(f"u_{t}", 1e-6, 1.0)) for t in POOL])  # flat Dirichlet
            w = x / x.sum()
            chosen.append(w)
            study.tell(trial, surface.score(dict(zip(POOL, w)), rng))
        return chosen
    return run


def run_surrogate(surface, budget, rng, proxies: int = 25, rounds: int = 5):
    """Proxy trials on random mixtures, then rounds of proposals, the surrogates refitted on every trial so far
    (the two-stage search run as a loop)."""
    from sweeps.propose.surrogate import Data, fit_surrogates, parse_constraints, propose

    W = list(rng.dirichlet(np.ones(len(POOL)), proxies))
    y = [surface.score(dict(zip(POOL, w)), rng) for w in W]
    per_round = math.ceil((budget - proxies) / rounds)
    while len(W) < budget:
        fit = fit_surrogates(Data(POOL, np.array(W), np.array(y), len(W)), seed=int(rng.integers(1000)))[0]
        for p in propose(fit, parse_constraints([], POOL), top=min(per_round, budget - len(W)), samples=50_000,
                         seed=int(rng.integers(1000))):
            w = as_vector(p["weights"])
            W.append(w)
            y.append(surface.score(dict(zip(POOL, w)), rng))
    return W


METHODS = {"grid": run_grid, "random": run_random, "tpe": run_optuna("tpe"), "cmaes": run_optuna("cmaes"),
           "surrogate": run_surrogate}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--trials", type=int, default=55)
    ap.add_argument("--surface", default="all", help="mixing-law, lookup, lookup-iid, all, or FILE.py")
    args = ap.parse_args()
    names = ["mixing-law", "lookup", "lookup-iid"] if args.surface == "all" else [args.surface]
    for name in names:
        results = {m: {"reach": [], "best": [], "regret": []} for m in METHODS}
        for rep in range(args.reps):
            rng = np.random.default_rng(1000 + rep)
            surface = {"mixing-law": lambda: MixingLaw(rng), "lookup": lambda: Lookup(rng),
                       "lookup-iid": lambda: Lookup(rng, trend=False)}.get(name, lambda: FromFile(name))()
            optimum = surface.optimum()
            grid_best = max(surface.true(w) for w in run_grid(surface, args.trials, rng))
            for method, run in METHODS.items():
                chosen = run(surface, args.trials, np.random.default_rng(rep))
                observed = [surface.score(dict(zip(POOL, w)), np.random.default_rng(rep * 7919 + i))
                            for i, w in enumerate(chosen)]
                truth = [surface.true(w) for w in chosen]
                best = truth[int(np.argmax(observed))]  # the mixture a researcher would pick: best observed
                reach = next((i + 1 for i, v in enumerate(truth) if v >= grid_best - 1e-9), None)
                results[method]["reach"].append(reach)
                results[method]["best"].append(best)
                results[method]["regret"].append(None if optimum is None else optimum - best)
        print(f"\nsurface {name}, {args.reps} repetitions, {args.trials} trials each")
        print(f"{'method':10} {'trials to grid best (median [IQR])':>36} {'best within budget':>20} {'regret':>10}")
        for method, r in results.items():
            reached = [x for x in r["reach"] if x is not None]
            reach = (f"{np.median(reached):.0f} [{np.percentile(reached, 25):.0f}, {np.percentile(reached, 75):.0f}]"
                     f" ({len(reached)}/{args.reps})" if reached else "-")
            regret = f"{np.median(r['regret']):.4f}" if r["regret"][0] is not None else "n/a"
            print(f"{method:10} {reach:>36} {np.median(r['best']):>20.4f} {regret:>10}")
        if results["random"]["regret"][0] is not None:
            closed = [1 - s / max(rnd, 1e-12) for s, rnd in zip(results["surrogate"]["regret"],
                                                                 results["random"]["regret"])]
            print(f"surrogate closes {np.median(closed):.0%} (median over repetitions) of the regret random search "
                  f"leaves ({'a control: no target' if name == 'lookup-iid' else 'target >= 70 %'})")


if __name__ == "__main__":
    main()
