import os

# Nothing in the suite may reach the network or write Ray auth tokens under ~/.ray.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest


@pytest.fixture(scope="session")
def prepared(tmp_path_factory):
    """Every task prepared offline (seed 42), shared by the session's tests."""
    from ftlib.tasks.prepare import prepare
    from ftlib.tasks.catalog import resolve_tasks

    out = tmp_path_factory.mktemp("data")
    prepare(resolve_tasks("all"), "offline", out, seed=42)
    return out


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """The embedded tiny Phi-3 and its tokenizer, built once."""
    from ftlib.models.tiny import build_tiny

    return str(build_tiny("phi3", tmp_path_factory.mktemp("models") / "tiny-phi3"))


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray for the session (starting one costs seconds). The dashboard stays on: Ray's cleaner
    of placement groups left by trials that Tune stops relies on it (ray-project/ray#54305)."""
    from ftlib.placement.session import ensure_ray

    ray = ensure_ray(num_cpus=2, include_dashboard=True)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def s3_endpoint():
    """An S3 endpoint on localhost (moto's server): object-store storage goes through the real S3 protocol."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


S3_TEST_ENV = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture
def s3_bucket(s3_endpoint, monkeypatch):
    """A fresh bucket, as ``s3://name``; this process's environment points the AWS SDKs at the endpoint."""
    import uuid

    import boto3

    for key, value in {**S3_TEST_ENV, "AWS_ENDPOINT_URL": s3_endpoint}.items():
        monkeypatch.setenv(key, value)
    name = f"cocktail-{uuid.uuid4().hex[:8]}"
    boto3.client("s3").create_bucket(Bucket=name)
    return f"s3://{name}"


@pytest.fixture
def small_study():
    """The study's recipe with small caps (the offline samples hold more rows than these), and the caps."""
    import yaml

    recipe = yaml.safe_load(open("sweeps/mixtures/study_all.yaml"))
    caps = {"headline": 90, "fpb": 50, "finner_cls": 50, "convfinqa": 20, "twitter_topics": 25,
            "twitter_sentiment": 50, "finqa": 20}
    for task, cap in caps.items():
        recipe["sources"][task]["cap"] = cap
    recipe["sources"]["openorca"]["rows"]["sum_of"] = caps
    recipe["sources"]["orca_math"]["rows"]["sum_of"] = caps
    return recipe, caps
