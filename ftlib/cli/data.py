"""``cocktail data``: prepare task data, show what a model will see."""
from __future__ import annotations

import argparse

from ftlib.tasks.store import DEFAULT_DATA_DIR


def add_parser(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="prepare and inspect task data and mixtures")
    verbs = data.add_subparsers(dest="data_verb", required=True, metavar="ACTION")

    p = verbs.add_parser("prepare", help="write canonical Parquet per task and split, plus manifest.json")
    p.add_argument("--tasks", default="all", help="'all' or comma-separated task names")
    p.add_argument("--source", default="offline", help="offline | hub | PATH (dir or s3:// gs:// file:// URI)")
    p.add_argument("--out", default=DEFAULT_DATA_DIR)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--strict", action="store_true", help="fail on the first bad row or leaked text")
    p.add_argument("--offline-rows", type=int, default=None, help="train rows per task for --source offline")
    p.set_defaults(handler=prepare)

    s = verbs.add_parser("show", help="print rendered prompts and targets of a prepared task")
    s.add_argument("task")
    s.add_argument("--split", default="train")
    s.add_argument("-n", type=int, default=3)
    s.add_argument("--data", default=DEFAULT_DATA_DIR)
    s.add_argument("--style", default="plain", choices=("plain", "chat"))
    s.add_argument("--tokenizer", default=None, help="tokenizer dir (for --style chat)")
    s.set_defaults(handler=show)


def prepare(args: argparse.Namespace) -> int:
    from ftlib.cli.table import format_table
    from ftlib.tasks.prepare import prepare as run_prepare
    from ftlib.tasks.registry import resolve_tasks

    specs = resolve_tasks(args.tasks)
    manifest = run_prepare(specs, args.source, args.out, seed=args.seed, strict=args.strict,
                           offline_rows=args.offline_rows)
    rows = []
    for spec in specs:
        entry = manifest["tasks"][spec.name]
        splits = entry["splits"]
        dropped = {k: v for k, v in entry["dropped"].items() if v}
        rows.append([spec.name, splits["train"]["rows"], splits["validation"]["rows"], splits["test"]["rows"],
                     ", ".join(f"{k}={v}" for k, v in dropped.items()) or "-"])
    print(format_table(["task", "train", "validation", "test", "dropped"], rows))
    print(f"\nwrote {args.out}/manifest.json")
    return 0


def show(args: argparse.Namespace) -> int:
    from ftlib.tasks.prompts import render_prompt
    from ftlib.tasks.registry import get_task
    from ftlib.tasks.store import read_split

    get_task(args.task)
    table = read_split(args.data, args.task, args.split)
    tokenizer = None
    if args.style == "chat":
        from ftlib.models.tokenizer import load_tokenizer

        tokenizer = load_tokenizer(args.tokenizer)
    for record in table.slice(0, args.n).to_pylist():
        print(f"===== {record['id']}  ({args.task}/{args.split}{', ' + record['group'] if record['group'] else ''})")
        print(render_prompt(record, args.style, tokenizer), end="")
        print(record["output"])
        print()
    print(f"({table.num_rows} rows in {args.task}/{args.split})")
    return 0
