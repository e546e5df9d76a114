"""A worker node of a two-node cluster dies mid-trial (SIGKILL to its `ray start` process group): the sweep
finishes, the lost trial retried, none lost or duplicated."""
import json
import os
import sys
import time
from pathlib import Path

import pytest
from ray.tune import ExperimentAnalysis

from tests.faults.helpers import cli_env, finished_trials, start_cli, sweep_yaml, trials_table, wait_for
from tests.local_cluster import local_cluster

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]
SAMPLES = 4


def test_a_lost_worker_node_mid_trial_is_survived(prepared, tiny_model, tmp_path):
    env = cli_env(Path(tiny_model).parent, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    config = sweep_yaml(tmp_path, "node-loss", prepared, samples=SAMPLES, asha=False, max_steps=24,
                        worker_resources={"accel": 1})  # one trial per node
    exp = tmp_path / "sweeps" / "node-loss"
    with local_cluster(gcs_port=6398, dashboard_port=8298, env=env) as cluster:
        node = cluster.worker_node_id()
        driver = start_cli(["sweep", "run", str(config), "--address", cluster.address], env, tmp_path / "run.log")
        try:
            # Mid-trial: a trial still running has reported (and checkpointed) from the worker node.
            wait_for(lambda: _training_on(exp, node), "a trial training on the worker node", 600, driver)
            cluster.kill_worker_node()
            killed_at = time.time()
            rc = driver.wait(timeout=900)
        finally:
            if driver.poll() is None:
                driver.kill()
    log = (tmp_path / "run.log").read_text()
    assert rc == 0, log[-4000:]
    rows = trials_table(exp)
    assert len(rows) == SAMPLES and len({r["trial_id"] for r in rows}) == SAMPLES
    assert all(r["state"] == "completed" for r in rows), [r["state"] for r in rows]
    assert len(finished_trials(exp)) == SAMPLES
    retried = sum(t.run_metadata.num_failures for t in ExperimentAnalysis(str(exp / "tune")).trials)
    restarted = [p for p in exp.glob("trials/*/metrics.jsonl")
                 if len({json.loads(line)["node_id"] for line in p.read_text().splitlines()}) > 1]
    assert retried or restarted, "no trial was retried after the node died"
    print(f"node lost -> sweep done in {time.time() - killed_at:.0f} s; Tune retries {retried}, "
          f"Train runs moved node {len(restarted)}")


def _training_on(exp: Path, node: str) -> bool:
    for history in exp.glob("trials/*/metrics.jsonl"):
        if not (history.parent / "trial.json").exists():
            lines = history.read_text().splitlines()
            if any(json.loads(line).get("node_id") == node for line in lines if line.strip()):
                return True
    return False
