"""Twitter financial news sentiment: tweet -> Bearish / Bullish / Neutral."""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from ftlib.tasks.schema import Kind, TaskSpec
from ftlib.tasks.vocab import TICKERS, amount, cue, noisy_label, pick

LABELS = ("Bearish", "Bullish", "Neutral")
RAW_SCHEMA = pa.schema([("text", pa.string()), ("label", pa.int64())])

_POLAR = ("${t} {cue} {p}% after earnings", "${t} {cue} {p}% premarket", "Analysts: ${t} {cue} on {b} note",
          "${t} stock {cue} {p}% today", "${t} {cue} as volume spikes")
_NEUTRAL = ("${t} to present at {b} conference on Tuesday", "${t} files 10-Q for the quarter",
            "${t} schedules earnings call for next week", "What to watch: ${t} and {b} this week",
            "${t} declares regular dividend of ${c}")
_BROKERS = ("Morgan Stanley", "Goldman", "JPMorgan", "Citi", "Barclays", "UBS", "Jefferies", "Wells Fargo")
# The hub split is imbalanced towards Neutral (6,178 of 9,543); the samples keep that shape.
_PRIOR = (0.15, 0.2, 0.65)
_NOISE = 0.08


def _generate(rng: np.random.Generator, n: int) -> list[dict]:
    rows = []
    for _ in range(n):
        label = int(rng.choice(3, p=_PRIOR))
        fields = dict(t=pick(rng, TICKERS), p=amount(rng, 1, 30), b=pick(rng, _BROKERS), c=amount(rng, 0.05, 2.5, 2))
        if label == 2:
            text = pick(rng, _NEUTRAL).format(**fields)
        else:
            text = pick(rng, _POLAR).format(cue=cue(rng, label == 1), **fields)
            if rng.random() < 0.3:  # a distracting clause about yesterday, of either polarity
                text += f" though it {cue(rng, rng.random() < 0.5)} yesterday"
        rows.append({"text": f"{text} https://t.co/{int(rng.integers(10**9, 10**10)):x}",
                     "label": noisy_label(rng, label, 3, _NOISE)})
    return rows


SPEC = TaskSpec(
    name="twitter_sentiment",
    hub_id="zeroshot/twitter-financial-news-sentiment",
    kind=Kind.CLASSIFICATION,
    metric="classification",
    columns={"input": "text", "label": "label"},
    # The hub has no test split: its validation split is the test set every paper reports on,
    # so ours is carved from train.
    raw_splits={"train": "train", "validation": None, "test": "validation"},
    default_cap=5000,
    description="Finance tweets labelled Bearish / Bullish / Neutral.",
    raw_schema=RAW_SCHEMA,
    generate=_generate,
    labels=LABELS,
    label_names=LABELS,
    instruction="What is the sentiment of this tweet? Please choose an answer from {Bearish/Bullish/Neutral}.",
    offline_rows={"train": 600, "validation": 150},
)
