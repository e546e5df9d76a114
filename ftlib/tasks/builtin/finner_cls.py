"""FinGPT NER-as-classification: the type of a named entity in a financial sentence."""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from ftlib.tasks.schema import Kind, TaskSpec
from ftlib.tasks.vocab import LOCATIONS, ORGANIZATIONS, PERSONS, amount, pick

LABELS = ("person", "organization", "location")
RAW_SCHEMA = pa.schema([("input", pa.string()), ("output", pa.string()), ("instruction", pa.string())])

_SENTENCES = (
    "This Loan Agreement is entered into by {o} , a bank located in {l} , and signed by {p} as Borrower .",
    "{p} , Chief Financial Officer of {o} , certifies the report filed in {l} .",
    "The Lender , {o} , shall pay ${a} million to {p} at its office in {l} .",
    "Notices to {p} shall be delivered to {o} , {l} , with a copy to counsel .",
)


def _generate(rng: np.random.Generator, n: int) -> list[dict]:
    rows: list[dict] = []
    while len(rows) < n:
        ents = {"person": pick(rng, PERSONS), "organization": pick(rng, ORGANIZATIONS), "location": pick(rng, LOCATIONS)}
        sentence = pick(rng, _SENTENCES).format(p=ents["person"], o=ents["organization"], l=ents["location"],
                                                a=amount(rng, 1, 90))
        for label in rng.permutation(LABELS)[: int(rng.integers(1, 4))]:
            rows.append({
                "input": sentence,
                "output": str(label),
                "instruction": (f"What is the entity type of '{ents[str(label)]}' in the input sentence.\n"
                                "Options: person, location, organization"),
            })
    return rows[:n]


SPEC = TaskSpec(
    name="finner_cls",
    hub_id="FinGPT/fingpt-ner-cls",
    kind=Kind.CLASSIFICATION,
    metric="classification",
    columns={"instruction": "instruction", "input": "input", "output": "output"},
    raw_splits={"train": "train", "validation": None, "test": "test"},
    default_cap=5000,
    description="Entity type (person / organization / location) of a named entity in loan-agreement text.",
    raw_schema=RAW_SCHEMA,
    generate=_generate,
    labels=LABELS,
    offline_rows={"train": 600, "test": 150},
)
