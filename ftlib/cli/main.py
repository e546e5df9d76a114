"""``cocktail``: one CLI, one module per verb. Heavy libraries are imported inside the handlers."""
from __future__ import annotations

import argparse
import os
import sys

from ftlib.errors import CocktailError

VERBS = ("data", "model", "train", "eval", "sweep", "report", "submit")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cocktail", description="Multi-task fine-tuning sweeps on Ray.")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show the output of Ray's workers (training, data, model loading) here too")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for verb in VERBS:
        module = __import__(f"ftlib.cli.{verb}", fromlist=["add_parser"])
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.verbose:
        from ftlib.raysession import VERBOSE_ENV

        os.environ[VERBOSE_ENV] = "1"
    else:  # progress bars of model loading and data (here and in Ray's workers, which inherit the environment)
        os.environ.setdefault("TQDM_DISABLE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        return int(args.handler(args) or 0)
    except CocktailError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
