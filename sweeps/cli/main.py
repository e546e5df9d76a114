"""``cocktail``: one CLI composed from the verbs each layer owns, in an explicit list. Each verb's module adds its
parser and thin handlers; heavy libraries are imported inside the handlers, so ``cocktail --help`` loads none."""
from __future__ import annotations

import argparse
import sys

from evaluation import cli as eval_verb
from ftlib.cli import data as data_verb
from ftlib.cli import model as model_verb
from ftlib.cli import train as train_verb
from ftlib.core.errors import CocktailError
from ftlib.core.verbosity import set_verbosity
from sweeps.cli import report as report_verb
from sweeps.cli import submit as submit_verb
from sweeps.cli import sweep as sweep_verb

VERBS = (data_verb, model_verb, train_verb, eval_verb, sweep_verb, report_verb, submit_verb)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cocktail", description="Multi-task fine-tuning sweeps on Ray.")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show the output of Ray's workers (training, data, model loading) here too")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for verb in VERBS:
        verb.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    set_verbosity(args.verbose)
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
