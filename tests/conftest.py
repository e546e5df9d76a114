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
    from ftlib.tasks.registry import resolve_tasks

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
    from ftlib.raysession import ensure_ray

    ray = ensure_ray(num_cpus=2, include_dashboard=True)
    yield ray
    ray.shutdown()


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
