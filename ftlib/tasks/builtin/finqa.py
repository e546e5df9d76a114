"""FinQA (FLARE format): a numeric question over pre-text, a pipe table and post-text."""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from ftlib.tasks.schema import Kind, TaskSpec
from ftlib.tasks.vocab import COMPANIES, arithmetic_question, number_text, pick, pipe_table, table_pair

RAW_SCHEMA = pa.schema([("id", pa.string()), ("query", pa.string()), ("answer", pa.string()), ("text", pa.string())])
_HEAD = "Please answer the given financial question based on the context."


_FILLER = ("the company operates in three segments .", "results include the effect of acquisitions .",
           "amounts are presented in accordance with gaap .", "see note 7 for further details .",
           "the prior year figures were reclassified .", "management reviews these items quarterly .")


def _generate(rng: np.random.Generator, n: int) -> list[dict]:
    rows = []
    for k in range(n):
        items, years, values, item, (i0, v0), (i1, v1) = table_pair(rng)
        question, answer, _ = arithmetic_question(rng, item, str(years[i0]), str(years[i1]), v0, v1)
        company = pick(rng, COMPANIES)
        filler = " ".join(pick(rng, _FILLER) for _ in range(int(rng.integers(1, 4))))
        context = (f"{company} ( in millions ) {filler} the following table summarizes {item} by year .\n"
                   f"{pipe_table(items, years, values)}\nno other items were material .")
        rows.append({
            "id": f"{company.replace(' ', '')}/{years[-1]}/page_{k}.pdf-{int(rng.integers(1, 9))}",
            "query": f"{_HEAD}\nContext: {context}\nQuestion: {question}\nAnswer:",
            "answer": number_text(answer, 2),
            "text": context,
        })
    return rows


def _split_query(table: pa.Table) -> pa.Table:
    """FLARE packs the instruction into ``query``: its first line is the instruction, the rest the input."""
    heads, rests = [], []
    for query in table.column("query").to_pylist():
        head, _, rest = (query or "").partition("\n")
        heads.append(head)
        rests.append(rest)
    return table.append_column("query_instruction", pa.array(heads, pa.string())).append_column(
        "query_input", pa.array(rests, pa.string()))


SPEC = TaskSpec(
    name="finqa",
    hub_id="ChanceFocus/flare-finqa",
    kind=Kind.NUMERIC_QA,
    metric="numeric_qa",
    columns={"id": "id", "instruction": "query_instruction", "input": "query_input", "output": "answer"},
    raw_splits={"train": "train", "validation": "valid", "test": "test"},
    default_cap=2000,
    description="Numeric questions over earnings-report text and tables (FinQA, FLARE release).",
    raw_schema=RAW_SCHEMA,
    generate=_generate,
    derive=_split_query,
    key_column="query",
    offline_rows={"train": 400, "valid": 80, "test": 100},
    max_new_tokens=16,
    study_input=lambda text: text.removeprefix("Context: "),  # the study's preparation strips it
)
