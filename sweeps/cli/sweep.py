"""``cocktail sweep run | resume | finalize | status``."""
from __future__ import annotations

import argparse
import sys
import time
from typing import get_args

from ftlib.cli.args import at_least, name_list, seed_list
from sweeps.cli.printing import StepPrinter, print_finalize, print_proposals, print_status
from sweeps.config import Acquisition


def add_parser(sub: argparse._SubParsersAction) -> None:
    sweep = sub.add_parser("sweep", help="run, resume or inspect a sweep (Ray Tune + Optuna)")
    verbs = sweep.add_subparsers(dest="sweep_verb", required=True, metavar="ACTION")
    r = verbs.add_parser("run", help="run a sweep YAML")
    r.add_argument("config")
    r.add_argument("--address", default=None, help="Ray address: auto, ray://host:10001, or none for a local Ray")
    r.add_argument("--name", default=None, help="experiment name (default: the YAML's name)")
    r.add_argument("--dry-run", action="store_true", help="check everything and list the trials; train nothing")
    r.add_argument("--cluster", action="append", default=[], metavar="YAML",
                   help="with --dry-run: check memory per GPU on this cluster YAML's node types, repeatable")
    r.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a sweep key (dotted path, e.g. base.data.source=offline), repeatable")
    r.set_defaults(handler=_run)
    c = verbs.add_parser("resume", help="continue a sweep after a driver crash or Ctrl-C")
    c.add_argument("dir")
    c.add_argument("--address", default=None)
    c.set_defaults(handler=_resume)
    f = verbs.add_parser("finalize", help="select on validation, replicate over seeds, score the test split once")
    f.add_argument("dir")
    f.add_argument("--seeds", type=at_least(1), default=3, help="seeds per selected configuration (default 3)")
    f.add_argument("--tasks", type=name_list, default=None,
                   help="target tasks, comma-separated (default: those of the sweep's finalize: section, else its "
                        "objective tasks)")
    f.add_argument("--retest", action="store_true", help="score test splits again (the ledger and report show it)")
    f.add_argument("--address", default=None)
    f.set_defaults(handler=_finalize)
    pr = verbs.add_parser("propose", help="fit mixture surrogates on a sweep's trials; propose the next mixtures")
    pr.add_argument("dir")
    pr.add_argument("--target", default="objective", help="objective (default) or a task: its validation score")
    pr.add_argument("--top", type=at_least(1), default=5, help="mixtures to propose")
    pr.add_argument("--constraint", action="append", default=[], metavar="C",
                    help="TASK>=X, TASK<=X, +TASK (in every proposal), -TASK (in none); repeatable")
    pr.add_argument("--seeds", type=seed_list, default=None,
                    help="seeds the proposals run with, comma-separated (default: the sweep's)")
    pr.add_argument("--model", default=None, help="the base model whose trials to fit (default: the first)")
    pr.add_argument("--samples", type=int, default=100_000, help="Dirichlet draws searched (default 100,000)")
    pr.add_argument("--acquisition", choices=get_args(Acquisition), default="ei",
                    help="how the proposals are picked: expected improvement (default), upper confidence bound or "
                         "Thompson draws over the Gaussian process, or mean: the chosen model's best predictions")
    pr.add_argument("--out", default=None, help="the proposals' sweep YAML (default DIR/proposals.yaml)")
    pr.add_argument("--force", action="store_true", help="replace the file at --out")
    pr.set_defaults(handler=_propose)
    s = verbs.add_parser("status", help="table of a sweep's trials")
    s.add_argument("dir")
    s.set_defaults(handler=_status)


def _run(args: argparse.Namespace) -> int:
    from sweeps import pipeline  # deferred: ray.tune, ray.train, torch, transformers, optuna, 5.8 s

    started = time.time()
    stopped = pipeline.run_yaml(args.config, args.name, args.overrides, args.address, StepPrinter(),
                                dry=args.dry_run, clusters=args.cluster)
    return 0 if args.dry_run else _ended(stopped, started)


def _resume(args: argparse.Namespace) -> int:
    from sweeps import pipeline  # deferred: ray.tune, ray.train, torch, transformers, optuna, 5.8 s

    started = time.time()
    return _ended(pipeline.resume(args.dir, args.address, StepPrinter()), started)


def _ended(stopped: str | None, started: float) -> int:
    """130 (as for Ctrl-C) when the run stopped before its end; else the whole command's wall time."""
    if stopped is not None:
        if stopped:
            print(stopped, file=sys.stderr)
        return 130
    minutes, seconds = divmod(round(time.time() - started), 60)
    print(f"\ndone in {minutes} min {seconds:02d} s")
    return 0


def _finalize(args: argparse.Namespace) -> int:
    from sweeps.finalize import finalize  # deferred: ray.tune, ray.train, torch, transformers, 5.0 s

    out = finalize(args.dir, seeds=args.seeds, tasks=args.tasks, retest=args.retest, address=args.address)
    print_finalize(out)
    return 130 if out["unfinished"] else 0


def _propose(args: argparse.Namespace) -> int:
    from sweeps.propose.propose import propose_sweep  # deferred: sklearn, lightgbm, scipy, 1.0 s

    print_proposals(propose_sweep(args.dir, args.target, args.top, args.constraint, args.out, args.seeds,
                                  args.model, args.samples, force=args.force, acquisition=args.acquisition))
    return 0


def _status(args: argparse.Namespace) -> int:
    from sweeps.tune.experiment import sweep_status  # deferred: ray.tune, ray.train, torch, 4.7 s

    print_status(sweep_status(args.dir))
    return 0
