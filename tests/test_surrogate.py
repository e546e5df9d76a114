"""Mixture surrogates: they recover known surfaces from 60 noisy trials, proposals lie on the simplex and obey
constraints, bad requests get one clear error, and the CLI writes a sweep that runs the proposals."""
import numpy as np
import pytest
import yaml

from ftlib.core.errors import ConfigError
from sweeps.propose.acquisition import propose_batch
from sweeps.propose.surrogate import FORCED_SHARE, Data, fit_surrogates, parse_constraints, training_data

POOL = ["fpb", "twitter_sentiment", "finqa", "orca_math", "openorca"]


def _quadratic(W, rng):
    """A Scheffé quadratic with a synergy between the first two tasks and a clash between two others."""
    linear = np.array([0.5, 0.4, 0.3, 0.2, 0.1])
    return W @ linear + 1.2 * W[:, 0] * W[:, 1] - 0.8 * W[:, 2] * W[:, 4] + rng.normal(0, 0.01, len(W))


def _mixing_law(W, rng):
    """Data Mixing Laws: loss = c + k·exp(Σ t_j w_j), scored as its negative."""
    t = np.array([-2.0, -1.5, -0.5, 0.3, 1.0])
    return -(0.5 + 1.0 * np.exp(W @ t)) + rng.normal(0, 0.01, len(W))


@pytest.mark.parametrize("surface", [_quadratic, _mixing_law])
def test_surrogate_recovers_a_known_surface_from_60_noisy_trials(surface):
    rng = np.random.default_rng(0)
    W = rng.dirichlet(np.ones(5), 60)
    data = Data(POOL, W, surface(W, rng), 60)
    fits = fit_surrogates(data)
    assert fits[0].cv_spearman >= 0.9, [(f.name, f.cv_spearman) for f in fits]
    assert {f.name for f in fits} == {"lightgbm", "scheffe", "gp"}
    # On fresh mixtures too, and its proposal is near the surface's best sampled value.
    fresh = rng.dirichlet(np.ones(5), 2000)
    from scipy.stats import spearmanr

    assert spearmanr(fits[0].predict(fresh)[0], surface(fresh, np.random.default_rng(1))).statistic >= 0.9
    best = propose_batch(fits, data, parse_constraints([], POOL), 1, "mean", samples=20_000)[0]
    w = np.array([[best["weights"].get(t, 0.0) for t in POOL]])
    assert surface(w, np.random.default_rng(2))[0] >= np.quantile(surface(fresh, np.random.default_rng(3)), 0.95)


@pytest.mark.parametrize("acquisition", ["ei", "ucb", "thompson", "mean"])
def test_proposals_lie_on_the_simplex_and_obey_the_constraints(acquisition):
    rng = np.random.default_rng(4)
    W = rng.dirichlet(np.ones(5), 40)
    data = Data(POOL, W, _quadratic(W, rng), 40)
    rules = parse_constraints(["fpb>=0.1", "openorca<=0.3", "+finqa", "-orca_math"], POOL)
    proposals = propose_batch(fit_surrogates(data), data, rules, 4, acquisition, samples=20_000)
    assert len(proposals) == 4 and {p["acquisition"] for p in proposals} == {acquisition}
    for p in proposals:
        w = p["weights"]
        assert sum(w.values()) == pytest.approx(1, abs=1e-3) and all(v >= 0 for v in w.values())
        assert w["fpb"] >= 0.1 - 1e-4 and w.get("openorca", 0) <= 0.3 + 1e-4 and "orca_math" not in w
        assert w["finqa"] >= FORCED_SHARE - 1e-4 and p["std"] >= 0
    if acquisition == "mean":  # best predicted first
        assert [p["predicted"] for p in proposals] == sorted((p["predicted"] for p in proposals), reverse=True)


@pytest.mark.parametrize("items,match", [
    (["fpb>=1.5"], "between 0 and 1"), (["nope>=0.1"], "a task of the pool"), (["fpb=0.2"], "expected TASK>=X"),
    (["fpb>=0.6", "finqa>=0.6"], "no mixture satisfies"), (["+fpb", "-fpb"], "no mixture satisfies"),
])
def test_bad_constraints_are_one_clear_error(items, match):
    with pytest.raises(ConfigError, match=match):
        parse_constraints(items, POOL)


def _rows(n, score=lambda w: w[0], seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        w = rng.dirichlet(np.ones(len(POOL)))
        rows.append({"state": "completed", "point_key": f"p{i}", "model": "tiny-phi3", "objective": float(score(w)),
                     "score_fpb": float(w[0]), "val_loss_fpb": float(2 - w[0]), **{f"w_{t}": float(x) for t, x in zip(POOL, w)},
                     **{f"rows_{t}": int(1000 * x) for t, x in zip(POOL, w)}})
    return rows


def test_too_few_trials_a_constant_target_and_an_unknown_target_are_refused():
    with pytest.raises(ConfigError, match=r"5 finished configuration\(s\) with a objective score: a surrogate needs "
                                          r"at least 8"):
        training_data(_rows(5), POOL, "objective")
    with pytest.raises(ConfigError, match="every configuration scored 0.5 on objective: nothing for a surrogate"):
        training_data(_rows(12, score=lambda w: 0.5), POOL, "objective")
    with pytest.raises(ConfigError, match=r"--target 'headline': not in the trials \(they have objective, "
                                          r"val_loss_objective, fpb, val_loss_fpb\)"):
        training_data(_rows(12), POOL, "headline")
    data = training_data(_rows(12), POOL, "fpb")
    assert data.X.shape == (12, 5) and np.allclose(data.X[:, 0], data.y) and data.sign == 1


@pytest.mark.parametrize("target,mode", [("val_loss_objective", "max"), ("val_loss_fpb", "max"),
                                         ("objective", "min")])
def test_a_loss_or_a_minimised_objective_is_proposed_at_its_lowest(target, mode):
    """Lower is better for a validation loss and for an objective in mode min: the proposals go where the
    surface is lowest (the fpb corner for a loss of 2 - w_fpb; away from it for an objective of w_fpb)."""
    data = training_data(_rows(30), POOL, target, objective_tasks=["fpb"], objective_mode=mode)
    assert data.sign == -1
    best = propose_batch(fit_surrogates(data), data, parse_constraints([], POOL), 1, "ei", samples=20_000)[0]["weights"]
    fpb = best.get("fpb", 0.0)
    assert (fpb > 0.8) if target.startswith("val_loss") else (fpb < 0.05), best


def test_the_cli_writes_a_sweep_of_the_proposals(tmp_path, monkeypatch, capsys):
    """A finished sweep's directory (its saved sweep and trials table), proposed from, and the sweep it writes
    passes the checks of `sweep run --dry-run` with the proposals as its trials."""
    import json

    from sweeps.cli.main import main
    from ftlib.core.encode import parquet_bytes
    from sweeps.layout import SWEEP_FILE
    from sweeps.load import load_sweep

    import pyarrow as pa

    sweep = load_sweep("sweeps/mini_study.yaml")
    exp = tmp_path / "mini-study"
    (exp / "tune").mkdir(parents=True)
    (exp / SWEEP_FILE).write_text(json.dumps(sweep.model_dump(mode="json")))
    (exp / "trials.parquet").write_bytes(parquet_bytes(pa.Table.from_pylist(_rows(16, score=lambda w: w[0] - w[4]))))
    monkeypatch.setattr("ray.tune.Tuner.can_restore", lambda path: True)
    assert main(["sweep", "propose", str(exp), "--top", "3", "--constraint", "openorca<=0.2", "--samples",
                 "20000"]) == 0
    out = capsys.readouterr().out
    assert "CV Spearman" in out and "proposed by expected improvement" in out and "best measured" in out
    proposal = yaml.safe_load((exp / "proposals.yaml").read_text())
    assert proposal["name"] == "mini-study-proposals" and len(proposal["search"]["grid"]["mixtures"]) == 3
    assert all(m.get("openorca", 0) <= 0.2 + 1e-4 for m in proposal["search"]["grid"]["mixtures"])
    # The fpb-heavy, openorca-light corner the rows were scored by.
    assert max(proposal["search"]["grid"]["mixtures"][0], key=proposal["search"]["grid"]["mixtures"][0].get) == "fpb"
    assert proposal["base"]["mixture"]["budget"] > 0
    assert main(["sweep", "run", str(exp / "proposals.yaml"), "--dry-run", "--set",
                 f"resources.storage_path={tmp_path / 'runs'}"]) == 0
    assert "3 trials" in capsys.readouterr().out


def test_a_baseline_that_a_proposal_already_is_runs_once():
    """A proposal at a corner of the simplex ({fpb: 1.0}) is the fpb-alone baseline: one trial, not two with one
    run id."""
    from types import SimpleNamespace

    from sweeps.propose.propose import proposal_sweep

    sweep = SimpleNamespace(pool=POOL, base={"mixture": {"budget": 10}}, name="s", seeds=[1],
                            objective_tasks=lambda: ["fpb", "twitter_sentiment"],
                            objective=SimpleNamespace(model_dump=lambda mode: {}),
                            resources=SimpleNamespace(model_dump=lambda mode: {}))
    rows = [{"state": "completed", "model": "m", **{f"rows_{t}": 10 for t in POOL}}]
    proposals = [{"weights": {"fpb": 1.0}}, {"weights": {"fpb": 0.5, "openorca": 0.5}}]
    mixtures = proposal_sweep(sweep, rows, "m", proposals, None, "/exp", baselines=True)["search"]["grid"]["mixtures"]
    assert mixtures == [{"fpb": 1.0}, {"fpb": 0.5, "openorca": 0.5}, {"twitter_sentiment": 1.0},
                        {t: 1.0 for t in POOL}]
