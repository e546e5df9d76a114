"""Cluster configs pass Ray's own validation and stay private; manifests parse; a real job on a local
multi-node cluster; submission errors."""
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from sweeps.cli.main import main
from ftlib.core.errors import ConfigError
from sweeps.jobs import build_job, env_values, load_runtime_env
from tests.local_cluster import agent_port, end_node, local_cluster

CLUSTER_YAMLS = ["cluster/aws.yaml", "cluster/gcp.yaml"]


@pytest.mark.parametrize("path", CLUSTER_YAMLS + ["cluster/local-sim.yaml"])
def test_cluster_yaml_passes_rays_schema(path):
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = yaml.safe_load(open(path))
    if config["provider"]["type"] == "fake_multinode":
        validate_config(config)  # its defaults file is missing from the wheel: the YAML carries every field
    else:
        validate_config(prepare_config(config))


@pytest.mark.parametrize("path", CLUSTER_YAMLS)
def test_cluster_yaml_keeps_the_dashboard_private_and_token_auth_on(path):
    config = yaml.safe_load(open(path))
    text = open(path).read()
    head = " ".join(config["head_start_ray_commands"])
    workers = " ".join(config["worker_start_ray_commands"])
    assert "--dashboard-host=127.0.0.1" in head and "0.0.0.0" not in text
    assert "RAY_AUTH_MODE=token" in head and "RAY_AUTH_MODE=token" in workers
    assert "8265" not in json.dumps(config["provider"])  # no firewall / security-group rule for the dashboard
    assert config["available_node_types"][config["head_node_type"]]["resources"].get("CPU") == 0
    assert any(t.get("resources", {}).get("GPU") for t in config["available_node_types"].values())
    assert "RAY_AUTH_TOKEN" not in text.replace("RAY_AUTH_TOKEN in the environment", "")
    # Train workers upload checkpoints to the object store themselves: every worker type has a cloud identity.
    identity = {"aws": "IamInstanceProfile", "gcp": "serviceAccounts"}[config["provider"]["type"]]
    workers = [t for n, t in config["available_node_types"].items() if n != config["head_node_type"]]
    assert all(identity in t["node_config"] for t in workers)
    # The token reaches every node as the file Ray reads by default, from the machine that runs `ray up`.
    assert config["file_mounts"] == {"~/.ray/auth_token": "~/.ray/auth_token"}
    if config["provider"]["type"] == "aws":
        # The launcher's own group opens SSH to the world: every node type names the user's group instead, and
        # workers get a role that can only use the sweep's bucket, not the autoscaler's EC2 and S3 access.
        assert all(t["node_config"].get("SecurityGroupIds") for t in config["available_node_types"].values())
        assert all(t["node_config"]["IamInstanceProfile"]["Name"] == "cocktail-worker" for t in workers)
        policy = json.load(open("cluster/iam/cocktail-worker-policy.json"))
        actions = [a for st in policy["Statement"] for a in st["Action"]]
        assert all(a.startswith("s3:") and "*" not in a for a in actions)
        assert all(st["Resource"].startswith("arn:aws:s3:::BUCKET") for st in policy["Statement"])


@pytest.mark.parametrize("path", CLUSTER_YAMLS + ["cluster/local-sim.yaml"])
def test_a_sweep_on_a_cluster_scaled_to_zero_counts_the_node_types(path, monkeypatch):
    """The sweep driver reads the autoscaler's YAML (`ray up` leaves it on the head) when no GPU node is up:
    LoRA trials fit one per 1-GPU node and eight per 8-GPU node, up to each type's max_workers."""
    from ftlib.core.configs import validate
    from ftlib.run.config import RunConfig
    from ftlib.placement.nodes import NodeGroup, autoscaler_node_types
    from sweeps.config import SweepConfig
    from sweeps.preflight.checks import check_resources

    config = yaml.safe_load(open(path))
    expected = sum(t["max_workers"] * int(t["resources"].get("GPU", 0))
                   for name, t in config["available_node_types"].items() if name != config["head_node_type"])
    monkeypatch.setenv("COCKTAIL_AUTOSCALING_CONFIG", path)
    monkeypatch.setattr("ray._private.state.state.get_cluster_config", lambda: None)
    types = autoscaler_node_types()
    assert {t.count for t in types} == {t["max_workers"] for n, t in config["available_node_types"].items()
                                        if n != config["head_node_type"]}
    sweep = validate(SweepConfig, {"name": "s", "pool": ["fpb"], "base": {"mixture": {"budget": 10}},
                                   "search": {"optuna": {"weights": ["fpb"]}}}, "s")
    lora = validate(RunConfig, {"mixture": {"sources": {"fpb": {"weight": 1}}, "budget": 10}, "use_gpu": True}, "r")
    assert check_resources(sweep, lora, [NodeGroup({"CPU": 0}, 1)], types) == expected > 0


def test_a_yaml_that_opens_the_dashboard_fails_the_check(tmp_path):
    bad = open("cluster/aws.yaml").read().replace("--dashboard-host=127.0.0.1", "--dashboard-host=0.0.0.0")
    (tmp_path / "aws.yaml").write_text(bad)
    with pytest.raises(AssertionError):
        test_cluster_yaml_keeps_the_dashboard_private_and_token_auth_on(str(tmp_path / "aws.yaml"))


def test_kuberay_manifests_carry_required_fields():
    cluster = yaml.safe_load(open("infra/kuberay/raycluster.yaml"))
    assert cluster["apiVersion"] == "ray.io/v1" and cluster["kind"] == "RayCluster"
    spec = cluster["spec"]
    assert spec["enableInTreeAutoscaling"] is True and spec["rayVersion"] == "2.60.0"
    for group in spec["workerGroupSpecs"]:
        assert {"groupName", "minReplicas", "maxReplicas", "rayStartParams", "template"} <= set(group)
        limits = group["template"]["spec"]["containers"][0]["resources"]["limits"]
        assert "nvidia.com/gpu" in limits
    job = yaml.safe_load(open("infra/kuberay/rayjob.yaml"))
    assert job["kind"] == "RayJob" and job["spec"]["shutdownAfterJobFinishes"] is True
    assert "cocktail sweep run" in job["spec"]["entrypoint"] and "rayClusterSpec" in job["spec"]
    # KubeRay reports no node types to the driver: the job says how many trials run at once, one per GPU pod.
    gpu_pods = sum(g["maxReplicas"] for g in job["spec"]["rayClusterSpec"]["workerGroupSpecs"])
    assert f"resources.max_concurrent_trials={gpu_pods}" in job["spec"]["entrypoint"]
    assert {g["groupName"] for g in spec["workerGroupSpecs"]} == {"gpu-1x", "gpu-8x"}
    pvc = yaml.safe_load(open("infra/kuberay/shared-pvc.yaml"))
    assert pvc["kind"] == "PersistentVolumeClaim" and pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    for doc in (spec, job["spec"]["rayClusterSpec"]):
        # Token auth through KubeRay's own API (its Secret, on every pod), not a token in a raw env var; the head
        # listens inside the cluster (a RayJob's submitter pod must reach it) behind a ClusterIP service only.
        assert doc["authOptions"] == {"mode": "token"} and "RAY_AUTH_TOKEN" not in json.dumps(doc)
        assert doc["headGroupSpec"]["serviceType"] == "ClusterIP"
        assert doc["headGroupSpec"]["rayStartParams"]["dashboard-host"] == "0.0.0.0"
        for group in [doc["headGroupSpec"], *doc["workerGroupSpecs"]]:
            claims = [v["persistentVolumeClaim"]["claimName"] for v in group["template"]["spec"].get("volumes", [])
                      if "persistentVolumeClaim" in v]
            assert claims == [pvc["metadata"]["name"]]


def test_dockerfile_pins_the_stack_and_runs_as_non_root():
    text = open("infra/docker/Dockerfile").read()
    assert "FROM nvidia/cuda" in text and "constraints" in text and "USER " in text
    assert "DS_BUILD_OPS" in text or "deepspeed" in text.lower()


def test_runtime_env_names_variables_and_never_values_nor_secrets(tmp_path):
    spec = load_runtime_env("cluster/runtime_env.yaml")
    assert env_values(spec, {"HF_HUB_ENABLE_HF_TRANSFER": "1", "HF_TOKEN": "secret", "UNRELATED": "x"}) == {
        "HF_HUB_ENABLE_HF_TRANSFER": "1"}
    needs = spec.model_copy(update={"env_vars": spec.env_vars.model_copy(update={"required": ["WANDB_PROJECT"]})})
    with pytest.raises(ConfigError, match=r"needs environment variables \['WANDB_PROJECT'\]"):
        env_values(needs, {})
    # A secret in a job's environment would show in `ray job list`: naming one is refused.
    (tmp_path / "env.yaml").write_text("env_vars: {optional: [AWS_SECRET_ACCESS_KEY, HF_TOKEN]}\n")
    with pytest.raises(ConfigError, match=r"names secrets \['AWS_SECRET_ACCESS_KEY', 'HF_TOKEN'\]"):
        load_runtime_env(tmp_path / "env.yaml")


def test_upload_over_the_cap_and_unreachable_address_are_clear_errors(tmp_path, capsys):
    (tmp_path / "cluster").mkdir()
    (tmp_path / "sweeps").mkdir()
    (tmp_path / "sweeps" / "s.yaml").write_text(open("sweeps/smoke.yaml").read())
    (tmp_path / "cluster" / "runtime_env.yaml").write_text("working_dir: .\nexcludes: []\n")
    with open(tmp_path / "big.bin", "wb") as f:
        f.truncate(101 * 1024 * 1024)
    shared = ["resources.storage_path=s3://bucket/sweeps", "base.data.dir=/mnt/shared/data"]
    with pytest.raises(ConfigError, match=r"uploads 101 MiB, over Ray's 100 MiB cap.*big.bin"):
        build_job(str(tmp_path / "sweeps" / "s.yaml"), str(tmp_path / "cluster" / "runtime_env.yaml"), shared)
    job = build_job("sweeps/smoke.yaml", "cluster/runtime_env.yaml", [*shared, "search.optuna.num_samples=3"])
    assert job["upload_bytes"] < 5 * 2**20 and job["entrypoint"] == (
        "python -m sweeps.cli.main sweep run sweeps/smoke.yaml --address auto --set resources.storage_path=s3://bucket"
        "/sweeps --set base.data.dir=/mnt/shared/data --set search.optuna.num_samples=3")
    # Paths that would land in the job's temporary working dir, and a bad override, fail here, not on the cluster.
    with pytest.raises(ConfigError, match="resources.storage_path 'outputs/sweeps' is relative"):
        build_job("sweeps/smoke.yaml", "cluster/runtime_env.yaml", shared[1:])
    with pytest.raises(ConfigError, match="base.data.dir 'outputs/data' is relative"):
        build_job("sweeps/smoke.yaml", "cluster/runtime_env.yaml", shared[:1])
    with pytest.raises(ConfigError, match="num_samples"):
        build_job("sweeps/smoke.yaml", "cluster/runtime_env.yaml", [*shared, "search.optuna.num_samples=zero"])
    assert main(["submit", "sweeps/smoke.yaml", "--address", "http://127.0.0.1:9",
                 *(part for item in shared for part in ("--set", item))]) == 2
    assert "cannot reach the Ray job server at 'http://127.0.0.1:9'" in capsys.readouterr().err


def test_submit_waits_for_a_job_agent_then_names_the_likely_cause(monkeypatch):
    import sweeps.jobs as submit_module

    class AgentlessServer:  # what Ray's job server answers while no node's job agent serves
        calls = 0

        def submit_job(self, **_):
            AgentlessServer.calls += 1
            if AgentlessServer.calls < 3:
                raise RuntimeError("Request failed with status code 500: No available agent to submit job")
            return "job-1"

    overrides = ["resources.storage_path=s3://b/s", "base.data.dir=/mnt/d"]
    monkeypatch.setattr(submit_module, "client_for", lambda address: AgentlessServer())
    monkeypatch.setattr(submit_module.time, "sleep", lambda s: None)
    assert submit_module.submit("sweeps/smoke.yaml", "http://head:8265", "cluster/runtime_env.yaml", overrides) \
        == "job-1" and AgentlessServer.calls == 3
    AgentlessServer.calls = -10**9
    monkeypatch.setattr(submit_module, "AGENT_WAIT_S", 0)
    with pytest.raises(ConfigError, match=r"http://head:8265 has had no job agent for 0 s.*52365"):
        submit_module.submit("sweeps/smoke.yaml", "http://head:8265", "cluster/runtime_env.yaml", overrides)


@pytest.mark.slow
def test_submit_runs_the_smoke_sweep_on_a_local_multi_node_cluster(tmp_path):
    from ray.job_submission import JobStatus, JobSubmissionClient

    # The cluster's `python` is this environment's, as the image's python is on a real cluster.
    env = {**os.environ, "RAY_ADDRESS": "", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    with local_cluster(gcs_port=6397, dashboard_port=8297, env=env) as cluster:
        url = cluster.url
        storage = tmp_path / "sweeps"
        assert main(["submit", "sweeps/smoke.yaml", "--address", url, "--set", f"resources.storage_path={storage}",
                     "--set", f"base.data.dir={tmp_path / 'data'}",
                     "--set", "search.optuna.num_samples=4", "--set", "base.worker_resources={accel: 1}",
                     "--set", "scheduler.kind=none", "--set", "base.max_steps=12"]) == 0
        client = JobSubmissionClient(url)
        job = client.list_jobs()[-1]
        deadline = time.time() + 540
        while client.get_job_status(job.submission_id) not in (JobStatus.SUCCEEDED, JobStatus.FAILED,
                                                               JobStatus.STOPPED) and time.time() < deadline:
            time.sleep(3)
        logs = client.get_job_logs(job.submission_id)
        assert client.get_job_status(job.submission_id) == JobStatus.SUCCEEDED, logs[-3000:]
        assert "leaderboard" in logs
        rows = pq.read_table(storage / "smoke" / "trials.parquet").to_pylist()
        assert len(rows) == 4 and all(r["state"] == "completed" for r in rows)
        nodes = {h["node_id"] for r in rows for h in json.loads(r["history"])}
        assert len(nodes) == 2  # trials ran on both nodes
        # Plain `ray job submit`, as the README shows it (a dry run: the upload, entrypoint and CLI are the same).
        plain = subprocess.run([str(Path(sys.executable).parent / "ray"), "job", "submit", "--address", url,
                                "--runtime-env-json", json.dumps({"working_dir": ".",
                                                                  "excludes": [".git", ".venv", "outputs"]}),
                                "--", "python", "-m", "sweeps.cli.main", "sweep", "run", "sweeps/smoke.yaml",
                                "--address", "auto", "--dry-run", "--set", f"base.data.dir={tmp_path / 'data'}"],
                               env=env, capture_output=True, text=True, timeout=300)
        assert plain.returncode == 0 and "succeeded" in plain.stdout, plain.stdout[-2000:] + plain.stderr[-2000:]
        assert "optuna search, 6 samples" in plain.stdout


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_token_auth_submit_works_with_the_token_and_is_refused_without(tmp_path):
    """A head started with RAY_AUTH_MODE=token: `cocktail submit` with the token gets its job running; a client
    without it is refused; the token is in no job listing."""
    import secrets
    import urllib.request

    token = secrets.token_hex(16)
    bin_dir = Path(sys.executable).parent
    home = tmp_path / "home"  # no ~/.ray/auth_token to fall back on
    home.mkdir()
    base = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    base.update(HOME=str(home), PATH=f"{bin_dir}:{os.environ['PATH']}")
    with_token = {**base, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token}
    url = "http://127.0.0.1:8296"
    head = subprocess.Popen([str(bin_dir / "ray"), "start", "--head", "--block", "--port=6396", "--num-cpus=2",
                             "--dashboard-host=127.0.0.1", "--dashboard-port=8296", "--disable-usage-stats",
                             *agent_port(),  # another Ray on the host (the suite's own) holds the default 52365
                             f"--temp-dir={tempfile.mkdtemp(prefix='raytoken', dir='/tmp')}"],
                            env=with_token, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        request = urllib.request.Request(f"{url}/api/version", headers={"Authorization": f"Bearer {token}"})
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                urllib.request.urlopen(request, timeout=5)
                break
            except OSError:
                time.sleep(1)
        submit = subprocess.run([sys.executable, "-m", "sweeps.cli.main", "submit", "sweeps/smoke.yaml", "--address",
                                 url, "--set", f"resources.storage_path={tmp_path / 'sweeps'}",
                                 "--set", f"base.data.dir={tmp_path / 'data'}"],
                                env=with_token, capture_output=True, text=True, timeout=300)
        assert submit.returncode == 0, submit.stdout[-2000:] + submit.stderr[-2000:]
        ray_cli = str(bin_dir / "ray")
        deadline = time.time() + 180
        listing = ""
        while time.time() < deadline and "RUNNING" not in listing and "SUCCEEDED" not in listing:
            time.sleep(2)
            listing = subprocess.run([ray_cli, "job", "list", "--address", url], env=with_token,
                                     capture_output=True, text=True, timeout=120).stdout
        assert "RUNNING" in listing or "SUCCEEDED" in listing, listing[-2000:]
        assert token not in listing
        refused = subprocess.run([ray_cli, "job", "list", "--address", url], env=base, capture_output=True,
                                 text=True, timeout=120)
        assert refused.returncode != 0 and token not in refused.stdout + refused.stderr
        assert re.search(r"Unauthorized|Authentication required", refused.stdout + refused.stderr), refused.stderr[-2000:]
    finally:
        end_node(head)
