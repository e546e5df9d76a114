"""ASHA stops trials where Ray's placement-group cleaner cannot work: with a second Ray instance on the host,
and on a cluster started without the dashboard. Each sweep must finish, every trial once, every stopped
trial's workers released, and checkpoints bounded on disk. The first also runs with secrets in the
environment, and none may reach a file: outputs, config dumps, or the logs of the run's Ray session."""
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml

from tests.faults.helpers import checkpoint_bytes, cli_env, ray_head, run_cli, sweep_yaml, trials_table

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]
SAMPLES = 4


def _assert_finished(exp, result, keep: int = 2):
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    rows = trials_table(exp)
    states = [r["state"] for r in rows]
    assert len(rows) == SAMPLES and len({r["trial_id"] for r in rows}) == SAMPLES, states
    assert states.count("errored") == 0 and states.count("stopped_early") >= 1, states
    assert states.count("completed") >= 1, states
    # Disk stays bounded: each trial keeps at most keep_checkpoints checkpoints.
    total, largest, most = checkpoint_bytes(exp)
    assert most <= keep and total <= SAMPLES * keep * largest


SECRETS = {"HF_TOKEN": "hf_MARKERhftoken0123", "AWS_SECRET_ACCESS_KEY": "MARKERawssecret0123",
           "RAY_AUTH_TOKEN": "MARKERraytoken0123"}


def _files_holding(roots, markers) -> list[str]:
    found = []
    for root in roots:
        for path in Path(root).rglob("*"):
            if path.is_file() and not path.is_socket():
                data = path.read_bytes()
                found += [f"{path}: {name}" for name, value in markers.items() if value.encode() in data]
    return found


def test_asha_with_a_second_ray_on_the_host_and_secrets_set(prepared, tiny_model, tmp_path):
    ray_tmp = tempfile.mkdtemp(prefix="rs", dir="/tmp")  # this run's Ray session: logs, runtime envs
    env = cli_env(Path(tiny_model).parent, RAY_TMPDIR=ray_tmp, **SECRETS)
    config = sweep_yaml(tmp_path, "second-ray", prepared)
    try:
        with ray_head(6391, dashboard=False, cpus=1):  # another sweep, a notebook, a test run ...
            result = run_cli(["sweep", "run", str(config)], env, timeout=900)
        assert "started a new local instance" in result.stderr  # not joined to the other Ray
        _assert_finished(tmp_path / "sweeps" / "second-ray", result)
        # A single trial and a submission check, under the same environment.
        run = {"name": "secret-run", "model": {"name": "tiny-phi3"}, "mixture": {"sources": {"fpb": {"weight": 1}},
               "budget": 64}, "data": {"dir": str(prepared), "seq_len": 128, "val_examples": 4}, "max_steps": 2,
               "eval_every": 2, "output_dir": str(tmp_path / "runs")}
        (tmp_path / "run.yaml").write_text(yaml.safe_dump(run))
        train = run_cli(["train", str(tmp_path / "run.yaml")], env, timeout=600)
        assert train.returncode == 0, train.stderr[-3000:]
        submit = run_cli(["submit", "sweeps/smoke.yaml", "--address", "http://127.0.0.1:9", "--dry-run", "--set",
                          "resources.storage_path=s3://bucket/sweeps", "--set", "base.data.dir=/mnt/data"], env, 120)
        assert submit.returncode == 0, submit.stderr
        outputs = [result.stdout + result.stderr, train.stdout + train.stderr, submit.stdout + submit.stderr]
        assert not [name for name, v in SECRETS.items() for text in outputs if v in text]
        assert not _files_holding([tmp_path, ray_tmp], SECRETS)
        assert list(Path(ray_tmp).rglob("session_*/logs/*.log"))  # the session's logs were there to search
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)


def test_asha_on_a_cluster_without_the_dashboard(prepared, tiny_model, tmp_path):
    env = cli_env(Path(tiny_model).parent)
    config = sweep_yaml(tmp_path, "no-dashboard", prepared)
    with ray_head(6392, dashboard=False) as address:
        result = run_cli(["sweep", "run", str(config), "--address", address], env, timeout=900)
    assert f"joined the cluster at {address}" in result.stderr
    _assert_finished(tmp_path / "sweeps" / "no-dashboard", result)
