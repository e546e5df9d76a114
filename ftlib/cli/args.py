"""Argument types the verbs share: a bad value is refused by argparse in one line naming its flag."""
from __future__ import annotations

import argparse
import math
from typing import Callable


def at_least(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number >= {low}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{value}: expected at least {low}")
        return value
    parse.__name__ = f"int >= {low}"
    return parse


def non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a finite number >= 0")
    return value


def name_list(text: str) -> list[str]:
    """``a,b``: names, each once, none empty."""
    names = [s.strip() for s in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated names, none empty")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise argparse.ArgumentTypeError(f"{text!r}: {', '.join(repeated)} named twice")
    return names


def seed_list(text: str) -> list[int]:
    """``1,2,3``: distinct seeds >= 0."""
    return [at_least(0)(s) for s in name_list(text)]
