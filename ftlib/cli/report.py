"""``cocktail report DIR``: the study's findings as HTML, markdown, CSV tables and provenance (never trains)."""
from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="turn a (finalized) sweep into the study's findings: HTML, markdown, CSV")
    p.add_argument("dir", help="a sweep directory (outputs/sweeps/<name>)")
    p.add_argument("--out", default=None, help="where to write (default: DIR/report)")
    p.add_argument("--compare", nargs="*", default=[], metavar="DIR2", help="other sweep directories, side by side")
    p.add_argument("--scoring", default="cocktail", choices=("cocktail", "finben", "fingpt"),
                   help="whose rule reads the outputs (the published references always use theirs)")
    p.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples per interval")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from sweeps.report.build import build_report
    from sweeps.two_stage import report_dir

    print_report(build_report(report_dir(args.dir), args.out, tuple(report_dir(d) for d in args.compare), args.scoring,
                              args.resamples, args.seed))
    return 0


def print_report(report) -> None:
    print("\nfindings:")
    for line in report["headline"] or ["none passes its test yet (see the report for what is missing)"]:
        print(f"  - {line}")
    missing = [s.title for s in report["sections"] if s.missing]
    if missing:
        print(f"not computed (the report says why): {'; '.join(missing)}")
    print(f"\nreport: {report['out']}/index.html  (summary.md, tables/*.csv, provenance.json beside it)")
