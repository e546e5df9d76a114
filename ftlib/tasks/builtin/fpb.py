"""Financial PhraseBank (50 %-agree split): sentence -> negative / neutral / positive."""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from ftlib.tasks.schema import Kind, TaskSpec
from ftlib.tasks.vocab import COMPANIES, METRICS, amount, cue, noisy_label, pick

LABELS = ("negative", "neutral", "positive")
RAW_SCHEMA = pa.schema([("sentence", pa.string()), ("label", pa.int64())])

_NEUTRAL = (
    "{c} will publish its interim report for the period on {d} .",
    "{c} 's annual general meeting will be held in {m} .",
    "The {metric} of {c} was EUR {a} mn in the same period a year earlier .",
    "{c} operates {n} stores and employs some {k} people .",
)
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October")
# The 50 %-agree split: 59 % neutral, 28 % positive, 12 % negative, and annotators who disagree.
_PRIOR = (0.12, 0.59, 0.29)
_NOISE = 0.12


def _generate(rng: np.random.Generator, n: int) -> list[dict]:
    rows = []
    for _ in range(n):
        label = int(rng.choice(3, p=_PRIOR))
        c = pick(rng, COMPANIES)
        if label == 1:
            text = pick(rng, _NEUTRAL).format(
                c=c, d=f"{int(rng.integers(1, 28))} {pick(rng, _MONTHS)}", m=pick(rng, _MONTHS),
                metric=pick(rng, METRICS), a=amount(rng), n=int(rng.integers(5, 900)), k=int(rng.integers(50, 9000)))
        else:
            text = f"{c} 's {pick(rng, METRICS)} {cue(rng, label == 2)} to EUR {amount(rng)} mn in {pick(rng, _MONTHS)}"
            if rng.random() < 0.3:  # a distracting clause about the year before, of either polarity
                text += f" , after it {cue(rng, rng.random() < 0.5)} a year earlier"
            text += " ."
        rows.append({"sentence": text, "label": noisy_label(rng, label, 3, _NOISE)})
    return rows


SPEC = TaskSpec(
    name="fpb",
    hub_id="odedovadia/financial_phrasebank_split",
    kind=Kind.CLASSIFICATION,
    metric="classification",
    columns={"input": "sentence", "label": "label"},
    raw_splits={"train": "train", "validation": None, "test": "test"},
    default_cap=5000,
    description="Financial PhraseBank sentences (50% agreement): sentiment of a news sentence.",
    raw_schema=RAW_SCHEMA,
    generate=_generate,
    labels=LABELS,
    # ChanceFocus/flare-fpb's `choices`, as issue 22 read them off the dataset (a third-party copy of PIXIU's task
    # table lists positive, negative, neutral: not checked against the hub, which this machine cannot reach)
    flare_choices=("positive", "neutral", "negative"),
    label_names=LABELS,
    instruction="What is the sentiment of this news? Please choose an answer from {negative/neutral/positive}.",
    offline_rows={"train": 600, "test": 150},
)
