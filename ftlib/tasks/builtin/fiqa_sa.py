"""FiQA sentiment: a sentiment score in [-1, 1] for a financial headline or post, scored as 3 classes."""
from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

from ftlib.tasks.schema import Kind, TaskSpec
from ftlib.tasks.vocab import COMPANIES, amount, cue, noisy_label, pick

LABELS = ("negative", "neutral", "positive")
RAW_SCHEMA = pa.schema([("_id", pa.string()), ("sentence", pa.string()), ("target", pa.string()),
                        ("aspect", pa.string()), ("score", pa.float64()), ("type", pa.string())])
_POLAR = ("shares {cue} {p}% as margins move", "{cue} after the quarter", "stock {cue} on the news")
_NEUTRAL = ("to report results on Thursday", "holds annual meeting in {m}", "files quarterly statement")
_ASPECTS = {"negative": "Corporate/Risks", "neutral": "Corporate/Reporting", "positive": "Stock/Price Action"}
_MONTHS = ("March", "May", "July", "November")
# FiQA-SA leans positive, with few neutral rows.
_PRIOR = (0.33, 0.07, 0.60)
_NOISE = 0.08


def label_from_score(score: float | None) -> str | None:
    """negative < -0.1 <= neutral < 0.1 <= positive; None when the score is missing or outside [-1, 1]."""
    if score is None or math.isnan(score) or not -1.0 <= score <= 1.0:
        return None
    return "negative" if score < -0.1 else "neutral" if score < 0.1 else "positive"


def _generate(rng: np.random.Generator, n: int) -> list[dict]:
    rows = []
    for k in range(n):
        label = LABELS[int(rng.choice(3, p=_PRIOR))]
        company = pick(rng, COMPANIES)
        if label == "neutral":
            text = pick(rng, _NEUTRAL).format(m=pick(rng, _MONTHS))
        else:
            text = pick(rng, _POLAR).format(cue=cue(rng, label == "positive"), p=amount(rng, 1, 25))
        scored = LABELS[noisy_label(rng, LABELS.index(label), 3, _NOISE)]
        low, high = {"negative": (-0.9, -0.15), "neutral": (-0.08, 0.08), "positive": (0.15, 0.9)}[scored]
        rows.append({"_id": str(1000 + k), "sentence": f"{company} {text}", "target": company,
                     "aspect": _ASPECTS[label], "score": round(float(rng.uniform(low, high)), 3),
                     "type": pick(rng, ("headline", "post"))})
    return rows


def _label(table: pa.Table) -> pa.Table:
    labels = [label_from_score(s) for s in table.column("score").to_pylist()]
    # An unusable score keeps its text so the row is counted as label_out_of_range, not as empty.
    words = [w if w is not None else f"score={s}" for w, s in zip(labels, table.column("score").to_pylist())]
    return table.append_column("sentiment", pa.array(words, pa.string()))


SPEC = TaskSpec(
    name="fiqa_sa",
    hub_id="TheFinAI/fiqa-sentiment-classification",
    kind=Kind.CLASSIFICATION,
    metric="classification",
    columns={"id": "_id", "input": "sentence", "output": "sentiment"},
    raw_splits={"train": "train", "validation": "valid", "test": "test"},
    default_cap=None,  # not in the study's training mix: an evaluation task
    description="FiQA-SA headlines and posts with a sentiment score, scored as negative/neutral/positive.",
    raw_schema=RAW_SCHEMA,
    generate=_generate,
    labels=LABELS,
    # ChanceFocus/flare-fiqasa's `choices` as a public re-implementation of PIXIU's task table lists them (not
    # checked against the hub, which this machine cannot reach)
    flare_choices=("positive", "negative", "neutral"),
    instruction="What is the sentiment of this news? Please choose an answer from {negative/neutral/positive}.",
    derive=_label,
    offline_rows={"train": 400, "valid": 80, "test": 120},
)
