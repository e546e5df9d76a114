"""Mixture surrogates (after RegMix): regressors from the mixture a trial realized (its shares of the pool) to a
validation score, fitted on a sweep's finished trials, chosen by K-fold cross-validation, and searched over the
simplex for the mixtures they predict best.

Three models, each what its library already does: LightGBM (RegMix's choice), the Scheffé quadratic mixture
model (terms w_i and w_i·w_j with no intercept, as the shares sum to one: the classical design-of-experiments
model for proportions; a ridge fit), and a Gaussian process (its posterior standard deviation is the
uncertainty). For the other two the uncertainty is the spread of the model refitted on bootstrap resamples.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
from lightgbm import LGBMRegressor
from scipy.stats import spearmanr
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from ftlib.core.errors import ConfigError
from sweeps.propose.target import target_value

MIN_TRIALS = 8
FORCED_SHARE = 0.01  # a task forced into the mixture holds at least this share
FOLDS = 5
BOOTSTRAPS = 20


@dataclass
class Data:
    tasks: list[str]  # feature order: w_<task>
    X: np.ndarray
    y: np.ndarray
    runs: int  # runs behind the points (a point is a configuration's mean over its seeds)
    sign: int = 1  # +1: higher y is better (scores); -1: lower (losses)


def training_data(rows: Sequence[dict[str, Any]], pool: Sequence[str], target: str, model: str | None = None,
                  objective_tasks: Sequence[str] = (), objective_mode: str = "max") -> Data:
    """One point per configuration (the mean over its seeds) from the completed runs (``target``: see
    ``target_value``)."""
    value, columns, sign = target_value(target, objective_tasks, objective_mode)
    done = [r for r in rows if r.get("state") == "completed" and (model is None or r.get("model") == model)]
    if done and any(c not in done[0] for c in columns):
        have = ["objective", "val_loss_objective"] + sorted(
            k[len("score_"):] if k.startswith("score_") else k for k in done[0]
            if k.startswith(("score_", "val_loss_")))
        raise ConfigError(f"--target {target!r}: not in the trials (they have {', '.join(have)})")
    by_point: dict[str, list[dict[str, Any]]] = {}
    for r in done:
        if value(r) is not None:
            by_point.setdefault(r["point_key"], []).append(r)
    if len(by_point) < MIN_TRIALS:
        raise ConfigError(f"{len(by_point)} finished configuration(s) with a {target} score: a surrogate needs at "
                          f"least {MIN_TRIALS} (run more trials, e.g. a proxy sweep of random mixtures)")
    tasks = list(pool)
    X = np.array([[np.mean([r.get(f"w_{t}", 0.0) or 0.0 for r in runs]) for t in tasks] for runs in by_point.values()])
    y = np.array([np.mean([value(r) for r in runs]) for runs in by_point.values()])
    if np.ptp(y) < 1e-12:
        raise ConfigError(f"every configuration scored {y[0]:.4g} on {target}: nothing for a surrogate to learn")
    return Data(tasks, X, y, sum(len(v) for v in by_point.values()), sign)


def scheffe_terms(X: np.ndarray) -> np.ndarray:
    """w_i and w_i·w_j (i < j)."""
    k = X.shape[1]
    pairs = [X[:, i] * X[:, j] for i in range(k) for j in range(i + 1, k)]
    return np.column_stack([X, *pairs]) if pairs else X


def make_model(name: str, seed: int = 0):
    if name == "lightgbm":
        return LGBMRegressor(n_estimators=300, learning_rate=0.05, num_leaves=7, min_child_samples=3,
                             subsample=0.9, subsample_freq=1, random_state=seed, verbose=-1)
    if name == "scheffe":
        return make_pipeline(FunctionTransformer(scheffe_terms), Ridge(alpha=1e-3, fit_intercept=False))
    if name == "gp":
        kernel = ConstantKernel(1.0) * RBF(length_scale=0.3, length_scale_bounds=(1e-2, 10.0)) + WhiteKernel(1e-3)
        return GaussianProcessRegressor(kernel=kernel, normalize_y=True, n_restarts_optimizer=2, random_state=seed)
    raise ConfigError(f"unknown surrogate {name!r}; expected one of {MODELS}")


MODELS = ("lightgbm", "scheffe", "gp")


@dataclass
class SurrogateFit:
    name: str
    cv_spearman: float
    cv_r2: float
    points: int
    runs: int
    models: list = field(repr=False)  # the fit on all points, then (not the GP) bootstrap refits
    tasks: list[str] = field(default_factory=list)
    cv_predicted: np.ndarray | None = field(default=None, repr=False)  # each point predicted by the fold without it
    sign: int = 1  # of "better", as the data's

    def predict_mean(self, X: np.ndarray) -> np.ndarray:
        return self.models[0].predict(X)

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation of the prediction."""
        if self.name == "gp":
            mean, std = self.models[0].predict(X, return_std=True)
            return mean, std
        mean = self.models[0].predict(X)
        spread = np.std([m.predict(X) for m in self.models[1:]], axis=0) if len(self.models) > 1 else \
            np.zeros(len(X))
        return mean, spread


def cross_validate(name: str, data: Data, seed: int = 0) -> tuple[float, float, np.ndarray]:
    predicted = np.empty_like(data.y)
    for train, test in KFold(min(FOLDS, len(data.y)), shuffle=True, random_state=seed).split(data.X):
        predicted[test] = make_model(name, seed).fit(data.X[train], data.y[train]).predict(data.X[test])
    rho = spearmanr(predicted, data.y).statistic
    return float(0.0 if np.isnan(rho) else rho), float(r2_score(data.y, predicted)), predicted


def fit_surrogates(data: Data, seed: int = 0) -> list[SurrogateFit]:
    """Every model, cross-validated; the first is the one chosen (highest CV Spearman), fitted on all points."""

    with warnings.catch_warnings():  # a GP length scale at its bound on a flat direction is an answer, not a fault
        warnings.simplefilter("ignore", ConvergenceWarning)
        return _fit_surrogates(data, seed)


def fit_model(name: str, data: Data, seed: int = 0) -> SurrogateFit:
    """One model on all points, not cross-validated (a search loop that refits every round needs no CV)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = make_model(name, seed).fit(data.X, data.y)
    return SurrogateFit(name, float("nan"), float("nan"), len(data.y), data.runs, [model], data.tasks, None, data.sign)


def _fit_surrogates(data: Data, seed: int) -> list[SurrogateFit]:
    scored = sorted(((name, *cross_validate(name, data, seed)) for name in MODELS), key=lambda t: -t[1])
    fits = []
    rng = np.random.default_rng(seed)
    for rank, (name, rho, r2, predicted) in enumerate(scored):
        models = [make_model(name, seed).fit(data.X, data.y)]
        if rank == 0 and name != "gp":
            for b in range(BOOTSTRAPS):
                idx = rng.integers(0, len(data.y), len(data.y))
                models.append(make_model(name, seed + b + 1).fit(data.X[idx], data.y[idx]))
        fits.append(SurrogateFit(name, rho, r2, len(data.y), data.runs, models, data.tasks, predicted, data.sign))
    return fits


@dataclass(frozen=True)
class Constraints:
    lower: dict[str, float] = field(default_factory=dict)
    upper: dict[str, float] = field(default_factory=dict)
    forced_in: frozenset[str] = frozenset()
    forced_out: frozenset[str] = frozenset()

    def feasible(self, W: np.ndarray, tasks: Sequence[str]) -> np.ndarray:
        ok = np.ones(len(W), bool)
        for i, t in enumerate(tasks):
            ok &= W[:, i] >= self.lower.get(t, 0.0) - 1e-12
            ok &= W[:, i] <= self.upper.get(t, 1.0) + 1e-12
            if t in self.forced_in:
                ok &= W[:, i] >= FORCED_SHARE
        return ok


_BOUND = re.compile(r"^\s*([a-z_]+)\s*(>=|<=)\s*([0-9.]+)\s*$")


def parse_constraints(items: Sequence[str], pool: Sequence[str]) -> Constraints:
    """``fpb>=0.1``, ``openorca<=0.3``, ``+finqa`` (in every proposal), ``-openorca`` (in none)."""
    lower, upper, forced_in, forced_out = {}, {}, set(), set()
    for item in items:
        m = _BOUND.match(item)
        task = m.group(1) if m else item.strip()[1:]
        if (m is None and (not item.strip() or item.strip()[0] not in "+-")) or task not in pool:
            raise ConfigError(f"--constraint {item!r}: expected TASK>=X, TASK<=X, +TASK or -TASK with a task of the "
                              f"pool ({', '.join(pool)})")
        if m is None:
            (forced_in if item.strip()[0] == "+" else forced_out).add(task)
            continue
        value = float(m.group(3))
        if not 0 <= value <= 1:
            raise ConfigError(f"--constraint {item!r}: a share is between 0 and 1")
        (lower if m.group(2) == ">=" else upper)[task] = value
    if sum(lower.values()) > 1 or forced_in & forced_out:
        raise ConfigError(f"--constraint {' '.join(items)}: no mixture satisfies them all")
    return Constraints(lower, upper, frozenset(forced_in), frozenset(forced_out))
