"""``cocktail eval``: score a model on tasks with the field's metrics."""
from __future__ import annotations

import argparse

from evaluation.profiles import PROFILES
from evaluation.readout import readouts
from ftlib.cli.args import at_least, non_negative
from ftlib.cli.table import format_table
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
    p.add_argument("--tasks", default="all", help="'all' or comma-separated task names")
    p.add_argument("--split", default="validation", choices=("validation", "test"),
                   help="test only when you mean it: every test scoring is recorded in test_ledger.jsonl, and a "
                        "model is scored on a task's test split once")
    p.add_argument("--retest", action="store_true", help="score a test split again (the ledger marks it)")
    p.add_argument("--limit", type=at_least(1), default=None, help="first N examples per task")
    p.add_argument("--mode", default="generate", choices=("generate", "score", "both"),
                   help="classification: generate and parse, or score each label's log-likelihood")
    p.add_argument("--style", default="plain", choices=("plain", "chat"))
    p.add_argument("--scoring", default="cocktail", choices=(*PROFILES, "all"),
                   help="whose reading of the outputs to print (all three are stored in scores.parquet): cocktail's, "
                        "FinBen's or FinGPT's published rule, or all three")
    p.add_argument("--data", default=DEFAULT_DATA_DIR)
    p.add_argument("--source", default="offline",
                   help="where tasks not yet prepared in --data come from, as in `cocktail train`: "
                        "offline | hub | PATH")
    p.add_argument("--seed", type=at_least(0), default=42, help="seed for preparing missing tasks")
    p.add_argument("--out", default=None,
                   help="default outputs/eval/<model hash>-<settings hash>: one directory per model and settings")
    p.add_argument("--force", action="store_true", help="replace the evaluation an earlier run wrote to --out")
    p.add_argument("--batch-size", type=at_least(1), default=16)
    p.add_argument("--trust-remote-code", action="store_true",
                   help="run the modelling / tokenizer code a model ships (off unless asked; --run takes its config's)")
    p.add_argument("--ray", action="store_true", help="run inference in a Ray Data actor pool")
    p.add_argument("--actors", type=at_least(1), default=1)
    p.add_argument("--gpus-per-actor", type=non_negative, default=0)
    p.add_argument("--address", default=None, help="with --ray: a Ray cluster to join (default: a new local Ray)")
    p.set_defaults(handler=_eval)




def _eval(args: argparse.Namespace) -> int:
    from evaluation import evaluate_model as ev  # deferred: torch, transformers, peft, ray.data, 3.9 s

    fields = {f: getattr(args, f) for f in ev.EvalRequest.__dataclass_fields__}
    out = ev.evaluate_model(ev.EvalRequest(**fields))
    profiles = PROFILES if args.scoring == "all" else (args.scoring,)
    rows = [[o.task, o.mode, o.profile, o.metric, o.value, _share(o.parsed), _blank(o.majority), o.n]
            for r in out.results for o in readouts(r, profiles)]
    print(format_table(["task", "mode", "scoring", "metric", "value", "parsed", "always majority", "n"], rows))
    print("(parsed: outputs read as a valid answer, the rest count wrong; always majority: the metric of answering "
          "the most frequent gold label every time; every metric of every profile is in scores.parquet)")
    print(f"\nmodel {out.digest} ({out.description}), split {args.split}; wrote {out.out}/scores.parquet and "
          f"{out.out}/predictions.parquet")
    return 0


def _share(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"


def _blank(value: float | None) -> object:
    return "" if value is None else value
