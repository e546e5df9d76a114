"""Gold news headlines: 9 Yes/No questions per headline (FinGPT headline classification)."""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from ftlib.tasks.schema import Kind, TaskSpec
from ftlib.tasks.vocab import amount, cue, pick

LABELS = ("Yes", "No")
RAW_SCHEMA = pa.schema([("input", pa.string()), ("output", pa.string()), ("instruction", pa.string())])

# (question type, question) in FinGPT's wording; the type is what avg-F1 averages over.
QUESTIONS = (
    ("price_or_not", "Does the news headline talk about price?"),
    ("price_up", "Does the news headline talk about price going up?"),
    ("price_constant", "Does the news headline talk about price staying constant?"),
    ("price_down", "Does the news headline talk about price going down?"),
    ("past_price", "Does the news headline talk about price in the past?"),
    ("future_price", "Does the news headline talk about price in the future?"),
    ("past_event", "Does the news headline talk about a general event (apart from prices) in the past?"),
    ("future_event", "Does the news headline talk about a general event (apart from prices) in the future?"),
    ("asset_comparison", "Does the news headline compare gold with any other asset?"),
)
_SUFFIX = " Please choose an answer from {Yes/No}."
_STEADY = ("steady", "flat", "unchanged")  # up and down moves come from the shared sentiment lexicon
_FUTURE_MOVES = {"up": "seen rising", "down": "seen falling", "constant": "seen holding steady"}
_ASSETS = ("silver", "platinum", "the dollar", "equities", "bitcoin", "oil")
_EVENTS_PAST = ("mine strike ended", "central bank bought reserves", "refinery reopened", "ETF holdings were audited")
_EVENTS_FUTURE = ("mine to expand output", "central bank to review reserves", "exchange to launch contract",
                  "miners to meet on supply")
_MONTHS = ("jan", "feb", "april", "june", "aug", "oct", "dec")


def _headline(rng: np.random.Generator) -> tuple[str, dict[str, bool]]:
    has_price = rng.random() < 0.7
    move = pick(rng, ("up", "down", "constant"))
    future = rng.random() < 0.3
    compare = rng.random() < 0.2
    event_past = (not has_price) and rng.random() < 0.5
    event_future = (not has_price) and not event_past and rng.random() < 0.6
    month = pick(rng, _MONTHS)
    if has_price and future:
        text = f"gold {_FUTURE_MOVES[move]} near ${amount(rng, 1000, 2100)}/oz by {month}, analysts say"
    elif has_price:
        verb = pick(rng, _STEADY) if move == "constant" else cue(rng, move == "up")
        cents = int(rng.integers(5, 95))
        text = (f"{month} gold {verb} to settle at ${amount(rng, 1000, 2100)}/oz" if move == "constant"
                else f"{month} gold {verb} {cents} cents to settle at ${amount(rng, 1000, 2100)}/oz")
    elif event_past:
        text = f"gold {pick(rng, _EVENTS_PAST)} in {month}, {int(rng.integers(2, 40))} tonnes affected"
    elif event_future:
        text = f"gold {pick(rng, _EVENTS_FUTURE)} in {month}, {int(rng.integers(2, 40))} tonnes at stake"
    else:
        text = f"gold traders watch {month} jobs data, volume {int(rng.integers(100, 999))}k lots"
    if compare:
        text += f"; outpaces {pick(rng, _ASSETS)}"
    answers = {
        "price_or_not": has_price,
        "price_up": has_price and move == "up",
        "price_constant": has_price and move == "constant",
        "price_down": has_price and move == "down",
        "past_price": has_price and not future,
        "future_price": has_price and future,
        "past_event": event_past,
        "future_event": event_future,
        "asset_comparison": compare,
    }
    return text, answers


def _generate(rng: np.random.Generator, n: int) -> list[dict]:
    rows: list[dict] = []
    while len(rows) < n:
        text, answers = _headline(rng)
        for qtype, question in QUESTIONS:
            rows.append({"input": text, "output": "Yes" if answers[qtype] else "No",
                         "instruction": question + _SUFFIX})
    return rows


def _question_type(table: pa.Table) -> pa.Table:
    """Adds ``question_type`` from the instruction text (the raw data carries only the question)."""
    instructions = table.column("instruction").to_pylist()
    types = []
    for text in instructions:
        match = [qtype for qtype, question in QUESTIONS if text and text.startswith(question)]
        types.append(match[0] if match else "")
    return table.append_column("question_type", pa.array(types, pa.string()))


SPEC = TaskSpec(
    name="headline",
    hub_id="FinGPT/fingpt-headline-cls",
    kind=Kind.CLASSIFICATION,
    metric="headline",
    columns={"instruction": "instruction", "input": "input", "output": "output"},
    raw_splits={"train": "train", "validation": None, "test": "test"},
    default_cap=10000,
    description="Gold-market headlines with 9 Yes/No questions each; scored by avg-F1 over question types.",
    raw_schema=RAW_SCHEMA,
    generate=_generate,
    labels=LABELS,
    group_column="question_type",
    derive=_question_type,
    offline_rows={"train": 900, "test": 225},
    max_new_tokens=4,
)
