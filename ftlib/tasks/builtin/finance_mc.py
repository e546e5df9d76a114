"""Domain knowledge as CFA / CPA-style multiple choice: a question, four options, one letter.

Real exam sets are licensed and cannot ship: load yours with ``--source PATH`` (``PATH/finance_mc/test.jsonl``
etc. in this raw schema). The offline samples ask definitional questions whose answer follows from the text.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from ftlib.tasks.schema import Kind, TaskSpec
from ftlib.tasks.vocab import pick

LETTERS = ("A", "B", "C", "D")
RAW_SCHEMA = pa.schema([("question", pa.string()), ("A", pa.string()), ("B", pa.string()), ("C", pa.string()),
                        ("D", pa.string()), ("answer", pa.string())])
_FACTS = (
    ("Which ratio measures a firm's ability to pay short-term obligations?", "current ratio"),
    ("Which statement reports revenues and expenses over a period?", "income statement"),
    ("Which measure discounts all future cash flows at the project's cost of capital?", "net present value"),
    ("Which risk cannot be removed by diversification?", "systematic risk"),
    ("Which bond feature lets the issuer redeem before maturity?", "call provision"),
    ("Which inventory method assigns the oldest costs to cost of goods sold?", "FIFO"),
    ("Which metric divides net income by shareholders' equity?", "return on equity"),
    ("Which yield equates a bond's price with its discounted cash flows?", "yield to maturity"),
)
_DISTRACTORS = tuple(answer for _, answer in _FACTS)


def _generate(rng: np.random.Generator, n: int) -> list[dict]:
    rows = []
    for k in range(n):
        question, answer = pick(rng, _FACTS)
        wrong = [d for d in _DISTRACTORS if d != answer]
        options = [answer] + [wrong[i] for i in rng.choice(len(wrong), size=3, replace=False)]
        order = rng.permutation(4)
        shuffled = [options[i] for i in order]
        rows.append({"question": f"Q{k + 1}. {question}", **dict(zip(LETTERS, shuffled)),
                     "answer": LETTERS[int(np.flatnonzero(order == 0)[0])]})
    return rows


def _as_prompt(table: pa.Table) -> pa.Table:
    """The question and its lettered options become the input; the letter is the output."""
    columns = {c: table.column(c).to_pylist() for c in RAW_SCHEMA.names}
    text = [q + "".join(f"\n{letter}. {columns[letter][i]}" for letter in LETTERS)
            for i, q in enumerate(columns["question"])]
    return table.append_column("prompt", pa.array(text, pa.string()))


SPEC = TaskSpec(
    name="finance_mc",
    hub_id="",  # licensed exam sets: no public hub source; see the module docstring
    kind=Kind.MULTIPLE_CHOICE,
    metric="multiple_choice",
    columns={"input": "prompt", "output": "answer"},
    raw_splits={"train": "train", "validation": None, "test": "test"},
    default_cap=None,
    description="CFA / CPA-style multiple choice on financial knowledge (letter accuracy).",
    raw_schema=RAW_SCHEMA,
    generate=_generate,
    labels=LETTERS,
    instruction="Answer the multiple choice question about finance. Reply with the letter of the correct option.",
    derive=_as_prompt,
    key_column="question",
    offline_rows={"train": 300, "test": 100},
    max_new_tokens=4,
)
