"""Two-stage search through the CLI, as a user runs it: the driver killed once stage 1 has ended, then the same
command again, which goes on at the stage after it (no proxy trial rerun), proposes, runs the proposals and
baselines at target scale and reports them; `sweep propose` on stage 1 proposes what stage 3 ran."""
import json
import os
import signal
from pathlib import Path

import pytest
import yaml

from sweeps.propose.design import face_design
from tests.faults.helpers import cli_env, finished_trials, process_group_alive, run_cli, start_cli, trials_table, \
    wait_for

POOL = ["fpb", "twitter_sentiment", "openorca"]
PROXY_TRIALS, TOP = 8, 2


def _config(tmp_path: Path, data_dir) -> Path:
    config = {
        "name": "two", "pool": POOL,
        "base": {"model": {"name": "tiny-phi3"}, "mixture": {"budget": 48, "unit": "examples"},
                 "data": {"dir": str(data_dir), "seq_len": 128, "val_examples": 8}, "micro_batch_size": 4,
                 "num_workers": 1, "epochs": 100, "max_steps": 4, "eval_every": 100},
        "two_stage": {"proxy": {"trials": PROXY_TRIALS, "set": {"max_steps": 2}},
                      "propose": {"top": TOP, "samples": 5000}},
        "objective": {"metrics": ["mean_financial"], "modes": ["max"], "limit": 8, "eval_mode": "score"},
        "resources": {"max_concurrent_trials": 2, "storage_path": str(tmp_path / "sweeps")},
        "seeds": [1], "report": {"resamples": 200},  # finalize after a sweep: the mini study's README test
    }
    path = tmp_path / "two.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _ended(parent: Path) -> list[str]:
    try:
        return json.loads((parent / "two_stage.json").read_text())["ended"]
    except (FileNotFoundError, json.JSONDecodeError):
        return []


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_two_stage_search_killed_after_stage_1_resumes_and_reports(prepared, tiny_model, tmp_path):
    env = cli_env(Path(tiny_model).parent)
    config = _config(tmp_path, prepared)
    parent = tmp_path / "sweeps" / "two"
    proxy, target = parent / "two-proxy", parent / "two-target"
    driver = start_cli(["sweep", "run", str(config)], env, tmp_path / "first.log")
    try:
        wait_for(lambda: "proxy" in _ended(parent), "stage 1 ended", 900, driver)
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait(timeout=60)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
            driver.wait()
    wait_for(lambda: not process_group_alive(driver.pid), "every process of the killed driver gone", 60)
    first = {p.parent.name: p.stat().st_mtime_ns for p in finished_trials(proxy)}
    assert len(first) == PROXY_TRIALS

    done = run_cli(["sweep", "run", str(config)], env, timeout=900)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-4000:]
    assert "stage 1/3" not in done.stdout and "stage 3/3" in done.stdout  # went on after stage 1
    assert {p.parent.name: p.stat().st_mtime_ns for p in finished_trials(proxy)} == first  # no proxy trial rerun
    proxy_rows = trials_table(proxy)
    assert len(proxy_rows) == PROXY_TRIALS and len({r["trial_id"] for r in proxy_rows}) == PROXY_TRIALS
    # The face-covering design of 8 over 3 tasks (seed 0): two tasks alone and a pair at equal shares (exactly
    # realized), a triple and four inside (realized to whole rows), all distinct.
    shares = {tuple(round(r[f"w_{t}"], 2) for t in POOL) for r in proxy_rows}
    faces = {tuple(w) for w in face_design(PROXY_TRIALS, len(POOL), 0)[:3]}
    assert len(shares) == PROXY_TRIALS and faces <= shares, (faces, shares)

    stage3 = yaml.safe_load((proxy / "proposals.yaml").read_text())
    mixtures = stage3["search"]["grid"]["mixtures"]
    # The proposals, then each objective task alone and the pool at equal weights (but one a proposal already is).
    baselines = [{"fpb": 1.0}, {"twitter_sentiment": 1.0}, {t: 1.0 for t in POOL}]
    assert len(mixtures) > TOP and mixtures[TOP:] == [b for b in baselines if b not in mixtures[:TOP]]
    assert stage3["base"]["max_steps"] == 4  # at target scale, not the proxy's 2 steps
    target_rows = [r for r in trials_table(target) if r["state"] == "completed"]
    assert len(target_rows) == len(mixtures) == len({r["trial_id"] for r in target_rows})
    assert all(r["steps"] == 4 for r in target_rows)
    assert all(r["steps"] == 2 for r in proxy_rows if r["state"] == "completed")

    report = target / "report"
    summary = (report / "summary.md").read_text()
    assert "11. The mixture surrogate" in summary and "CV Spearman" in summary
    rows = (report / "tables" / "surrogate_proposals.csv").read_text().splitlines()[1:]
    proposals = [r for r in rows if r.startswith("proposal")]
    assert len(proposals) == TOP and all(",not finished," not in r and r.split(",")[-1] == "1" for r in proposals)
    assert sum(r.startswith("baseline") for r in rows) == len(mixtures) - TOP
    assert "two-proxy, whose trials the surrogate of section 11 was fitted on, ran a fixed design" in summary
    header = (report / "tables" / "surrogate_proposals.csv").read_text().splitlines()[0]
    assert "sd" in header.split(",") and "ei when chosen" in header  # what the acquisition chose and why

    # The same first proposal through `sweep propose` (stage 2 is seeded; the CLI is what it runs).
    again = run_cli(["sweep", "propose", str(proxy), "--target", "val_loss_objective", "--top", "1",
                     "--samples", "5000", "--out", str(tmp_path / "again.yaml")], env, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert yaml.safe_load((tmp_path / "again.yaml").read_text())["search"]["grid"]["mixtures"] == mixtures[:1]
    # That later proposal does not change what stage 3's report says it was proposed from.
    rebuilt = run_cli(["report", str(parent), "--resamples", "200"], env, timeout=300)  # the search's directory
    assert rebuilt.returncode == 0 and f"{target}/report/index.html" in rebuilt.stdout, rebuilt.stderr[-2000:]
    rows = (report / "tables" / "surrogate_proposals.csv").read_text().splitlines()[1:]
    assert sum(r.startswith("proposal") for r in rows) == TOP

    changed = run_cli(["sweep", "run", str(config), "--set", "two_stage.proxy.trials=9"], env, timeout=300)
    assert changed.returncode != 0 and "two_stage.proxy.trials" in changed.stderr, changed.stderr[-2000:]
    assert len(trials_table(proxy)) == PROXY_TRIALS


@pytest.mark.parametrize("change,match", [
    ({"search": {"grid": {"design": "explicit", "mixtures": [{"fpb": 1.0}]}}}, "search: a two-stage sweep sets"),
    ({"two_stage": {"proxy": {"trials": 4}}}, "two_stage.proxy.trials"),
    ({"two_stage": {"proxy": {"set": {"optim.lrr": 0.1}}}}, "optim.lrr"),
    ({"two_stage": {"proxy": {"sampler": "grid"}}}, "two_stage.proxy.sampler"),
    ({"resources": {"storage_path": "s3://bucket/sweeps"}}, "resources.storage_path 's3://bucket/sweeps'"),
])
def test_a_bad_two_stage_config_is_one_clear_error(tmp_path, change, match):
    from ftlib.core.errors import ConfigError
    from sweeps.load import load_two_stage

    data = yaml.safe_load(open("sweeps/two_stage.yaml"))
    for key, value in change.items():
        data[key] = {**data.get(key, {}), **value} if key == "two_stage" else value
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=match.replace(".", r"\.")) as e:
        load_two_stage(str(path))
    assert str(path) in str(e.value)


def test_the_preset_is_a_face_design_proxy_of_fewer_steps_and_its_dry_run_shows_both_stages(capsys):
    from sweeps.cli.main import main
    from sweeps.load import load_two_stage
    from sweeps.two_stage import proxy_sweep

    spec = load_two_stage("sweeps/two_stage.yaml")
    proxy = proxy_sweep(spec)
    mixtures = proxy.search.grid.mixtures
    assert len(mixtures) == spec.two_stage.proxy.trials and {t for m in mixtures for t in m} == set(spec.pool)
    assert sorted(t for m in mixtures if len(m) == 1 for t in m) == sorted(spec.pool)  # every task alone
    assert spec.two_stage.propose.acquisition == "ei"
    assert proxy.base["max_steps"] < spec.base["max_steps"]
    assert main(["sweep", "run", "sweeps/two_stage.yaml", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "stage 1/3: 24 proxy trials" in out and "stage 3/3" in out
    # Stage 3: 3 proposals, fpb, twitter_sentiment and finqa alone, the pool at equal weights.
    assert "7 trials" in out
