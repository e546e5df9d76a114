"""``cocktail data``: prepare task data, show what a model will see."""
from __future__ import annotations

import argparse

from ftlib.cli.args import at_least
from ftlib.cli.table import format_table
from ftlib.tasks.store import DEFAULT_DATA_DIR


def add_parser(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="prepare and inspect task data and mixtures")
    verbs = data.add_subparsers(dest="data_verb", required=True, metavar="ACTION")

    p = verbs.add_parser("prepare", help="write canonical Parquet per task and split, plus manifest.json")
    p.add_argument("--tasks", default="all", help="'all' or comma-separated task names")
    p.add_argument("--source", default="offline", help="offline | hub | PATH (dir or s3:// gs:// file:// URI)")
    p.add_argument("--out", default=DEFAULT_DATA_DIR)
    p.add_argument("--seed", type=at_least(0), default=42)
    p.add_argument("--strict", action="store_true", help="fail on the first bad row or leaked text")
    p.add_argument("--offline-rows", type=at_least(1), default=None, help="train rows per task for --source offline")
    p.add_argument("--study", action="store_true",
                   help="prepare as the study did (validation beyond its caps, its input text), for mixtures with "
                        "selection: study")
    p.set_defaults(handler=_prepare)

    s = verbs.add_parser("show", help="print rendered prompts and targets of a prepared task")
    s.add_argument("task")
    s.add_argument("--split", default="train")
    s.add_argument("-n", type=at_least(1), default=3)
    s.add_argument("--data", default=DEFAULT_DATA_DIR)
    s.add_argument("--style", default="plain", choices=("plain", "chat"))
    s.add_argument("--tokenizer", default=None, help="tokenizer dir (for --style chat)")
    s.set_defaults(handler=_show)

    m = verbs.add_parser("mix", help="preview a mixture: realized counts, shares, repeats, tokens; write its plan")
    m.add_argument("--weights", help="TASK=W[,TASK=W...] (normalised; 0 drops a task)")
    m.add_argument("--budget", type=at_least(1), help="examples or tokens, see --unit")
    m.add_argument("--unit", default="examples", choices=("examples", "tokens"))
    m.add_argument("--fill", default="repeat", choices=("repeat", "cap"),
                   help="a share larger than its source: up-sample (repeat) or stop at the source's size (cap)")
    m.add_argument("--cap", action="append", default=[], metavar="TASK=N", help="distinct rows per task")
    m.add_argument("--temperature", type=float, default=None)
    m.add_argument("--spec", help="a mixture YAML (sources / budget / unit / fill / seed) instead of --weights")
    m.add_argument("--seed", type=at_least(0), default=None, help="overrides the spec's seed (default 42)")
    m.add_argument("--data", default=DEFAULT_DATA_DIR)
    m.add_argument("--tokenizer", default="tiny-phi3", help="counts tokens; an embedded model name or a path")
    m.add_argument("--style", default="plain", choices=("plain", "chat"))
    m.add_argument("--out", help="write the plan (Parquet) here")
    m.add_argument("--force", action="store_true", help="replace the file at --out")
    m.set_defaults(handler=_mix)


def _prepare(args: argparse.Namespace) -> int:
    from ftlib.tasks.prepare import prepare_selected  # deferred: datasets, 0.5 s

    names, manifest = prepare_selected(args.tasks, args.source, args.out, seed=args.seed, strict=args.strict,
                                       offline_rows=args.offline_rows, study=args.study)
    rows = []
    for name in names:
        entry = manifest["tasks"][name]
        splits = entry["splits"]
        dropped = {k: v for k, v in entry["dropped"].items() if v}
        rows.append([name, splits["train"]["rows"], splits["validation"]["rows"], splits["test"]["rows"],
                     ", ".join(f"{k}={v}" for k, v in dropped.items()) or "-"])
    print(format_table(["task", "train", "validation", "test", "dropped"], rows))
    print(f"\nwrote {args.out}/manifest.json")
    return 0


def _show(args: argparse.Namespace) -> int:
    from ftlib.data.preview import rendered_examples  # deferred: transformers (tokenizers), torch, 3.1 s

    records, total = rendered_examples(args.task, args.split, args.n, args.data, args.style, args.tokenizer)
    for record in records:
        print(f"===== {record['id']}  ({args.task}/{args.split}{', ' + record['group'] if record['group'] else ''})")
        print(record["prompt"], end="")
        print(record["output"])
        print()
    print(f"({total} rows in {args.task}/{args.split})")
    return 0


def _mix(args: argparse.Namespace) -> int:
    from ftlib.data import preview  # deferred: transformers (tokenizers), torch, 3.1 s

    spec = preview.mixture_spec(args.weights, args.budget, args.unit, args.fill, args.cap, args.temperature,
                                args.seed, args.spec)
    plan = preview.preview_mixture(spec, args.data, args.tokenizer, args.style, args.out, args.force)
    shares = plan.realized_shares()
    rows = [[s.task, f"{s.target_share:.2%}", s.rows, f"{shares[s.task]:.2%}", s.tokens, s.pool, f"{s.epochs:.2f}"]
            for s in plan.sources]
    rows.append(["total", "100%", plan.num_examples, "100%", sum(s.tokens for s in plan.sources), "", ""])
    print(format_table(["task", "target", "examples", f"share ({spec.unit})", "tokens", "pool", "epochs"], rows))
    print(f"\nplan {plan.hash}  (seed {spec.seed}, fill {spec.fill}; epochs > 1 = up-sampled)")
    if args.out:
        print(f"wrote {args.out}")
    return 0
