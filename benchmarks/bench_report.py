"""How long `cocktail report` takes on a simulated study (benchmarks, not a timed test).

The target: a 220-trial study (the study's 55-run design × 4 models), 9 sources of which 7 are targets, 3
seeds per trial, ~1,000 validation and test examples per task, 1,000 bootstrap resamples: <= 30 s on 2 cores.
Also printed: how the time grows with the trials (55, 220, 880). Writing the simulated study is not timed.

    python benchmarks/bench_report.py [--examples 1000] [--resamples 1000] [--models 1 4 16]
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from ftlib.tasks.catalog import FINANCIAL
from sweeps.report.build import build_report
from sweeps.report.simulate import random_truth, write_study

POOL = [*FINANCIAL, "openorca", "orca_math"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", type=int, default=1000)
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--models", type=int, nargs="+", default=[1, 4, 16])
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    truth = random_truth(rng, POOL, list(FINANCIAL), transfer_sd=0.3)
    work = Path(tempfile.mkdtemp(prefix="bench_report_"))
    print(f"{'trials':>6} {'runs':>6} {'write s':>8} {'report s':>9} {'s / 100 runs':>13}")
    try:
        for models in args.models:
            t = time.perf_counter()
            exp = write_study(work / f"m{models}", truth, args.seeds, args.examples, rng, models=models)
            written = time.perf_counter() - t
            t = time.perf_counter()
            build_report(str(exp), resamples=args.resamples)
            took = time.perf_counter() - t
            runs = 55 * models * args.seeds
            print(f"{55 * models:>6} {runs:>6} {written:>8.1f} {took:>9.1f} {100 * took / runs:>13.2f}", flush=True)
            shutil.rmtree(exp)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
