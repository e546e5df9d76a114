"""FiQA sentiment: a sentiment score in [-1, 1] for a financial headline or post, scored as 3 classes."""
from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

from ftlib.tasks.registry import register
from ftlib.tasks.schema import Kind, TaskSpec
from ftlib.tasks.vocab import COMPANIES, amount, pick

LABELS = ("negative", "neutral", "positive")
RAW_SCHEMA = pa.schema([("_id", pa.string()), ("sentence", pa.string()), ("target", pa.string()),
                        ("aspect", pa.string()), ("score", pa.float64()), ("type", pa.string())])
_PHRASES = {
    "negative": ("shares tumble {p}% as margins shrink", "faces lawsuit, stock under pressure",
                 "cuts outlook after weak quarter"),
    "neutral": ("to report results on Thursday", "holds annual meeting in {m}", "files quarterly statement"),
    "positive": ("shares surge {p}% on strong demand", "beats estimates and raises guidance",
                 "wins major contract, stock gains"),
}
_ASPECTS = {"negative": "Corporate/Risks", "neutral": "Corporate/Reporting", "positive": "Stock/Price Action"}
_MONTHS = ("March", "May", "July", "November")


def label_from_score(score: float | None) -> str | None:
    """negative < -0.1 <= neutral < 0.1 <= positive; None when the score is missing or outside [-1, 1]."""
    if score is None or math.isnan(score) or not -1.0 <= score <= 1.0:
        return None
    return "negative" if score < -0.1 else "neutral" if score < 0.1 else "positive"


def generate(rng: np.random.Generator, n: int) -> list[dict]:
    rows = []
    for k in range(n):
        label = pick(rng, LABELS)
        low, high = {"negative": (-0.9, -0.15), "neutral": (-0.08, 0.08), "positive": (0.15, 0.9)}[label]
        company = pick(rng, COMPANIES)
        text = pick(rng, _PHRASES[label]).format(p=amount(rng, 1, 25), m=pick(rng, _MONTHS))
        rows.append({"_id": str(1000 + k), "sentence": f"{company} {text}", "target": company,
                     "aspect": _ASPECTS[label], "score": round(float(rng.uniform(low, high)), 3),
                     "type": pick(rng, ("headline", "post"))})
    return rows


def _label(table: pa.Table) -> pa.Table:
    labels = [label_from_score(s) for s in table.column("score").to_pylist()]
    # An unusable score keeps its text so the row is counted as label_out_of_range, not as empty.
    words = [w if w is not None else f"score={s}" for w, s in zip(labels, table.column("score").to_pylist())]
    return table.append_column("sentiment", pa.array(words, pa.string()))


SPEC = register(TaskSpec(
    name="fiqa_sa",
    hub_id="TheFinAI/fiqa-sentiment-classification",
    kind=Kind.CLASSIFICATION,
    metric="classification",
    columns={"id": "_id", "input": "sentence", "output": "sentiment"},
    raw_splits={"train": "train", "validation": "valid", "test": "test"},
    default_cap=None,  # not in the study's training mix: an evaluation task
    description="FiQA-SA headlines and posts with a sentiment score, scored as negative/neutral/positive.",
    raw_schema=RAW_SCHEMA,
    generate=generate,
    labels=LABELS,
    instruction="What is the sentiment of this news? Please choose an answer from {negative/neutral/positive}.",
    derive=_label,
    offline_rows={"train": 400, "valid": 80, "test": 120},
))
