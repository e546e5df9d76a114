"""``cocktail sweep run | resume | finalize | status``."""
from __future__ import annotations

import argparse
import json
import sys
import time


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
    r.set_defaults(handler=run)
    c = verbs.add_parser("resume", help="continue a sweep after a driver crash or Ctrl-C")
    c.add_argument("dir")
    c.add_argument("--address", default=None)
    c.set_defaults(handler=resume)
    f = verbs.add_parser("finalize", help="select on validation, replicate over seeds, score the test split once")
    f.add_argument("dir")
    f.add_argument("--seeds", type=int, default=3, help="seeds per selected configuration (default 3)")
    f.add_argument("--tasks", default=None, help="target tasks, comma-separated (default: the sweep's objective tasks)")
    f.add_argument("--retest", action="store_true", help="score test splits again (the ledger and report show it)")
    f.add_argument("--address", default=None)
    f.set_defaults(handler=finalize)
    pr = verbs.add_parser("propose", help="fit mixture surrogates on a sweep's trials; propose the next mixtures")
    pr.add_argument("dir")
    pr.add_argument("--target", default="objective", help="objective (default) or a task: its validation score")
    pr.add_argument("--top", type=int, default=5, help="mixtures to propose")
    pr.add_argument("--constraint", action="append", default=[], metavar="C",
                    help="TASK>=X, TASK<=X, +TASK (in every proposal), -TASK (in none); repeatable")
    pr.add_argument("--seeds", default=None, help="seeds the proposals run with, comma-separated (default: the sweep's)")
    pr.add_argument("--model", default=None, help="the base model whose trials to fit (default: the first)")
    pr.add_argument("--samples", type=int, default=100_000, help="Dirichlet draws searched (default 100,000)")
    pr.add_argument("--out", default=None, help="the proposals' sweep YAML (default DIR/proposals.yaml)")
    pr.set_defaults(handler=propose_cmd)
    s = verbs.add_parser("status", help="table of a sweep's trials")
    s.add_argument("dir")
    s.set_defaults(handler=show_status)


def run(args: argparse.Namespace) -> int:
    from sweeps.driver import load_sweep, run_sweep
    from sweeps.two_stage import is_two_stage, load_two_stage

    started = time.time()
    if is_two_stage(args.config):
        return _two_stage(load_two_stage(args.config, args.name, args.overrides), args.address, started,
                          args.dry_run, args.cluster)
    sweep = load_sweep(args.config, args.name, args.overrides)
    out = run_sweep(sweep, args.address, dry=args.dry_run, clusters=args.cluster)
    if args.dry_run:
        _print_dry_run_plans(out)
        return 0
    return _print_result(out) or _then_finalize_and_report(sweep, out["experiment_dir"], args.address, started)


def _two_stage(spec, address: str | None, started: float, dry: bool = False, clusters=()) -> int:
    """``sweep run`` of a two-stage YAML: each stage's outcome as its own verb prints it, then finalize and the
    report of stage 3."""
    from sweeps.two_stage import dry_run, parent_dir, run_two_stage

    titles = {"proxy": f"stage 1/3: {spec.two_stage.proxy.trials} proxy trials on {spec.two_stage.proxy.sampler} "
                       f"mixtures ({', '.join(f'{k} {v}' for k, v in spec.two_stage.proxy.set.items())})",
              "propose": "stage 2/3: mixture surrogates fitted on stage 1",
              "target": "stage 3/3: the proposals and baselines at target scale"}
    if dry:
        for stage, out in dry_run(spec, clusters).items():
            print(f"\n== {titles[stage]} ==" if stage == "proxy" else
                  f"\n== {titles['target']} (proposals counted as the pool at equal weights) ==")
            _print_dry_run_plans(out)
        return 0

    def on_stage(stage: str, out) -> None:
        print(f"\n== {titles[stage]} ==")
        if stage == "propose":
            _print_proposals(out)
        else:
            _print_result(out)

    out = run_two_stage(spec, address, on_stage)
    if out["unfinished"]:
        print(f"continue the two-stage search with `cocktail sweep resume {parent_dir(spec)}`", file=sys.stderr)
        return 130
    from sweeps.driver import saved_sweep

    return _then_finalize_and_report(saved_sweep(out["experiment_dir"]), out["experiment_dir"], address, started)


def propose_cmd(args: argparse.Namespace) -> int:
    from sweeps.proposals import propose_sweep

    seeds = [int(x) for x in args.seeds.split(",")] if args.seeds else None
    _print_proposals(propose_sweep(args.dir, args.target, args.top, args.constraint, args.out, seeds, args.model,
                                   args.samples))
    return 0


def _print_proposals(out) -> None:
    from ftlib.cli.table import format_table
    from sweeps.results import shares_text

    print(f"surrogates of {out['target']} ({out['model']}), {out['fits'][0].points} configurations from "
          f"{out['fits'][0].runs} runs, {len(out['fits'][0].tasks)} shares each; "
          f"{min(5, out['fits'][0].points)}-fold cross-validation:")
    print(format_table(["model", "CV Spearman", "CV R²", "chosen"],
                       [[f.name, f"{f.cv_spearman:.3f}", f"{f.cv_r2:.3f}", "*" if i == 0 else ""]
                        for i, f in enumerate(out["fits"])]))
    print("\nproposed (predicted ± sd):")
    print(format_table(["#", "mixture", "predicted"],
                       [[i + 1, shares_text(p["weights"]),
                         f"{p['predicted']:.4f} ± {p['std']:.4f}"] for i, p in enumerate(out["proposals"])]))
    print("\nbest measured:")
    print(format_table(["mixture", out["target"]],
                       [[shares_text(m), f"{y:.4f}"] for m, y in out["measured"]]))
    print(f"\nwrote {out['out']}: run the proposals with `cocktail sweep run {out['out']}`")


def resume(args: argparse.Namespace) -> int:
    from sweeps.driver import resume_sweep, saved_sweep
    from sweeps.two_stage import saved_two_stage

    started = time.time()
    spec = saved_two_stage(args.dir)
    if spec is not None:
        return _two_stage(spec, args.address, started)
    out = resume_sweep(args.dir, args.address)
    return _print_result(out) or _then_finalize_and_report(saved_sweep(out["experiment_dir"]), out["experiment_dir"],
                                                           args.address, started)


def _then_finalize_and_report(sweep, exp: str, address: str | None, started: float) -> int:
    """What the sweep's YAML asks for after the sweep: ``finalize`` and ``report``, as their verbs would; then
    the whole command's wall time."""
    if sweep.finalize is not None:
        from sweeps.finalize import finalize as run_finalize

        rc = _print_finalize(run_finalize(exp, seeds=sweep.finalize.seeds, tasks=sweep.finalize.tasks,
                                          address=address))
        if rc:
            return rc
    if sweep.report is not None:
        from ftlib.cli.report import print_report
        from sweeps.report.build import build_report

        print_report(build_report(exp, profile=sweep.report.scoring, resamples=sweep.report.resamples))
    minutes, seconds = divmod(round(time.time() - started), 60)
    print(f"\ndone in {minutes} min {seconds:02d} s")
    return 0


def finalize(args: argparse.Namespace) -> int:
    from sweeps.finalize import finalize as run_finalize

    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()] if args.tasks else None
    return _print_finalize(run_finalize(args.dir, seeds=args.seeds, tasks=tasks, retest=args.retest,
                                        address=args.address))


def _print_finalize(out) -> int:
    from ftlib.cli.table import format_table
    from sweeps.finalize import ROLE_TITLES

    table = []
    for model, by_task in out["selection"].items():
        for task, roles in by_task.items():
            for role, chosen in roles.items():
                table.append([model.rsplit("/", 1)[-1], task, ROLE_TITLES[role],
                              "-" if "missing" in chosen else f"{chosen['val']:.4f}",
                              chosen.get("missing") or ", ".join(chosen["tasks"])])
    print("\nselected on validation:")
    print(format_table(["model", "task", "role", "validation", "sources"], table))
    if out["unfinished"]:
        print(f"\ninterrupted: {out['unfinished']} rerun(s) unfinished; run finalize again to continue",
              file=sys.stderr)
        return 130
    print(f"\nreplicated over seeds {out['seeds']}; test split scored for {len(out['tested'])} (run, task) pairs now "
          f"(each once: {out['experiment_dir']}/test_ledger.jsonl)\nnext: cocktail report {out['experiment_dir']}")
    return 0


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


def _print_dry_run_plans(out) -> None:
    """A sweep's dry run: its trials, then memory per GPU, storage and compute."""
    _print_dry_run(out["dry_run"])
    print_memory(out["memory"], out["clusters"])
    print_disk(out["disk"])
    print_compute(out["cost"])


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
              f"a dry run downloads nothing. `cocktail data prepare --tasks {tasks} --source {listing['source']}"
              f"{' --study' if listing.get('study') else ''}` makes them exact.")


def print_compute(cost) -> None:
    from sweeps.budget import describe

    print("\n" + "\n".join(describe(cost, cost["where"])))


def print_disk(disk) -> None:
    from sweeps.capacity import describe_disk

    total, parts = disk
    if parts:
        print(f"\nstorage: about {total:,.1f} GB when the sweep ends (" +
              "; ".join(f"{m}: {describe_disk(d)}" for m, d in parts) + ")")


def print_memory(memory, clusters: list[str]) -> None:
    """The planner's estimate per model and GPU kind (train's and sweep's dry runs)."""
    from ftlib.planner.fit import describe, placement_advice

    if not memory:
        return
    where = f"on the node types of {', '.join(clusters)}" if clusters else \
        "on each GPU type (name the cluster with --cluster cluster/aws.yaml)"
    print(f"\nmemory per GPU, estimated from each model's config {where}:")
    for model, (source, fits, notes) in memory.items():
        print(f"{model} ({source}):")
        for fit in fits:
            print(describe(fit))
        if clusters and placement_advice(fits):
            print(placement_advice(fits))
        for note in notes:
            print(f"  {note}")


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
