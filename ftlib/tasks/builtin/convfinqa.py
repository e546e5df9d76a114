"""ConvFinQA (FinGPT format): multi-turn numeric questions over an earnings-report table."""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from ftlib.tasks.schema import Kind, TaskSpec
from ftlib.tasks.vocab import COMPANIES, html_table, number_text, pick, table_pair

RAW_SCHEMA = pa.schema([("input", pa.string()), ("output", pa.string()), ("instruction", pa.string())])
INSTRUCTION = ("Read the following texts and table with financial data from an S&P 500 earnings report carefully."
               "Based on the question-answer history (if provided), answer the last question. The answer may "
               "require mathematical calculation based on the data provided.\n")


def _generate(rng: np.random.Generator, n: int) -> list[dict]:
    rows = []
    for _ in range(n):
        items, years, values, item, (i0, v0), (i1, v1) = table_pair(rng)
        turns = [
            (f"what was the {item} in {years[i1]}?", number_text(v1)),
            (f"and in {years[i0]}?", number_text(v0)),
            ("what was the change over the years?", number_text(v1 - v0)),
            ("what is the percent change?", number_text((v1 - v0) / v0)),
        ]
        last = int(rng.integers(0, len(turns)))
        history = "".join(f"\nQuestion: {q}\nAnswer: {a}" for q, a in turns[:last])
        company = pick(rng, COMPANIES)
        pre = f"{company} reported the following results ( in millions ) for fiscal {years[-1]} ."
        post = f"the {item} figures are unaudited . amounts may not sum due to rounding ."
        rows.append({
            "input": f"{pre} {html_table(items, years, values)} {post}{history}\nQuestion: {turns[last][0]}\nAnswer:",
            "output": turns[last][1],
            "instruction": INSTRUCTION,
        })
    return rows


SPEC = TaskSpec(
    name="convfinqa",
    hub_id="FinGPT/fingpt-convfinqa",
    kind=Kind.NUMERIC_QA,
    metric="numeric_qa",
    columns={"instruction": "instruction", "input": "input", "output": "output"},
    raw_splits={"train": "train", "validation": None, "test": "test"},
    default_cap=2000,
    description="Conversational numeric QA over earnings-report text and HTML tables; answers are numbers.",
    raw_schema=RAW_SCHEMA,
    generate=_generate,
    offline_rows={"train": 400, "test": 100},
    max_new_tokens=16,
)
