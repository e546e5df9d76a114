"""benchmarks/bench_search.py's surfaces and its family table: each family's surfaces are scaled like scores and
know their optimum (no sampled mixture beats it), the control has no structure, and the bench runs end to end."""
import subprocess
import sys

import numpy as np
import pytest

sys.path.insert(0, "benchmarks")
from search_surfaces import CENTRE, FAMILIES, K, SPREAD, make_surface  # noqa: E402


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_is_scaled_like_scores_and_no_mixture_beats_its_optimum(family):
    rng = np.random.default_rng(5)
    W = np.concatenate([rng.dirichlet(np.ones(K), 3000), rng.dirichlet(np.full(K, 0.1), 3000), np.eye(K)])
    for index in range(3):
        surface = make_surface(family, index)
        values = surface.values(W)
        assert values.max() <= surface.optimum() + 1e-9, (family, index)
        flat = values[:3000]
        assert abs(flat.mean() - CENTRE) < 0.02 and 0.6 * SPREAD < flat.std() < 1.4 * SPREAD, (flat.mean(), flat.std())
    assert make_surface(family, 0).true(W[0]) == make_surface(family, 0).true(W[0])  # the same surface every run
    assert make_surface(family, 0).true(W[1]) != make_surface(family, 1).true(W[1])


def test_the_control_has_no_structure_nearby_mixtures_are_unrelated():
    surface = make_surface("control", 0)
    W = np.random.default_rng(6).dirichlet(np.ones(K), 500)
    near = np.clip(W + 0.001, 0, None)
    near /= near.sum(axis=1, keepdims=True)
    assert abs(np.corrcoef(surface.values(W), surface.values(near))[0, 1]) < 0.15


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_bench_prints_the_family_table():
    out = subprocess.run([sys.executable, "benchmarks/bench_search.py", "--family", "1", "--reps", "1", "--families",
                          "face,control", "--gp-surfaces", "0", "--jobs", "1"], capture_output=True, text=True,
                         timeout=580)
    assert out.returncode == 0, out.stderr[-3000:]
    for family in ("face", "control"):
        block = out.stdout.split(f"{family}: 1 surface(s) x 1 repetition(s)")[1].split("\n\n")[0]
        methods = [line.split()[0] for line in block.splitlines()[2:]]
        assert methods == ["grid", "random", "tpe", "cmaes", "surrogate"], block
        assert "0%" in next(line for line in block.splitlines() if line.startswith("random"))


@pytest.mark.timeout(600)
def test_a_surface_from_a_file_is_searched_and_its_optimum_read(tmp_path):
    surface = tmp_path / "mine.py"
    surface.write_text("def score(weights, rng):\n    return weights['fpb'] + rng.normal(0, 0.01)\n\n"
                       "def optimum():\n    return 1.0\n")
    out = subprocess.run([sys.executable, "benchmarks/bench_search.py", "--surface", str(surface), "--reps", "1",
                          "--gp-surfaces", "0", "--jobs", "1"], capture_output=True, text=True, timeout=580)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = {line.split()[0]: line.split() for line in out.stdout.splitlines() if line.split()[:1] and
            line.split()[0] in ("grid", "random", "surrogate")}
    assert float(rows["grid"][2]) == pytest.approx(0.0, abs=1e-9)  # the grid holds fpb alone: the optimum
    assert float(rows["surrogate"][2]) < float(rows["random"][2])
