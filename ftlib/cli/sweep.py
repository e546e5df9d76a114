"""``cocktail sweep run | resume | status``."""
from __future__ import annotations

import argparse
import json
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
    sweep = sub.add_parser("sweep", help="run, resume or inspect a sweep (Ray Tune + Optuna)")
    verbs = sweep.add_subparsers(dest="sweep_verb", required=True, metavar="ACTION")
    r = verbs.add_parser("run", help="run a sweep YAML")
    r.add_argument("config")
    r.add_argument("--address", default=None, help="Ray address: auto, ray://host:10001, or none for a local Ray")
    r.add_argument("--name", default=None, help="experiment name (default: the YAML's name)")
    r.add_argument("--dry-run", action="store_true", help="check everything and list the trials; train nothing")
    r.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a sweep key (dotted path, e.g. base.data.source=offline), repeatable")
    r.set_defaults(handler=run)
    c = verbs.add_parser("resume", help="continue a sweep after a driver crash or Ctrl-C")
    c.add_argument("dir")
    c.add_argument("--address", default=None)
    c.set_defaults(handler=resume)
    s = verbs.add_parser("status", help="table of a sweep's trials")
    s.add_argument("dir")
    s.set_defaults(handler=show_status)


def run(args: argparse.Namespace) -> int:
    from sweeps.driver import load_sweep, run_sweep

    sweep = load_sweep(args.config, args.name, args.overrides)
    out = run_sweep(sweep, args.address, dry=args.dry_run)
    if args.dry_run:
        _print_dry_run(out["dry_run"])
        return 0
    return _print_result(out)


def resume(args: argparse.Namespace) -> int:
    from sweeps.driver import resume_sweep

    return _print_result(resume_sweep(args.dir, args.address))


def show_status(args: argparse.Namespace) -> int:
    from ftlib.cli.table import format_table
    from sweeps.driver import status
    from sweeps.results import mixture_text, params_text

    rows = status(args.dir)
    table = [[r["trial_id"], r["seed"], r["state"], mixture_text(r)[:60], params_text(r)[:40],
              "-" if r["objective"] is None else f"{r['objective']:.4f}", r["steps"] or "-", r["wall_s"] or "-"]
             for r in rows]
    print(format_table(["run", "seed", "state", "mixture (realized shares)", "params", "objective", "steps",
                        "wall_s"], table))
    states = [r["state"] for r in rows]
    print(f"\n{len(rows)} runs: " + ", ".join(f"{states.count(s)} {s}" for s in sorted(set(states))))
    return 0


def _print_dry_run(listing) -> None:
    from ftlib.cli.table import format_table

    if "space" in listing:
        print(f"optuna search, {listing['num_samples']} samples: trials are proposed as the sweep runs")
        return
    rows = [[i + 1, t["trial_id"], t["model"], t["epochs"], json.dumps(t["mixture"], ensure_ascii=False),
             "?" if t["est_tokens"] is None else f"{t['est_tokens']:,}"] for i, t in enumerate(listing["trials"])]
    print(format_table(["#", "trial", "model", "epochs", "mixture (rows)", "est. tokens"], rows))
    print(f"\n{len(rows)} trials")
    if listing["unprepared"]:
        tasks = ",".join(listing["unprepared"])
        print(f"not prepared yet: {tasks}. Their rows are upper bounds from the caps (≤) and tokens are unknown (?); "
              f"a dry run downloads nothing. `cocktail data prepare --tasks {tasks} --source {listing['source']}` "
              f"makes them exact.")


def _print_result(out) -> int:
    """Prints the outcome; 130 (as for Ctrl-C) when the sweep was interrupted before every trial ended."""
    from ftlib.cli.table import format_table

    states = [r["state"] for r in out["rows"]]
    print(f"\n{len(states)} runs: {states.count('completed')} completed, {states.count('stopped_early')} stopped "
          f"early by the scheduler, {states.count('errored')} errored ({out['wall_s']} s)")
    print(f"\nleaderboard ({out['objective']}, {out['mode']}; mean over seeds):")
    print(format_table(["rank", "run", out["objective"], "seeds", "mixture (realized shares)", "params"],
                       out["leaderboard"]))
    print(f"\nresults: {out['experiment_dir']}\n  trials table: {out['trials_file']}\n  TensorBoard: tensorboard "
          f"--logdir {out['experiment_dir']}/tune")
    if out["unfinished"]:
        print(f"\ninterrupted: {out['unfinished']} trial(s) unfinished; continue with `cocktail sweep resume "
              f"{out['experiment_dir']}`", file=sys.stderr)
        return 130
    return 0
