"""Orca-Math word problems: step-by-step solutions ending in the answer."""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from ftlib.tasks.schema import Kind, TaskSpec
from ftlib.tasks.vocab import PERSONS, arithmetic_question, pick

RAW_SCHEMA = pa.schema([("question", pa.string()), ("answer", pa.string())])
_ITEMS = ("apples", "shares", "bonds", "coins", "tickets", "books", "boxes")


def _shared(rng: np.random.Generator, who: str, item: str) -> tuple[str, str]:
    """The grammar FinQA and ConvFinQA use: a value, a change, or a sum of two values."""
    v0, v1 = (int(v) for v in rng.integers(10, 100, size=2))
    question, answer, working = arithmetic_question(rng, f"number of {item} {who} sold", "last year", "this year",
                                                    v0, v1)
    return (f"{who} sold {v0} {item} last year and {v1} {item} this year. {question[0].upper()}{question[1:]}",
            f"{working[0].upper()}{working[1:]}. The answer is {answer}.")


def _generate(rng: np.random.Generator, n: int) -> list[dict]:
    rows = []
    for _ in range(n):
        who, item = pick(rng, PERSONS).split()[0], pick(rng, _ITEMS)
        a, b = int(rng.integers(2, 200)), int(rng.integers(2, 60))
        kind = int(rng.integers(4))
        if kind < 2:
            q, s = _shared(rng, who, item)
        elif kind == 2:
            q = f"{who} buys {b} packs with {a} {item} each. How many {item} is that in total?"
            s = f"Multiply packs by {item} per pack: {b} * {a} = {a * b}. The answer is {a * b}."
        else:
            total = a * b
            q = f"{who} shares {total} {item} equally among {b} friends. How many {item} does each friend get?"
            s = f"Divide the {item} by the friends: {total} / {b} = {a}. The answer is {a}."
        rows.append({"question": q, "answer": s})
    return rows


SPEC = TaskSpec(
    name="orca_math",
    hub_id="microsoft/orca-math-word-problems-200k",
    kind=Kind.GENERATION,
    metric="final_number",
    columns={"instruction": "question", "output": "answer"},
    raw_splits={"train": "train", "validation": None, "test": None},
    default_cap=None,  # the study's size: G // 2
    description="Grade-school math word problems with step-by-step answers (Orca-Math).",
    raw_schema=RAW_SCHEMA,
    generate=_generate,
    offline_rows={"train": 800},
    max_new_tokens=64,
)
