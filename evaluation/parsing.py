"""From generated text to an answer: a label, a number, a letter. Pure functions."""
from __future__ import annotations

import re
from typing import Sequence

from ftlib.tasks.numbers import parse_number

MISSING = None  # no answer found: scored wrong, never mapped to a default


def first_line(text: str) -> str:
    """cocktail's reading of a one-line answer: the first line that is not blank, stripped (an output that opens
    with a newline keeps its answer; an explanation on later lines does not count)."""
    return next((line.strip() for line in (text or "").splitlines() if line.strip()), "")


def parse_label(text: str, labels: Sequence[str]) -> str | None:
    """The label that appears first in ``text`` (case-insensitive, whole words).

    Overlaps: the earliest match wins; at the same position the longest label wins, so "Stock Movement"
    is never read as a shorter label that it starts with; "Stock Commentary" and "Stock Movement" are
    told apart by their full text, never by the shared word "Stock".
    """
    lowered = text.lower()
    best: tuple[int, int, str] | None = None
    for label in labels:
        match = re.search(r"(?<!\w)" + re.escape(label.lower()) + r"(?!\w)", lowered)
        if match and (best is None or (match.start(), -len(label)) < (best[0], best[1])):
            best = (match.start(), -len(label), label)
    return best[2] if best else MISSING


_PERCENT = r"(?:%|per\s?cent\b)?"  # "12%", "12 percent", "12 per cent"
_NUMBER = re.compile(
    r"\(\s*[$€£]?\s*\d[\d,]*(?:\.\d+)?\s*" + _PERCENT + r"\s*\)"  # (12.5) accounting negative
    r"|[-+\u2212]?\s*[$€£]?\s*[-+\u2212]?\d[\d,]*(?:\.\d+)?\s*" + _PERCENT +
    r"|[-+\u2212]?\s*[$€£]?\s*\.\d+\s*" + _PERCENT,
    re.IGNORECASE,
)
_PERCENT_WORD = re.compile(r"per\s?cent", re.IGNORECASE)


def extract_numbers(text: str) -> list[tuple[float, bool]]:
    """Every number in ``text`` as (value, written as a percent), in order of appearance."""
    out = []
    for match in _NUMBER.finditer(text or ""):
        raw = _PERCENT_WORD.sub("%", match.group(0)).strip().replace(" ", "")
        value = parse_number(raw)
        if value is None:  # commas that are not thousands separators ("1,23"): read the digits
            value = parse_number(raw.replace(",", ""))
        if value is not None:
            out.append((value, raw.endswith("%") or raw.endswith("%)")))
    return out


def first_number(text: str) -> tuple[float, bool] | None:
    numbers = extract_numbers(text)
    return numbers[0] if numbers else None


# Where a sentence gives its answer: "The operating income in 2012 was $96." states 96, not the year before it.
_ANSWER_MARK = re.compile(r"(?<!\w)(?:is|was|were|are|equals?|answer)(?!\w)|[=:]", re.IGNORECASE)


def answer_number(text: str) -> tuple[float, bool] | None:
    """The number an answer states: the first after the last "is / was / were / are / equals / answer / = / :"
    that a number follows, else the first number of the text ("96", "$96 million", "Answer: 96" alike)."""
    text = text or ""
    for mark in reversed(list(_ANSWER_MARK.finditer(text))):
        after = first_number(text[mark.end():])
        if after is not None:
            return after
    return first_number(text)


def last_number(text: str) -> tuple[float, bool] | None:
    numbers = extract_numbers(text)
    return numbers[-1] if numbers else None


def parse_letter(text: str, letters: str = "ABCDE") -> str | None:
    """``"B"``, ``"(B)"``, ``"B."``, ``"Answer: B"``, ``"b) ..."`` -> ``"B"``; the first standalone letter."""
    match = re.search(rf"(?<![A-Za-z])([{letters}{letters.lower()}])(?![A-Za-z])", text or "")
    return match.group(1).upper() if match else None
