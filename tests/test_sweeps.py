"""Sweep configs, designs, the Dirichlet space, bad input; the smoke sweep and resume on Ray."""
import math

import numpy as np
import optuna
import pytest
import yaml

from ftlib.core.configs import validate
from ftlib.data.plan import make_plan
from ftlib.core.errors import ConfigError
from ftlib.run.config import RunConfig
from ftlib.placement.nodes import NodeGroup
from sweeps.config import SweepConfig
from sweeps.preflight.checks import check_resources, check_storage, trials_at_once
from sweeps.load import load_sweep
from sweeps.objective import objective_keys
from sweeps.space import DefineByRun, build_run_config, dirichlet_weights, grid_points
from sweeps.space import run_ids

POOL4 = ["fpb", "twitter_sentiment", "headline", "orca_math"]


def smoke_dict(prepared, tmp_path, **changes):
    data = yaml.safe_load(open("sweeps/smoke.yaml"))
    data["base"]["data"]["dir"] = str(prepared)
    data["resources"]["storage_path"] = str(tmp_path / "sweeps")
    data.update(changes)
    return data


def test_presets_validate():
    for name in ("smoke", "paper_ablation", "mixture_search"):
        sweep = load_sweep(f"sweeps/{name}.yaml")
        assert sweep.name and sweep.pool


def test_the_preset_adds_compute_matched_controls_to_the_study_design(tmp_path, small_study):
    """Per objective target i and design pair (i, j): i alone for as many epochs as trains the pair's examples."""
    recipe, caps = small_study
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    sweep = load_sweep("sweeps/paper_ablation.yaml", overrides=[f"search.grid.recipe={tmp_path / 'recipe.yaml'}",
                                                                 "models=[microsoft/Phi-3-mini-4k-instruct]"])
    points = grid_points(sweep)
    controls = [p for p in points if len(p["sources"]) == 1 and p["params"]["epochs"] != 3]
    assert len(points) == 55 + len(controls)
    G = sum(caps.values())
    sizes = {**caps, "openorca": G, "orca_math": G // 2}
    expected = {(i, round(3 * (caps[i] + sizes[j]) / caps[i])) for i in sweep.objective_tasks() for j in sizes if j != i}
    assert {(next(iter(p["sources"])), p["params"]["epochs"]) for p in controls} == \
        {(i, e) for i, e in expected if e != 3}


def test_paper_design_is_55_distinct_mixtures_per_model_with_the_study_sizes(prepared, tmp_path, small_study):
    recipe, caps = small_study
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    sweep = load_sweep("sweeps/paper_ablation.yaml", overrides=[
        f"search.grid.recipe={tmp_path / 'recipe.yaml'}", f"base.data.dir={prepared}", "base.data.source=offline",
        "base.mixture.selection=seeded", "search.grid.compute_matched=false"])  # the study's own rows: test_mixtures.py
    assert load_sweep("sweeps/paper_ablation.yaml").base["mixture"]["selection"] == "study"
    points = grid_points(sweep)
    assert len(points) == 55 * len(sweep.models) == 220
    G = sum(caps.values())
    for model in sweep.models:
        mine = [p for p in points if p["model"] == model]
        subsets = {frozenset(p["sources"]) for p in mine}
        assert len(subsets) == 55
        assert sorted(len(s) for s in subsets) == [1] * 9 + [2] * 36 + [8] * 9 + [9]
    for p in points[:55]:
        cfg = build_run_config(sweep, p, str(tmp_path / "trials"))
        rows = {s.task: s.rows for s in make_plan(cfg.mixture, prepared).sources}
        expected = {t: caps[t] for t in p["sources"] if t in caps}
        expected.update({"openorca": G} if "openorca" in p["sources"] else {})
        expected.update({"orca_math": G // 2} if "orca_math" in p["sources"] else {})
        assert rows == expected
        assert cfg.epochs == (3 if len(p["sources"]) <= 3 else 2)
        assert cfg.optim.warmup_steps == (0 if len(p["sources"]) <= 3 else 10)
        assert (cfg.method, cfg.optim.lr, cfg.deepspeed.stage, cfg.deepspeed.offload_optimizer) == ("full", 3e-6, 2,
                                                                                                    True)


def test_dirichlet_weights_are_on_the_simplex_and_flat():
    sweep = validate(SweepConfig, {"name": "d", "base": {"mixture": {"budget": 10}}, "pool": POOL4,
                                   "search": {"optuna": {"weights": POOL4}}}, "d")
    space = DefineByRun(sweep)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    samples = []
    for _ in range(3000):
        trial = study.ask()
        w = space(trial)["point"]["sources"]
        samples.append([w[t]["weight"] for t in POOL4])
    x = np.array(samples)
    assert np.allclose(x.sum(axis=1), 1) and (x > 0).all()
    # A flat Dirichlet on 4 parts has Beta(1, 3) marginals: CDF 1 - (1 - x)^3, mean 1/4.
    for k in range(4):
        marginal = np.sort(x[:, k])
        ks = np.max(np.abs(np.arange(1, len(marginal) + 1) / len(marginal) - (1 - (1 - marginal) ** 3)))
        assert ks < 0.035 and abs(marginal.mean() - 0.25) < 0.01
    assert dirichlet_weights({"a": math.exp(-1), "b": math.exp(-3)}) == pytest.approx({"a": 0.25, "b": 0.75})
    # Every uniform at its upper bound (Optuna's GP sampler proposed it in benchmarks/bench_search.py): equal shares,
    # not a division by zero.
    assert dirichlet_weights({"a": 1.0, "b": 1.0, "c": 1.0}) == pytest.approx({"a": 1 / 3, "b": 1 / 3, "c": 1 / 3})


def test_conditional_params_and_include_toggles():
    sweep = validate(SweepConfig, {"name": "c", "base": {"mixture": {"budget": 10}}, "pool": POOL4, "search": {
        "optuna": {"include": ["fpb", "headline"], "params": {
            "method": {"type": "categorical", "choices": ["full", "lora"]},
            "lora.r": {"type": "categorical", "choices": [4, 8], "when": {"method": "lora"}}}}}}, "c")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    seen = set()
    for _ in range(60):
        trial = study.ask()
        point = DefineByRun(sweep)(trial)["point"]
        params = point["params"]
        assert ("lora.r" in params) == (params["method"] == "lora")
        assert {"twitter_sentiment", "orca_math"} <= set(point["sources"])
        assert sum(s["weight"] for s in point["sources"].values()) == pytest.approx(1)
        seen.add(frozenset(point["sources"]))
    assert len(seen) > 1


def test_same_config_and_seed_same_trial_ids(prepared, tmp_path):
    sweep = load_sweep("sweeps/paper_ablation.yaml", overrides=[f"base.data.dir={prepared}"])
    a = [run_ids(sweep, p, str(tmp_path)) for p in grid_points(sweep)[:10]]
    b = [run_ids(sweep, p, str(tmp_path)) for p in grid_points(sweep)[:10]]
    assert a == b and len({x[0] for x in a}) == 10
    other = load_sweep("sweeps/paper_ablation.yaml", overrides=[f"base.data.dir={prepared}", "seeds=[7]"])
    assert run_ids(other, grid_points(other)[0], str(tmp_path)) != a[0]


def test_nested_key_errors_name_the_yaml_path(tmp_path):
    data = yaml.safe_load(open("sweeps/smoke.yaml"))
    data["base"]["optim"]["lrr"] = 0.1
    path = tmp_path / "smoke.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as err:
        load_sweep(str(path))
    assert str(err.value) == f"{path}: base.optim.lrr: unknown key (did you mean lr?)"


@pytest.mark.parametrize("change,match", [
    ({"colour": 1}, "colour: unknown key"),
    ({"pool": ["fpb", "nope"]}, "unknown task 'nope'"),
    ({"search": {"optuna": {"num_samples": 2}}}, "no free parameter"),
    ({"search": {"optuna": {"weights": ["finqa"]}}}, "not in pool"),
    ({"search": {"grid": {"mixtures": [{"fpb": 0, "headline": 0}]}}}, "all zero"),
    ({"search": {"grid": {"mixtures": [{"fpb": -1}]}}}, "finite number >= 0"),
    ({"objective": {"metrics": ["accuracy_of_nothing"], "modes": ["max"]}}, "names no reported metric"),
    ({"objective": {"metrics": ["fpb", "headline"], "modes": ["max", "max"]}}, "need search.optuna.sampler: nsga2"),
])
def test_bad_sweeps_fail_before_any_trial(prepared, tmp_path, change, match):
    data = smoke_dict(prepared, tmp_path, **change)
    with pytest.raises(ConfigError, match=match):
        sweep = validate(SweepConfig, data, "smoke.yaml")
        objective_keys(sweep)
        for p in grid_points(sweep) if sweep.search.grid else []:
            build_run_config(sweep, p, str(tmp_path))


def test_resources_and_storage_are_checked(tmp_path):
    sweep = validate(SweepConfig, {"name": "r", "base": {"mixture": {"budget": 10}}, "pool": ["fpb"],
                                   "search": {"optuna": {"weights": ["fpb"]}}}, "r")
    cfg = validate(RunConfig, {"mixture": {"sources": {"fpb": {"weight": 1}}, "budget": 10}, "use_gpu": True,
                               "num_workers": 8}, "r")
    nodes = [NodeGroup({"CPU": 16, "GPU": 4}, 1), NodeGroup({"CPU": 16, "GPU": 4}, 1)]
    with pytest.raises(ConfigError, match="asks for 8 GPUs .* the largest node has 4"):
        check_resources(sweep, cfg, nodes)
    multi = sweep.model_copy(update={"resources": sweep.resources.model_copy(update={"multi_node_trials": True})})
    assert check_resources(multi, cfg, nodes) == 1
    head = [NodeGroup({"CPU": 2}, 1)]
    with pytest.raises(ConfigError, match="no node of the cluster has a GPU, nor can its autoscaler add one"):
        check_resources(sweep, cfg, head)
    cpu = cfg.model_copy(update={"use_gpu": False, "num_workers": 1})
    assert check_resources(sweep, cpu, head) == 2
    # A cluster that scales GPU workers from zero: its node types count, one trial per node where GPUs allow.
    lora = cfg.model_copy(update={"num_workers": 1})
    scaling = [NodeGroup({"CPU": 8, "GPU": 1}, 16), NodeGroup({"CPU": 192, "GPU": 8}, 4)]
    assert check_resources(sweep, lora, head, scaling) == 16 + 32
    assert check_resources(sweep, cfg, head, scaling) == 4  # 8-GPU trials fit only the 8-GPU type
    with pytest.raises(ConfigError, match="nor can its autoscaler add one"):  # a type it may start none of
        check_resources(sweep, cfg, head, [NodeGroup({"CPU": 192, "GPU": 8}, 0)])
    # An autoscaler whose node types are unknown here (KubeRay): max_concurrent_trials decides, and is required.
    with pytest.raises(ConfigError, match="resources.max_concurrent_trials: this cluster autoscales"):
        trials_at_once(sweep, lora, head, [], autoscaling=True)
    limited = sweep.model_copy(update={"resources": sweep.resources.model_copy(update={"max_concurrent_trials": 16})})
    assert trials_at_once(limited, lora, head, [], autoscaling=True) == 16
    assert trials_at_once(limited, lora, head, scaling, autoscaling=True) == 16
    assert trials_at_once(sweep, lora, head, scaling, autoscaling=True) == 48
    with pytest.raises(ConfigError, match="no node of the cluster has a GPU"):  # a fixed cluster: checked anyway
        trials_at_once(limited, lora, head, [], autoscaling=False)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="cannot be written"):
        check_storage(str(blocker / "sweep"))


def test_a_local_ray_is_a_fixed_cluster(ray_session, monkeypatch, tmp_path):
    from ftlib.placement.nodes import alive_nodes, autoscaler_node_types, on_kuberay

    monkeypatch.setenv("COCKTAIL_AUTOSCALING_CONFIG", str(tmp_path / "none.yaml"))
    monkeypatch.delenv("RAY_USAGE_STATS_KUBERAY_IN_USE", raising=False)
    assert autoscaler_node_types() == [] and not on_kuberay()
    assert [n.resources["CPU"] for n in alive_nodes()] == [2.0]
    monkeypatch.setenv("RAY_USAGE_STATS_KUBERAY_IN_USE", "1")  # what KubeRay sets in its pods
    assert on_kuberay()


def test_dry_run_lists_trials_without_training(prepared, tmp_path, capsys):
    from sweeps.cli.main import main

    args = ["sweep", "run", "sweeps/paper_ablation.yaml", "--dry-run", "--set", f"base.data.dir={prepared}",
            "--set", f"resources.storage_path={tmp_path}", "--set", "models=[org/m1]"]
    assert main([*args, "--set", "base.mixture.selection=seeded"]) == 0
    out = capsys.readouterr().out
    assert "90 trials" in out and "est. tokens" in out and "not prepared" not in out  # 55 + 35 controls
    assert not (tmp_path / "paper-ablation" / "tune").exists()
    # The preset's study selection needs data prepared as the study did: this data is not, and the listing says so.
    assert main(args) == 0
    assert "not prepared yet" in (out := capsys.readouterr().out) and "--source hub --study`" in out


def test_dry_run_downloads_and_prepares_nothing(tmp_path, capsys, monkeypatch):
    """The README's paper dry run, offline, with no data prepared: the design from the caps, said to be bounds."""
    import datasets

    from sweeps.cli.main import main

    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: pytest.fail("a dry run must not download"))
    empty = tmp_path / "data"
    assert main(["sweep", "run", "sweeps/paper_ablation.yaml", "--dry-run", "--set", f"base.data.dir={empty}",
                 "--set", f"resources.storage_path={tmp_path}"]) == 0
    out = capsys.readouterr().out
    assert "360 trials" in out and "not prepared yet" in out and "--source hub" in out  # 4 × (55 + 35 controls)
    assert '"fpb": "≤5000"' in out and '"openorca": "≤31500"' in out and '"orca_math": "≤15750"' in out
    assert not empty.exists()
    # A model that is neither embedded, a local directory nor a hub id is refused by the dry run.
    assert main(["sweep", "run", "sweeps/paper_ablation.yaml", "--dry-run", "--set", f"base.data.dir={empty}",
                 "--set", f"resources.storage_path={tmp_path}", "--set", "models=[./no/such/model]"]) == 2
    assert "'./no/such/model': no such directory" in capsys.readouterr().err


@pytest.mark.parametrize("seeds", [[1], [1, 2], [1, 2, 3]])
def test_asha_lets_the_leading_trial_train_every_seed(seeds):
    """Ray's ASHA, as the driver configures it, fed the reports an Optuna trial of the smoke sweep makes: each seed's
    Train reports in turn, then the objective. The best trial is never stopped early, whatever the seeds."""
    from types import SimpleNamespace

    from ray.tune.schedulers import TrialScheduler

    from sweeps.space import max_reports as _max_reports
    from sweeps.tune.schedule import asha_scheduler as scheduler
    from sweeps.space import reports_per_trial

    sweep = load_sweep("sweeps/smoke.yaml", overrides=[f"seeds={seeds}"])
    per_run = _max_reports(build_run_config(sweep, {"sources": {"fpb": {"weight": 1.0}}, "seed": 1}, "/tmp/x"))
    asha = scheduler(sweep, reports_per_trial(sweep, per_run, grid=False))
    leader, other = SimpleNamespace(trial_id="a"), SimpleNamespace(trial_id="b")
    for trial in (leader, other):
        asha.on_trial_add(None, trial)
    sign = 1 if sweep.scheduler.mode == "min" else -1
    iteration = 0
    for _ in seeds:
        for step in range(per_run):
            iteration += 1
            for trial, metric in ((other, 10.0), (leader, 1.0)):  # the leader is best at every report
                action = asha.on_trial_result(None, trial, {"training_iteration": iteration,
                                                            sweep.scheduler.metric: sign * (metric - step * 0.01)})
                if trial is leader:
                    assert action == TrialScheduler.CONTINUE, (seeds, iteration)


def test_asha_signal_weighs_the_objective_tasks_equally_and_must_exist(tmp_path):
    from sweeps.objective import OBJECTIVE_LOSS, objective_loss, with_objective_loss

    # OpenOrca's long answers dominate the token-weighted val_loss; the signal ignores it and weighs tasks equally.
    metrics = {"val_loss": 0.4, "val_loss_fpb": 2.0, "val_loss_finqa": 0.5, "val_loss_openorca": 0.1}
    assert objective_loss(metrics, ["fpb", "finqa"]) == pytest.approx(1.25)
    assert objective_loss(metrics, ["fpb", "twitter_sentiment"]) is None  # a task not measured: no signal
    assert with_objective_loss(metrics, ["fpb"])[OBJECTIVE_LOSS] == 2.0
    sweep = load_sweep("sweeps/smoke.yaml")
    assert sweep.scheduler.metric == OBJECTIVE_LOSS and SweepConfig.model_fields["scheduler"].default.metric == \
        OBJECTIVE_LOSS
    run = build_run_config(sweep, example_point(sweep), str(tmp_path))
    assert set(sweep.objective_tasks()) <= set(run.validation_tasks())  # every run measures what ASHA averages
    with pytest.raises(ConfigError, match=r"scheduler.metric 'val_los': expected one of"):
        load_sweep("sweeps/smoke.yaml", overrides=["scheduler.metric=val_los"])


def example_point(sweep):
    from sweeps.space import example_points

    return example_points(sweep)[0]


def test_optuna_hears_stopped_trials_intermediate_values_in_its_direction(tmp_path):
    from ray.tune.search.optuna import OptunaSearch  # noqa: F401  (Ray's integration, as the driver uses it)

    from sweeps.tune.search import FinalObjectiveOptunaSearch

    searcher = FinalObjectiveOptunaSearch(space={"x": optuna.distributions.FloatDistribution(0, 1)}, metric="score",
                                          mode="max", signal="val_loss_objective", signal_mode="min")
    first, second = searcher.suggest("a"), searcher.suggest("b")
    assert first and second
    for step, loss in ((1, 2.0), (2, 1.5)):
        searcher.on_trial_result("a", {"val_loss_objective": loss, "training_iteration": step})
        searcher.on_trial_result("b", {"val_loss_objective": loss + 1, "training_iteration": step})
    searcher.on_trial_complete("a", {"score": 0.7})
    searcher.on_trial_complete("b", {"val_loss_objective": 2.5, "training_iteration": 2})  # stopped by ASHA
    trials = {t.number: t for t in searcher._ot_study.trials}
    assert trials[0].state == optuna.trial.TrialState.COMPLETE and trials[0].value == 0.7
    assert trials[1].state == optuna.trial.TrialState.PRUNED
    assert trials[1].intermediate_values == {1: -3.0, 2: -2.5}  # a loss, negated for a study that maximises


def test_a_restored_searcher_writes_into_the_study_of_the_directory_it_resumes(tmp_path):
    """Tune pickles the searcher with its study's absolute path: a copied sweep would resume into the original."""
    import shutil

    from sweeps.tune.search import FinalObjectiveOptunaSearch

    (tmp_path / "a").mkdir()
    first = FinalObjectiveOptunaSearch(space={"x": optuna.distributions.FloatDistribution(0, 1)}, metric="score",
                                       mode="max", storage=optuna.storages.RDBStorage(f"sqlite:///{tmp_path}/a/o.db"),
                                       study_name="s")
    first.suggest("t1")
    first.save(str(tmp_path / "a" / "searcher.pkl"))
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    original = (tmp_path / "a" / "o.db").read_bytes()
    FinalObjectiveOptunaSearch.relocate_storage = f"sqlite:///{tmp_path}/b/o.db"
    try:
        again = FinalObjectiveOptunaSearch(space={"x": optuna.distributions.FloatDistribution(0, 1)},
                                           metric="score", mode="max")
        again.restore(str(tmp_path / "b" / "searcher.pkl"))
        again.on_trial_complete("t1", {"score": 0.5})
    finally:
        FinalObjectiveOptunaSearch.relocate_storage = None
    assert (tmp_path / "a" / "o.db").read_bytes() == original
    moved = optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path}/b/o.db")
    assert [t.value for t in moved.trials] == [0.5]


def test_a_restored_searcher_fails_the_study_trials_no_tune_trial_will_finish(tmp_path):
    from sweeps.tune.search import FinalObjectiveOptunaSearch

    space = {"x": optuna.distributions.FloatDistribution(0, 1)}
    url = f"sqlite:///{tmp_path}/o.db"
    first = FinalObjectiveOptunaSearch(space=space, metric="score", mode="max",
                                       storage=optuna.storages.RDBStorage(url), study_name="s")
    first.suggest("ended")
    first.suggest("running")
    first._completed_trials.add("ended")  # Tune recorded its end; the kill came before the study heard of it
    first._ot_study.ask()  # a study trial no Tune trial knows
    first.save(str(tmp_path / "searcher.pkl"))
    again = FinalObjectiveOptunaSearch(space=space, metric="score", mode="max")
    again.restore(str(tmp_path / "searcher.pkl"))
    states = [t.state for t in optuna.load_study(study_name="s", storage=url).trials]
    assert states == [optuna.trial.TrialState.FAIL, optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.FAIL]
