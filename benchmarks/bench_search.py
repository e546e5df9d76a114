"""How close does each way of searching mixtures get to the best one, within the study's budget of 55 trials, on
surfaces no one here tuned to?

Methods, each given 55 noisy evaluations of a response surface over the study's 9 sources:
    grid        the study's ablation design (singles, pairs, leave-one-out, all) with its recipe's shares
    random      flat Dirichlet mixtures
    tpe, cmaes  Optuna's samplers over the same flat-Dirichlet parametrisation the sweeps use
    gp          Optuna's GP sampler (BoTorch-style: GP, log EI, its own acquisition optimiser), same parametrisation
    surrogate   cocktail's loop: the face-covering design (sweeps/propose/design.py), then rounds of batches chosen
                by the acquisition (sweeps/propose/acquisition.py) over the GP refitted on every trial so far;
                ``surrogate-<acq>`` for each acquisition in --acquisitions (``mean``: pure exploitation)
Surfaces: ``--family N`` draws N random surfaces of each family in benchmarks/search_surfaces.py (quadratic,
cubic, mixing-law, face, interior, plateau, control); ``--surface FILE.py`` loads one module (``score(weights,
rng)``, optionally ``optimum()``). Each surface is searched --reps times (each its own noise and seeds).

Regret = optimum - the true score of the mixture a researcher picks (the best observed). Regret closed over
random = 1 - regret / random's regret on the same surface and repetition; per family its median [IQR] over
surfaces x repetitions. On the control no method can beat distinct random samples (about 0 is right).

Measured here (2026-12-07, `--family 20 --reps 5`, 407 s on 2 cores), median regret closed over random:
    family      grid   tpe  cmaes  gp (n=10)  surrogate (EI, 35 then 4s)
    quadratic    81%   25%    6%     62%        99%
    cubic        46%   28%    1%     60%        87%
    mixing-law   54%   30%   17%     67%        86%
    face         88%   44%   25%     74%        91%
    interior   -227%   38%   38%     27%        68%  (95% CI of the median 59-73 %: short of 70 %)
    plateau      75%   17%    0%     75%       100%
    control      28%  -13%   -2%     -1%        24%  (CI -22-40 %: no method beats random beyond noise)
On the interior family, 60 surfaces x 5: EI 66 %, UCB (beta 2 / 0.5) 56 / 59 %, the GP's mean alone 59 %. There
the search is not what is short: the best mixture any search of it evaluated closes 77 %, and picking the best
*observed* among many near-optimal ones (noise sd 0.01, regret left ~0.005) costs the rest; replicating the top
mixtures in the last batch (52-60 %) and picking by the GP's mean (interior 70 %, control -74 %) do not pay.

    python benchmarks/bench_search.py --family 20 --reps 5 [--jobs 2] [--gp-surfaces 2] [--acquisitions ei,ucb]
    python benchmarks/bench_search.py --surface FILE.py --reps 5
"""
from __future__ import annotations

import argparse
import itertools
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial

import numpy as np
import optuna
from threadpoolctl import threadpool_limits
from search_surfaces import FAMILIES, FINANCIAL, POOL, make_surface

from ftlib.core.configs import load_config
from ftlib.data.spec import MixtureSpec
from sweeps.propose.acquisition import ACQUISITIONS, propose_batch
from sweeps.propose.design import face_design
from sweeps.propose.surrogate import Constraints, Data, fit_model, fit_surrogates
from sweeps.space import dirichlet_weights

DEFAULT_ACQUISITION = "ei"


def grid_design() -> list[np.ndarray]:
    """The study's 55 mixtures: its recipe's rows (caps; G and G // 2 for general and math data), as shares."""
    recipe = load_config(MixtureSpec, "sweeps/mixtures/study_all.yaml").sources
    caps = {t: recipe[t].cap for t in FINANCIAL}
    g = sum(caps.values())
    rows = {**caps, "openorca": g, "orca_math": g // 2}
    subsets = [set(s) for size in (1, 2) for s in itertools.combinations(POOL, size)]
    subsets += [set(POOL) - {t} for t in POOL] + [set(POOL)]
    return [np.array([rows[t] / sum(rows[u] for u in s) if t in s else 0.0 for t in POOL]) for s in subsets]


def run_grid(surface, budget, rng):
    chosen = grid_design()[:budget]
    return chosen, [surface.score(w, rng) for w in chosen]


def run_random(surface, budget, rng):
    chosen = list(rng.dirichlet(np.ones(len(POOL)), budget))
    return chosen, [surface.score(w, rng) for w in chosen]


def run_optuna(sampler_name, surface, budget, rng):
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    seed = int(rng.integers(1 << 31))
    sampler = {"tpe": lambda: optuna.samplers.TPESampler(multivariate=True, seed=seed),
               "cmaes": lambda: optuna.samplers.CmaEsSampler(seed=seed),
               "gp": lambda: optuna.samplers.GPSampler(seed=seed)}[sampler_name]()
    study = optuna.create_study(direction="maximize", sampler=sampler)
    chosen, observed = [], []
    for _ in range(budget):
        trial = study.ask()
        shares = dirichlet_weights({t: trial.suggest_float(f"u_{t}", 1e-6, 1.0) for t in POOL})  # as sweeps do
        w = np.array([shares[t] for t in POOL])
        chosen.append(w)
        observed.append(surface.score(w, rng))
        study.tell(trial, observed[-1])
    return chosen, observed


def run_surrogate(acquisition, initial, batch, surface, budget, rng):
    """The face-covering design, then batches by the acquisition over the surrogate refitted on all so far."""
    chosen = list(face_design(initial, len(POOL), int(rng.integers(1 << 31))))
    observed = [surface.score(w, rng) for w in chosen]
    while len(chosen) < budget:
        data = Data(POOL, np.array(chosen), np.array(observed), len(chosen))
        seed = int(rng.integers(1 << 31))
        fits = fit_surrogates(data, seed) if acquisition == "mean" else [fit_model("gp", data, seed)]
        for p in propose_batch(fits, data, Constraints(), min(batch, budget - len(chosen)), acquisition,
                               samples=5_000, seed=seed):
            w = np.array([p["weights"].get(t, 0.0) for t in POOL])
            chosen.append(w / w.sum())
            observed.append(surface.score(chosen[-1], rng))
    return chosen, observed


def methods(acquisitions: list[str], initial: int, batch: int, gp: bool) -> dict:
    out = {"grid": run_grid, "random": run_random, "tpe": partial(run_optuna, "tpe"),
           "cmaes": partial(run_optuna, "cmaes")}
    if gp:
        out["gp"] = partial(run_optuna, "gp")
    for acq in acquisitions:
        out["surrogate" if acq == DEFAULT_ACQUISITION else f"surrogate-{acq}"] = \
            partial(run_surrogate, acq, initial, batch)
    return out


def one_search(family: str, index: int, rep: int, budget: int, acquisitions: list[str], initial: int, batch: int,
               gp: bool) -> dict[str, dict[str, float]]:
    """Every method on surface ``index`` of ``family``, repetition ``rep``: its regret and seconds."""
    surface = make_surface(family, index)
    optimum = surface.optimum()
    out = {}
    for name, run in methods(acquisitions, initial, batch, gp).items():
        started = time.time()
        chosen, observed = run(surface, budget, np.random.default_rng([rep, index, 17]))
        best = surface.true(chosen[int(np.argmax(observed))])  # the mixture a researcher would pick
        out[name] = {"regret": None if optimum is None else max(optimum - best, 0.0),
                     "seconds": time.time() - started}
    return out


def summarise(family: str, runs: list[dict[str, dict[str, float]]], reps: int, surfaces: int) -> None:
    names = list(dict.fromkeys(n for r in runs for n in r))
    print(f"\n{family}: {surfaces} surface(s) x {reps} repetition(s)")
    print(f"{'method':20} {'n':>4} {'regret median [IQR]':>28} {'regret closed over random':>30} "
          f"{'95% CI of that median':>22} {'s/search':>9}")
    for name in names:
        rows = [r for r in runs if name in r]
        regret = np.array([r[name]["regret"] for r in rows], dtype=float)
        seconds = np.mean([r[name]["seconds"] for r in rows])
        if np.isnan(regret).all():
            print(f"{name:20} {len(rows):>4} {'n/a (no optimum)':>28} {'':>30} {seconds:>9.2f}")
            continue
        closed = np.array([1 - r[name]["regret"] / max(r["random"]["regret"], 1e-9) for r in rows])
        q = np.percentile(regret, [50, 25, 75])
        c = np.percentile(closed, [50, 25, 75])
        # The median's percentile bootstrap (searches resampled): on the control, how far from 0 noise alone goes.
        boot = np.median(np.random.default_rng(0).choice(closed, (2000, len(closed))), axis=1)
        lo, hi = np.percentile(boot, [2.5, 97.5])
        print(f"{name:20} {len(rows):>4} {q[0]:>10.4f} [{q[1]:.4f}, {q[2]:.4f}] "
              f"{c[0]:>12.0%} [{c[1]:>5.0%}, {c[2]:>5.0%}] {f'[{lo:.0%}, {hi:.0%}]':>22} {seconds:>9.2f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--family", type=int, metavar="N", help="N random surfaces of each family")
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--surface", help="FILE.py: one surface module")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--trials", type=int, default=55)
    ap.add_argument("--acquisitions", default=DEFAULT_ACQUISITION, help=f"of {','.join(ACQUISITIONS)}")
        # Chosen on the families (4 surfaces x 2 repetitions each, EI and UCB): 35 then batches of 4 against 25 / 6 and
    # 15 / 8; the interior family, the hardest, closed 74 % / 74 % / 67 % of random's regret with EI.
    ap.add_argument("--initial", type=int, default=35, help="the surrogate's first round (the design)")
    ap.add_argument("--batch", type=int, default=4, help="the surrogate's later rounds")
    ap.add_argument("--gp-surfaces", type=int, default=2,
                    help="Optuna's GP sampler (about 15 s a search here) on the first this many surfaces a family")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    if (args.family is None) == (args.surface is None):
        ap.error("give --family N or --surface FILE.py")
    acquisitions = args.acquisitions.split(",")
    families = args.families.split(",") if args.surface is None else [args.surface]
    surfaces = args.family or 1
    started = time.time()
    with ProcessPoolExecutor(args.jobs, initializer=threadpool_limits, initargs=(1,)) as pool:
        for family in families:
            jobs = [(family, i, rep) for i in range(surfaces) for rep in range(args.reps)]
            runs = list(pool.map(one_search, *zip(*jobs), *(itertools.repeat(x) for x in (
                args.trials, acquisitions, args.initial, args.batch)),
                [i < args.gp_surfaces for _, i, _ in jobs]))
            summarise(family, runs, args.reps, surfaces)
    print(f"\n{time.time() - started:.0f} s; trials {args.trials}, surrogate design {args.initial} then batches of "
          f"{args.batch}")


if __name__ == "__main__":
    main()
