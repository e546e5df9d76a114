"""``cocktail eval``: score a model on tasks with the field's metrics."""
from __future__ import annotations

import argparse

from ftlib.tasks.store import DEFAULT_DATA_DIR


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="evaluate a model (base, merged, or base + LoRA adapter) on tasks")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--model", help="embedded name, model dir, a run's model/ dir, or hub id")
    which.add_argument("--run", help="a run YAML trained with `cocktail train`: evaluates the model that run produced "
                                     "(with the run's data dir and prompt style)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="with --run: the same overrides the run was trained with")
    p.add_argument("--adapter", default=None, help="LoRA adapter dir (a LoRA run's model/ dir is detected)")
    p.add_argument("--tasks", default="all")
    p.add_argument("--split", default="validation", choices=("validation", "test"),
                   help="test only when you mean it: every test scoring is recorded in test_ledger.jsonl, and a "
                        "model is scored on a task's test split once")
    p.add_argument("--retest", action="store_true", help="score a test split again (the ledger marks it)")
    p.add_argument("--limit", type=int, default=None, help="first N examples per task")
    p.add_argument("--mode", default="generate", choices=("generate", "score", "both"),
                   help="classification: generate and parse, or score each label's log-likelihood")
    p.add_argument("--style", default="plain", choices=("plain", "chat"))
    p.add_argument("--scoring", default="cocktail", choices=("cocktail", "finben", "fingpt"),
                   help="whose reading of the outputs to print (all three are stored in scores.parquet): cocktail's, "
                        "FinBen's or FinGPT's published rule")
    p.add_argument("--data", default=DEFAULT_DATA_DIR)
    p.add_argument("--source", default="offline",
                   help="where tasks not yet prepared in --data come from, as in `cocktail train`: "
                        "offline | hub | PATH")
    p.add_argument("--seed", type=int, default=42, help="seed for preparing missing tasks")
    p.add_argument("--out", default=None,
                   help="default outputs/eval/<model hash>-<settings hash>: one directory per model and settings")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--trust-remote-code", action="store_true",
                   help="run the modelling / tokenizer code a model ships (off unless asked; --run takes its config's)")
    p.add_argument("--ray", action="store_true", help="run inference in a Ray Data actor pool")
    p.add_argument("--actors", type=int, default=1)
    p.add_argument("--gpus-per-actor", type=float, default=0)
    p.add_argument("--address", default=None, help="with --ray: a Ray cluster to join (default: a new local Ray)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from evaluation.backends import LocalBackend, RayBackend
    from evaluation.harness import AT, headline_metric
    from evaluation.inference import load_for_eval
    from evaluation.run import model_hash, run_eval
    from ftlib import storage
    from ftlib.cli.table import format_table
    from ftlib.errors import ConfigError
    from ftlib.paths import anchor_model, model_exists
    from ftlib.tasks.prepare import ensure_prepared
    from ftlib.tasks.registry import resolve_tasks

    tasks = [s.name for s in resolve_tasks(args.tasks)]
    if args.run:
        args.model, args.data, args.style, trust = trained_model(args.run, args.overrides)
        args.trust_remote_code = args.trust_remote_code or trust
    for problem in filter(None, (model_exists(args.model), args.adapter and model_exists(args.adapter))):
        raise ConfigError(problem.replace("model.name", "--model" if args.model in problem else "--adapter", 1))
    data = storage.absolute(args.data)
    ensure_prepared(data, tasks, args.source, args.seed)  # before loading any model
    model, adapter = anchor_model(args.model), args.adapter and anchor_model(args.adapter)
    lm = load_for_eval(model, adapter, device="cpu" if args.ray else None, trust_remote_code=args.trust_remote_code)
    if args.ray:
        from ftlib.raysession import ensure_ray

        ensure_ray(args.address)
        backend = RayBackend(model, adapter, tokenizer=lm.tokenizer, actors=args.actors,
                             num_gpus=args.gpus_per_actor, batch_size=args.batch_size,
                             trust_remote_code=args.trust_remote_code)
    else:
        backend = LocalBackend(lm, args.batch_size)
    digest = model_hash(model, adapter)
    if args.out is None:
        from ftlib.io import canonical_hash

        settings = {"tasks": tasks, "split": args.split, "limit": args.limit, "mode": args.mode, "style": args.style,
                    "data": data}
        args.out = f"outputs/eval/{digest}-{canonical_hash(settings)}"
    results = run_eval(backend, tasks, data_dir=data, out=args.out, split=args.split, limit=args.limit,
                       mode=args.mode, style=args.style, digest=digest, retest=args.retest)
    suffix = "" if args.scoring == "cocktail" else f"{AT}{args.scoring}"
    shown = {f"{name}{suffix}" for name in ("accuracy", "missing_rate", "numeric_match")}
    rows = []
    for r in results:
        headline = headline_metric(r.task, args.scoring)
        for key in sorted(r.scores):
            if key.split("/")[-1] in {headline, *shown}:
                rows.append([r.task, key.split(AT)[0], r.scores[key], r.n])
    print(format_table(["task", "metric", "value", "n"], rows))
    print(f"(scoring: {args.scoring}; all profiles are in scores.parquet)")
    print(f"\nmodel {digest} ({lm.description}), split {args.split}; wrote {args.out}/scores.parquet and "
          f"{args.out}/predictions.parquet")
    return 0


def trained_model(run_yaml: str, overrides: list[str]) -> tuple[str, str, str, bool]:
    """The model dir, data dir and prompt style of a run trained with ``cocktail train`` (found by its config hash)."""
    from ftlib import storage
    from ftlib.cli.train import load_run_config
    from ftlib.errors import ConfigError

    cfg = load_run_config(run_yaml, overrides)
    run_dir = storage.join(cfg.output_dir, cfg.run_id())
    if storage.read_bytes(storage.join(run_dir, "trial.json")) is None:
        raise ConfigError(f"{run_yaml}: not trained yet ({run_dir} has no trial.json); run `cocktail train {run_yaml}`"
                          f" with the same --set overrides first")
    return storage.join(run_dir, "model"), cfg.data.dir, cfg.data.style, cfg.model.trust_remote_code
