"""Twitter financial news sentiment: tweet -> Bearish / Bullish / Neutral."""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from ftlib.tasks.registry import register
from ftlib.tasks.schema import Kind, TaskSpec
from ftlib.tasks.vocab import TICKERS, amount, pick

LABELS = ("Bearish", "Bullish", "Neutral")
RAW_SCHEMA = pa.schema([("text", pa.string()), ("label", pa.int64())])

_TEMPLATES = {
    0: ("${t} sinks {p}% after weak guidance", "${t} downgraded to sell at {b}", "${t} shares slide {p}% on probe",
        "Sell-off hits ${t}, down {p}% premarket", "${t} cut to underperform; target lowered to ${a}"),
    1: ("${t} soars {p}% after earnings beat", "${t} upgraded to buy at {b}", "${t} rallies {p}% on record sales",
        "${t} hits all-time high, up {p}%", "${t} raised to outperform; target lifted to ${a}"),
    2: ("${t} to present at {b} conference on Tuesday", "${t} files 10-Q for the quarter",
        "${t} schedules earnings call for next week", "What to watch: ${t} and {b} this week",
        "${t} declares regular dividend of ${c}"),
}
_BROKERS = ("Morgan Stanley", "Goldman", "JPMorgan", "Citi", "Barclays", "UBS", "Jefferies", "Wells Fargo")
# The hub split is imbalanced towards Neutral (6,178 of 9,543); the samples keep that shape.
_PRIOR = (0.17, 0.2, 0.63)


def generate(rng: np.random.Generator, n: int) -> list[dict]:
    rows = []
    for _ in range(n):
        label = int(rng.choice(3, p=_PRIOR))
        text = pick(rng, _TEMPLATES[label]).format(
            t=pick(rng, TICKERS), p=amount(rng, 1, 30), b=pick(rng, _BROKERS), a=amount(rng, 10, 400, 0),
            c=amount(rng, 0.05, 2.5, 2))
        rows.append({"text": f"{text} https://t.co/{int(rng.integers(10**9, 10**10)):x}", "label": label})
    return rows


SPEC = register(TaskSpec(
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
    generate=generate,
    labels=LABELS,
    label_names=LABELS,
    instruction="What is the sentiment of this tweet? Please choose an answer from {Bearish/Bullish/Neutral}.",
    offline_rows={"train": 600, "validation": 150},
))
