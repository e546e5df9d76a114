"""``cocktail sweep propose DIR``: fit the mixture surrogates on a sweep's finished trials, propose the mixtures
they predict best, and write a sweep YAML that runs the proposals at full scale (proposals × seeds)."""
from __future__ import annotations

import statistics
from typing import Any, Sequence

import yaml

from ftlib import storage
from ftlib.errors import ConfigError
from ftlib.io import atomic_write_bytes
from sweeps.surrogate import fit_surrogates, parse_constraints, propose, training_data


def propose_sweep(exp: str, target: str = "objective", top: int = 5, constraints: Sequence[str] = (),
                  out: str | None = None, seeds: Sequence[int] | None = None, model: str | None = None,
                  samples: int = 100_000, seed: int = 0) -> dict[str, Any]:
    from sweeps.driver import saved_sweep
    from sweeps.results import load_trials

    exp = storage.absolute(exp)
    sweep = saved_sweep(exp)
    rows = load_trials(exp)
    models = sorted({r["model"] for r in rows})
    if model is not None and model not in models:
        raise ConfigError(f"--model {model!r}: the sweep trained {', '.join(models)}")
    model = model or (models[0] if models else None)
    data = training_data(rows, sweep.pool, target, model)
    fits = fit_surrogates(data, seed)
    proposals = propose(fits[0], parse_constraints(constraints, sweep.pool), top, samples, seed=seed)
    measured = sorted(((p, y) for p, y in zip(data.X, data.y)), key=lambda t: -t[1])[:3]
    out = out or storage.join(exp, "proposals.yaml")
    atomic_write_bytes(out, yaml.safe_dump(proposal_sweep(sweep, rows, model, proposals, seeds),
                                           sort_keys=False).encode())
    return {"fits": fits, "proposals": proposals, "out": out, "model": model, "target": target,
            "measured": [({t: round(float(w), 4) for t, w in zip(sweep.pool, p) if w > 0}, float(y))
                         for p, y in measured]}


def proposal_sweep(sweep, rows: list[dict[str, Any]], model: str | None, proposals: list[dict[str, Any]],
                   seeds: Sequence[int] | None) -> dict[str, Any]:
    """The source sweep's base and objective; the proposals as an explicit grid of weights over a budget of the
    median examples its runs trained on (so a proposal trains as much data as the runs it was learnt from)."""
    done = [r for r in rows if r.get("state") == "completed" and r.get("model") == model]
    budget = int(statistics.median(sum(r.get(f"rows_{t}", 0) or 0 for t in sweep.pool) for r in done))
    base = dict(sweep.base)
    base["mixture"] = {k: v for k, v in (base.get("mixture") or {}).items() if k not in ("sources", "budget")}
    base["mixture"]["budget"] = budget
    if model:
        base["model"] = {**(base.get("model") or {}), "name": model}
    return {"name": f"{sweep.name}-proposals", "base": base, "pool": list(sweep.pool),
            "search": {"grid": {"design": "explicit", "mixtures": [p["weights"] for p in proposals]}},
            "objective": sweep.objective.model_dump(mode="json"),
            "resources": sweep.resources.model_dump(mode="json"),
            "seeds": list(seeds or sweep.seeds)}
