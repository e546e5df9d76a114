"""``cocktail sweep propose DIR``: fit the mixture surrogates on a sweep's finished trials, propose the mixtures
they predict best, and write a sweep YAML that runs the proposals at full scale (proposals × seeds).

What the report shows of the fit (each model's CV scores, the chosen model's cross-validated prediction of every
configuration, the proposals with their predictions) goes into the YAML's ``surrogate`` key, and into
``surrogate.json`` in DIR, which the latest proposal rewrites."""
from __future__ import annotations

import statistics
from typing import Any, Sequence

import yaml

from ftlib.core import storage
from ftlib.core.encode import json_bytes
from ftlib.core.errors import ConfigError
from ftlib.core.ownership import check_output_file
from ftlib.core.storage import atomic_write_bytes
from sweeps.layout import proposals_file, surrogate_file
from sweeps.propose.acquisition import propose_batch
from sweeps.propose.surrogate import Data, SurrogateFit, fit_surrogates, parse_constraints, training_data
from sweeps.saved import checked_state
from sweeps.trial_table import load_trials

MIN_SAMPLES = 100


def propose_sweep(exp: str, target: str = "objective", top: int = 5, constraints: Sequence[str] = (),
                  out: str | None = None, seeds: Sequence[int] | None = None, model: str | None = None,
                  samples: int = 100_000, seed: int = 0, baselines: bool = False,
                  extra: dict[str, Any] | None = None, force: bool = False, acquisition: str = "ei") -> dict[str, Any]:
    """``acquisition``: how the proposals are picked (sweeps/propose/acquisition.py). ``baselines``: the YAML also
    runs each objective task alone and the whole pool at equal weights, so its report compares the proposals with
    them. ``extra``: keys the YAML takes as they are (finalize, report)."""
    check_counts(top, samples, seeds)
    if out is not None:
        check_output_file(out, "--out", force)
    exp = storage.absolute(exp)
    sweep = checked_state(exp)
    rows = load_trials(exp)
    models = sorted({r["model"] for r in rows})
    if model is not None and model not in models:
        raise ConfigError(f"--model {model!r}: the sweep trained {', '.join(models)}")
    model = model or (models[0] if models else None)
    data = training_data(rows, sweep.pool, target, model, sweep.objective_tasks(), sweep.objective.modes[0])
    fits = fit_surrogates(data, seed)
    proposals = propose_batch(fits, data, parse_constraints(constraints, sweep.pool), top, acquisition, samples,
                              seed)
    measured = [(_shares(sweep.pool, data.X[i]), float(data.y[i])) for i in (-data.sign * data.y).argsort()[:3]]
    out = out or proposals_file(exp)
    record = surrogate_record(fits, data, target, model, proposals, constraints, out, acquisition)
    document = proposal_sweep(sweep, rows, model, proposals, seeds, exp, baselines)
    atomic_write_bytes(out, yaml.safe_dump({**document, **(extra or {}), "surrogate": record},
                                           sort_keys=False).encode())
    storage.write_bytes(surrogate_file(exp), json_bytes(record))
    return {"fits": fits, "proposals": proposals, "out": out, "model": model, "target": target,
            "measured": measured, "acquisition": acquisition}


def check_counts(top: int, samples: int, seeds: Sequence[int] | None) -> None:
    if top < 1:
        raise ConfigError(f"--top {top}: expected at least 1 mixture to propose")
    if samples < MIN_SAMPLES:
        raise ConfigError(f"--samples {samples}: expected at least {MIN_SAMPLES} Dirichlet draws to search the "
                          f"simplex")
    if seeds is not None and (not seeds or min(seeds) < 0 or len(set(seeds)) < len(seeds)):
        raise ConfigError(f"--seeds {','.join(map(str, seeds))}: expected distinct seeds >= 0")


def _shares(pool: Sequence[str], row) -> dict[str, float]:
    return {t: round(float(w), 4) for t, w in zip(pool, row) if w > 0}


def surrogate_record(fits: list[SurrogateFit], data: Data, target: str, model: str | None,
                     proposals: list[dict[str, Any]], constraints: Sequence[str], out: str,
                     acquisition: str) -> dict[str, Any]:
    chosen = fits[0]
    return {"target": target, "sign": data.sign, "model": model, "constraints": list(constraints),
            "acquisition": acquisition,
            "proposals_yaml": out,
            "fits": [{"name": f.name, "cv_spearman": f.cv_spearman, "cv_r2": f.cv_r2, "points": f.points,
                      "runs": f.runs} for f in fits],
            "cv": [{"mixture": _shares(data.tasks, x), "actual": float(y), "predicted": float(p)}
                   for x, y, p in zip(data.X, data.y, chosen.cv_predicted)],
            "proposals": proposals}


def baseline_mixtures(pool: Sequence[str], objective_tasks: Sequence[str]) -> list[dict[str, float]]:
    """What proposals are compared with: each objective task alone, and the pool at equal weights."""
    return [*({t: 1.0} for t in objective_tasks), {t: 1.0 for t in pool}]


def _same_mixture(a: dict[str, float], b: dict[str, float]) -> bool:
    """Equal as shares (weights are normalised when a mixture is planned)."""
    ta, tb = sum(a.values()), sum(b.values())
    return set(a) == set(b) and all(abs(a[t] / ta - b[t] / tb) < 1e-9 for t in a)


def proposal_sweep(sweep, rows: list[dict[str, Any]], model: str | None, proposals: list[dict[str, Any]],
                   seeds: Sequence[int] | None, exp: str, baselines: bool = False) -> dict[str, Any]:
    """The source sweep's base and objective; the proposals as an explicit grid of weights over a budget of the
    median examples its runs trained on (so a proposal trains as much data as the runs it was learnt from)."""
    done = [r for r in rows if r.get("state") == "completed" and r.get("model") == model]
    budget = int(statistics.median(sum(r.get(f"rows_{t}", 0) or 0 for t in sweep.pool) for r in done))
    base = dict(sweep.base)
    base["mixture"] = {k: v for k, v in (base.get("mixture") or {}).items() if k not in ("sources", "budget")}
    base["mixture"]["budget"] = budget
    if model:
        base["model"] = {**(base.get("model") or {}), "name": model}
    mixtures = [p["weights"] for p in proposals]
    if baselines:  # those a proposal already is (a corner of the simplex) run once, as the proposal
        mixtures += [b for b in baseline_mixtures(sweep.pool, sweep.objective_tasks())
                     if not any(_same_mixture(b, m) for m in mixtures)]
    return {"name": f"{sweep.name}-proposals", "base": base, "pool": list(sweep.pool),
            "search": {"grid": {"design": "explicit", "mixtures": mixtures}},
            "objective": sweep.objective.model_dump(mode="json"),
            "resources": sweep.resources.model_dump(mode="json"),
            "seeds": list(seeds or sweep.seeds), "proposed_from": exp}
