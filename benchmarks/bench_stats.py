"""The report's statistics against a known truth, over the regimes the designs use (evaluation/simulation.py,
sweeps/report/simulate.py). Prints:

1. configuration intervals (seed variance pooled over 8 configurations of a task): coverage where an interval is
   given, how often one is, ends outside [0, 1], mean width; S ∈ {2, 3, 5} seeds, p ∈ {0.5, 0.95},
   seed SD (logit) ∈ {0.15, 0.5}, n ∈ {64, 300} test examples;
2. 7 × 8 = 56-cell null pair-gain matrices: the share of studies with any cell significant after
   Benjamini-Hochberg (S ∈ {1, 2, 3}; at S = 1 also with the seed variance of 7 configurations that finalize
   replicated with 3 fresh seeds, the mini study's case);
3. the winner's curse: best multi-task − alone on test under the null, with finalize's fresh seeds and with the
   selecting runs reused (seed SD 0.15 and 0.3);
4. power: the planted pair-gain matrix's strong cells found.

    python benchmarks/bench_stats.py [--studies 400] [--quick]
"""
from __future__ import annotations

import argparse
import dataclasses
import itertools
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from evaluation.simulation import interval_coverage, null_matrix_false_positives
from sweeps.report.measures import Context
from sweeps.report.sections.transfer_matrices import transfer_matrices
from sweeps.report.simulate import Truth, best_multi_minus_alone, random_truth, write_study
from sweeps.report.study import load_study

POOL, TARGETS = ["fpb", "finqa", "orca_math"], ["fpb", "finqa"]


def coverage_grid(studies: int, rng) -> None:
    print("1. configuration intervals: coverage where given (95 % target: 0.93-0.98), share given, outside [0, 1]")
    print(f"{'S':>2} {'p':>5} {'seed SD':>8} {'n':>4}  {'coverage':>9} {'given':>6} {'outside':>8} {'width':>6}")
    for seeds, p, sd, n in itertools.product((2, 3, 5), (0.5, 0.95), (0.15, 0.5), (64, 300)):
        c = interval_coverage(rng, seeds, p, sd, n, studies)
        covered = f"{c.covered:.3f}" if c.given else "-"
        print(f"{seeds:>2} {p:>5} {sd:>8} {n:>4}  {covered:>9} {c.given:>6.2f} {c.outside_range:>8} {c.width:>6.3f}",
              flush=True)


def null_matrices(studies: int, rng) -> None:
    print("\n2. 56-cell null matrices: studies with any BH-significant cell (target <= 0.05)")
    for (seeds, replicated), p, sd, n in itertools.product(((1, 0), (1, 7), (2, 0), (3, 0)), (0.5, 0.95),
                                                           (0.15, 0.5), (64, 300)):
        rate = null_matrix_false_positives(rng, seeds, p, sd, n, studies, replicated=replicated)
        se = np.sqrt(max(rate * (1 - rate), 0.05 * 0.95) / studies)
        pooled = " + 7 replicated" if replicated else ""
        print(f"S={seeds}{pooled} p={p} seed SD={sd} n={n}: {rate:.3f} (± {se:.3f})", flush=True)


def winners_curse(studies: int, work: Path) -> None:
    print("\n3. the winner's curse under the null: best multi − alone on test (target |mean| <= 0.003, beats <= 0.05)")
    for seed_sd in (0.15, 0.3):
        found = {True: [], False: []}
        for k in range(studies):
            truth = dataclasses.replace(random_truth(np.random.default_rng(k), POOL, TARGETS, 0.0), seed_sd=seed_sd)
            for fresh in (True, False):
                exp = write_study(work / f"w{k}{fresh}", truth, seeds=1, examples=200, final_seeds=3,
                                  rng=np.random.default_rng(10_000 + k), fresh_seeds=fresh)
                found[fresh] += best_multi_minus_alone(exp)
                shutil.rmtree(exp)
        for fresh, label in ((True, "fresh seeds (finalize)"), (False, "selecting runs reused")):
            d = np.array(found[fresh])
            beats = ((d[:, 0] > 0) & (d[:, 1] < 0.05)).mean()
            se = d[:, 0].std(ddof=1) / np.sqrt(len(d))
            print(f"seed SD {seed_sd}, {label}: mean {d[:, 0].mean():+.4f} ± {se:.4f}, beats {beats:.3f} "
                  f"({len(d)} comparisons)", flush=True)


def power(studies: int, work: Path) -> None:
    print("\n4. power: the planted matrix's strong cells (logit shifts -0.8 and +1.0) found significant, with sign")
    truth = Truth(POOL, TARGETS, base={"fpb": 0.2, "finqa": 0.0},
                  transfer={("fpb", "finqa"): 0.0, ("fpb", "orca_math"): -0.8, ("finqa", "fpb"): 0.1,
                            ("finqa", "orca_math"): 1.0})
    for seeds, final_seeds, examples in ((1, 3, 600), (2, 2, 200), (3, 3, 600)):
        found = null = 0
        for k in range(studies):
            study = load_study(str(write_study(work / f"p{seeds}-{k}", truth, seeds=seeds, examples=examples,
                                               final_seeds=final_seeds, rng=np.random.default_rng(20_000 + k))))
            gain = transfer_matrices(study, Context(200, seed=1))[0]
            cells = {(r[0], r[1]): (float(r[2]), _p(r[6])) for r in gain.tables[0].rows}
            found += cells["finqa", "orca_math"][0] > 0 and cells["finqa", "orca_math"][1] < 0.05
            found += cells["fpb", "orca_math"][0] < 0 and cells["fpb", "orca_math"][1] < 0.05
            null += cells["fpb", "finqa"][1] < 0.05
            shutil.rmtree(work / f"p{seeds}-{k}")
        print(f"S={seeds} (finalize {final_seeds} fresh seeds), n={examples}: strong cells found {found / (2 * studies):.3f}; the null cell significant "
              f"{null / studies:.3f}", flush=True)


def _p(text: str) -> float:
    """A table's p column back to a number ("<0.001" as 0; an example-noise-only cell is never significant)."""
    return 0.0 if text == "<0.001" else 1.0 if text == "example noise only" else float(text)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--studies", type=int, default=400)
    ap.add_argument("--quick", action="store_true", help="a tenth of the studies: a smoke run")
    args = ap.parse_args()
    studies = max(20, args.studies // 10) if args.quick else args.studies
    rng = np.random.default_rng(2026)
    work = Path(tempfile.mkdtemp(prefix="bench_stats_"))
    started = time.time()
    coverage_grid(studies, rng)
    null_matrices(max(studies // 2, 20), rng)
    winners_curse(max(studies // 4, 20), work)
    power(max(studies // 8, 10), work)
    shutil.rmtree(work, ignore_errors=True)
    print(f"\n{time.time() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
