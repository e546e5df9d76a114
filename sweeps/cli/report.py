"""``cocktail report DIR``: the study's findings as HTML, markdown, CSV tables and provenance (never trains)."""
from __future__ import annotations

import argparse

from ftlib.cli.args import at_least
from sweeps.cli.printing import print_report


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="turn a (finalized) sweep into the study's findings: HTML, markdown, CSV")
    p.add_argument("dir", help="a sweep directory (outputs/sweeps/<name>)")
    p.add_argument("--out", default=None, help="where to write (default: DIR/report)")
    p.add_argument("--compare", nargs="*", default=[], metavar="DIR2", help="other sweep directories, side by side")
    p.add_argument("--scoring", default="cocktail", choices=("cocktail", "finben", "fingpt"),
                   help="whose rule reads the outputs (the published references always use theirs)")
    p.add_argument("--resamples", type=at_least(100), default=1000, help="bootstrap resamples per interval")
    p.add_argument("--seed", type=at_least(0), default=0, help="seed of the bootstrap")
    p.add_argument("--force", action="store_true", help="replace the report an earlier run wrote to --out")
    p.set_defaults(handler=_report)


def _report(args: argparse.Namespace) -> int:
    from sweeps.report.build import build_report  # deferred: scipy, plotly, optuna, 0.6 s
    from sweeps.tracking import log_report  # deferred: mlflow, wandb, 1.7 s

    report = build_report(args.dir, args.out, tuple(args.compare), args.scoring, args.resamples, args.seed,
                          args.force)
    print_report(report)
    log_report(args.dir, report["out"])
    return 0
