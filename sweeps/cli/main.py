"""``cocktail``: one CLI composed from the verbs each layer owns, in an explicit list. Each verb's module adds its
parser and thin handlers; heavy libraries are imported inside the handlers, so ``cocktail --help`` loads none."""
from __future__ import annotations

import argparse
import sys
import traceback

from evaluation import cli as eval_verb
from ftlib.cli import data as data_verb
from ftlib.cli import model as model_verb
from ftlib.cli import train as train_verb
from ftlib.core.errors import CocktailError
from ftlib.core.verbosity import set_verbosity
from sweeps.cli import dashboard as dashboard_verb
from sweeps.cli import report as report_verb
from sweeps.cli import submit as submit_verb
from sweeps.cli import sweep as sweep_verb

VERBS = (data_verb, model_verb, train_verb, eval_verb, sweep_verb, report_verb, submit_verb, dashboard_verb)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cocktail", description="Multi-task fine-tuning sweeps on Ray.")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show the output of Ray's workers (training, data, model loading) here too")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for verb in VERBS:
        verb.add_parser(sub)
    return parser


# Errors of what a command read (a file, a table, a database, a YAML) rather than of cocktail itself: one line
# naming the file, exit 2 as for bad input. Matched by module, so that `cocktail --help` imports none of them.
INPUT_ERRORS = ("pyarrow", "sqlalchemy", "sqlite3", "yaml", "json")
# Values that follow these flags may start with "-" (`--constraint -openorca`): argparse would read an option.
DASH_VALUES = ("--constraint",)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(_dash_values(sys.argv[1:] if argv is None else argv))
    set_verbosity(args.verbose)
    try:
        return int(args.handler(args) or 0)
    except CocktailError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # one line; the traceback only when asked for (-v)
        if args.verbose:
            traceback.print_exc()
        hint = "" if args.verbose else " (cocktail -v ... shows the traceback)"
        print(f"error: {_describe(e)}{hint}", file=sys.stderr)
        return 2 if _input_error(e) else 1


def _input_error(e: Exception) -> bool:
    return isinstance(e, (OSError, UnicodeDecodeError)) or type(e).__module__.split(".")[0] in INPUT_ERRORS


def _describe(e: Exception) -> str:
    if isinstance(e, OSError) and e.filename:
        return f"{e.filename}: {e.strerror or e}"
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text[:500]}" if text else type(e).__name__


def _dash_values(argv: list[str]) -> list[str]:
    out, attach = [], False
    for arg in argv:
        out.append(f"{out.pop()}={arg}" if attach and arg.startswith("-") else arg)
        attach = arg in DASH_VALUES
    return out


if __name__ == "__main__":
    sys.exit(main())
