"""Outputs in a local directory or an object store (S3 through moto's server), through one set of calls."""
import json

import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from ftlib.core import storage
from ftlib.core.configs import validate
from ftlib.core.errors import ConfigError
from sweeps.config import SweepConfig
from sweeps.preflight.checks import check_storage
from sweeps.layout import experiment_dir
from sweeps.trial_table import _read_json, load_trials, write_trials


@pytest.fixture(params=["local", "s3"])
def root(request, tmp_path):
    return str(tmp_path / "out") if request.param == "local" else request.getfixturevalue("s3_bucket") + "/out"


def test_write_read_and_upload_round_trip(root, tmp_path):
    target = storage.join(root, "a", "b.json")
    assert storage.read_bytes(target) is None
    storage.write_bytes(target, b'{"x": 1}')
    assert storage.read_bytes(target) == b'{"x": 1}'
    storage.write_bytes(target, b'{"x": 2}')  # replaced whole
    assert json.loads(storage.read_bytes(target)) == {"x": 2}
    local = tmp_path / "run"
    (local / "model").mkdir(parents=True)
    (local / "model" / "weights.bin").write_bytes(b"\0" * 1000)
    (local / "plan.parquet").write_bytes(b"plan")
    storage.upload_dir(local, storage.join(root, "run"))
    assert storage.read_bytes(storage.join(root, "run", "model", "weights.bin")) == b"\0" * 1000
    assert storage.read_bytes(storage.join(root, "run", "plan.parquet")) == b"plan"


def test_unwritable_storage_is_one_clear_error(s3_bucket, tmp_path):
    with pytest.raises(ConfigError, match=r"resources.storage_path 's3://no-such-bucket/x' cannot be written: .*"
                                          r"(NoSuchBucket|NO_SUCH_BUCKET|does not exist)"):
        check_storage("s3://no-such-bucket/x")
    check_storage(s3_bucket + "/x")
    fs, path = pafs.FileSystem.from_uri(s3_bucket + "/x")
    assert [f.path for f in fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))] == []  # probe gone


def test_sweep_outputs_land_in_the_bucket(s3_bucket):
    sweep = validate(SweepConfig, {"name": "s3sweep", "pool": ["fpb"], "base": {"mixture": {"budget": 10}},
                                   "search": {"optuna": {"weights": ["fpb"]}},
                                   "resources": {"storage_path": s3_bucket + "/sweeps/"}}, "s")
    exp = experiment_dir(sweep)
    assert exp == s3_bucket + "/sweeps/s3sweep"
    storage.write_bytes(storage.join(exp, "trials", "r1", "trial.json"), b'{"wall_s": 3.5}')
    assert _read_json(storage.join(exp, "trials", "r1", "trial.json")) == {"wall_s": 3.5}
    assert _read_json(storage.join(exp, "trials", "r2", "trial.json")) == {}
    row = {"trial_id": "r1", "point_key": "p", "state": "completed"}
    path = write_trials(exp, [row])
    fs, key = pafs.FileSystem.from_uri(path)
    assert pq.read_table(key, filesystem=fs).to_pylist() == [row] == load_trials(exp)


@pytest.mark.slow
def test_a_sweep_with_its_storage_in_s3_runs_resumes_and_reports(prepared, tmp_path, s3_bucket, s3_endpoint):
    """`cocktail sweep run` with storage_path s3://…: Tune's state, checkpoints, trial files, models and
    trials.parquet land in the bucket; nothing is left staged on local disk; status reads it back; the same
    command again resumes it, a changed sweep under its name is refused."""
    import os
    import subprocess
    import sys
    import tempfile

    import yaml

    from tests.conftest import S3_TEST_ENV

    data = yaml.safe_load(open("sweeps/smoke.yaml"))
    data.update(name="ins3", scheduler={"kind": "none"})
    data["base"]["data"]["dir"] = str(prepared)
    data["base"]["max_steps"] = 8
    data["search"]["optuna"]["num_samples"] = 2
    data["resources"]["storage_path"] = s3_bucket + "/sweeps"
    (tmp_path / "ins3.yaml").write_text(yaml.safe_dump(data))
    env = {**os.environ, **S3_TEST_ENV, "AWS_ENDPOINT_URL": s3_endpoint, "RAY_ADDRESS": ""}
    cli = [sys.executable, "-m", "sweeps.cli.main", "sweep"]
    run = subprocess.run([*cli, "run", str(tmp_path / "ins3.yaml")], env=env, capture_output=True, text=True,
                         timeout=500)
    assert run.returncode == 0, run.stderr[-3000:]
    exp = s3_bucket + "/sweeps/ins3"
    fs, key = pafs.FileSystem.from_uri(exp + "/trials.parquet")
    rows = pq.read_table(key, filesystem=fs).to_pylist()
    assert [r["state"] for r in rows] == ["completed", "completed"]
    assert json.loads(storage.read_bytes(exp + "/sweep.json"))["name"] == "ins3"
    for row in rows:
        run_dir = f"{exp}/trials/{row['trial_id']}"
        trial = json.loads(storage.read_bytes(run_dir + "/trial.json"))
        assert trial["model_dir"] == run_dir + "/model" and trial["best_checkpoint"].startswith(run_dir + "/checkpoint_")
        assert json.loads(storage.read_bytes(run_dir + "/model/cocktail.json"))["method"] in ("full", "lora")
        history = storage.read_bytes(run_dir + "/metrics.jsonl").decode().splitlines()
        every = data["base"]["eval_every"]
        assert len(history) == trial["steps"] // every + (trial["steps"] % every != 0)  # and the last step
        checkpoint = fs.get_file_info(pafs.FileSelector(trial["best_checkpoint"].split("://")[1], recursive=True))
        assert any(f.path.endswith(".json") or f.path.endswith(".safetensors") for f in checkpoint)
        assert not os.path.exists(os.path.join(tempfile.gettempdir(), "cocktail-runs", row["trial_id"]))
    status = subprocess.run([*cli, "status", exp], env=env, capture_output=True, text=True, timeout=120)
    assert status.returncode == 0 and "2 runs: 2 completed" in status.stdout, status.stderr[-2000:]
    # The same command again resumes the sweep (as `sweep resume` does) and says so: no trial is added.
    again = subprocess.run([*cli, "run", str(tmp_path / "ins3.yaml")], env=env, capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"{exp} holds this same sweep: resuming it" in again.stdout
    assert pq.read_table(key, filesystem=fs).num_rows == 2
    # A changed sweep under the same name is refused before Ray starts: its trials would join the old study.
    changed = subprocess.run([*cli, "run", str(tmp_path / "ins3.yaml"), "--set", "search.optuna.num_samples=3"],
                             env=env, capture_output=True, text=True, timeout=120)
    assert changed.returncode == 2 and "[ray]" not in changed.stderr
    assert "holds a different sweep named 'ins3' (changed: search.optuna.num_samples)" in changed.stderr


def test_prepared_data_in_a_bucket_reads_like_a_directory(s3_bucket, prepared, monkeypatch):
    from ftlib.data.plan import make_plan
    from ftlib.data.spec import MixtureSpec
    from ftlib.tasks.prepare import prepare
    from ftlib.tasks.catalog import resolve_tasks
    from ftlib.tasks.store import read_manifest, read_split

    data = s3_bucket + "/data"
    manifest = prepare(resolve_tasks(["fpb"]), "offline", data, seed=42)
    assert read_manifest(data) == manifest
    here, local = ({k: v for k, v in m["tasks"]["fpb"].items() if k != "created"} for m in (manifest,
                                                                                           read_manifest(prepared)))
    assert here == local  # the same files, rows and hashes as in a local directory
    assert read_split(data, "fpb", "train").equals(read_split(prepared, "fpb", "train"))
    writes = []
    monkeypatch.setattr(storage, "write_bytes", lambda location, data: writes.append(location))
    prepare(resolve_tasks(["fpb"]), "offline", data, seed=42)
    assert writes == []  # a rerun of the same inputs writes nothing
    prepare(resolve_tasks(["fpb"]), "offline", data, seed=7)
    assert writes and writes[-1] == data + "/manifest.json"  # new bytes, and the manifest last
    spec = validate(MixtureSpec, {"sources": {"fpb": {"weight": 1}}, "budget": 40}, "m")
    assert make_plan(spec, data).hash == make_plan(spec, prepared).hash


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_atomic_writes_get_the_mode_the_umask_gives(tmp_path, umask):
    import os

    from ftlib.core.storage import atomic_dir, atomic_write_bytes

    old = os.umask(umask)
    try:
        atomic_write_bytes(tmp_path / "f.json", b"{}")
        with atomic_dir(tmp_path / "d") as d:
            (d / "x").write_bytes(b"")
        (tmp_path / "plain").write_bytes(b"")  # what any file created here gets
        (tmp_path / "plain_dir").mkdir()
    finally:
        os.umask(old)
    assert (tmp_path / "f.json").stat().st_mode & 0o777 == (tmp_path / "plain").stat().st_mode & 0o777
    assert (tmp_path / "d").stat().st_mode & 0o777 == (tmp_path / "plain_dir").stat().st_mode & 0o777


def test_an_ended_trial_keeps_its_checkpoints_weights_not_their_optimizer_state(tmp_path):
    from sweeps.tune.callbacks.trim_checkpoints import drop_optimizer_state

    run = tmp_path / "run"
    for name in ("checkpoint_2026-12-01_08-00-00.000001", "checkpoint_2026-12-01_08-00-05.000002"):
        for part in ("model", "state"):
            (run / name / part).mkdir(parents=True)
            (run / name / part / "blob").write_bytes(b"x" * 1000)
    (run / "model").mkdir()
    (run / "model" / "weights").write_bytes(b"w")
    assert drop_optimizer_state(str(run)) == 2
    assert not list(run.glob("checkpoint_*/state")) and len(list(run.glob("checkpoint_*/model/blob"))) == 2
    assert (run / "model" / "weights").exists() and drop_optimizer_state(str(run)) == 0
    assert drop_optimizer_state(str(tmp_path / "nowhere")) == 0
