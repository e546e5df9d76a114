"""Twitter financial news topics: tweet -> one of 20 topics."""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from ftlib.tasks.schema import Kind, TaskSpec
from ftlib.tasks.vocab import COMPANIES, PERSONS, TICKERS, amount, pick

LABELS = (
    "Analyst Update", "Fed | Central Banks", "Company | Product News", "Treasuries | Corporate Debt",
    "Dividend", "Earnings", "Energy | Oil", "Financials", "Currencies", "General News | Opinion",
    "Gold | Metals | Materials", "IPO", "Legal | Regulation", "M&A | Investments", "Macro", "Markets",
    "Politics", "Personnel Change", "Stock Commentary", "Stock Movement",
)
RAW_SCHEMA = pa.schema([("text", pa.string()), ("label", pa.int64())])

# One template family per label; the words that decide the topic are the ones a reader would use.
_TEMPLATES = (
    ("Analyst raises ${t} price target to ${a}", "${t} initiated at overweight by analysts"),
    ("Fed officials signal rate path after {p} bp hike", "ECB holds rates, central bank sees inflation at {p}%"),
    ("{c} unveils new product line for {y}", "{c} launches app update for customers"),
    ("{c} prices ${a} million bond offering", "10-year Treasury yield climbs to {p}%"),
    ("{c} raises quarterly dividend to ${d}", "${t} declares dividend of ${d} per share"),
    ("{c} Q{q} earnings: EPS ${d} vs ${d} expected", "${t} reports quarterly earnings, revenue ${a}M"),
    ("Oil prices rise {p}% as OPEC trims output", "Crude oil and natural gas futures slip {p}%"),
    ("Banks lead financials as lenders report loan growth", "{c} Bank tightens lending standards"),
    ("Dollar weakens against euro, yen gains {p}%", "Currency traders bet on the pound"),
    ("Opinion: why investors should stay calm in {y}", "Five things to know before you invest"),
    ("Gold climbs {p}% to ${a} an ounce", "Copper and metals rally on mining supply worries"),
    ("{c} files for IPO, seeks ${a} million listing", "IPO of {c} priced at ${d} per share"),
    ("SEC sues {c} over disclosures", "Regulators fine {c} ${a} million in lawsuit"),
    ("{c} to acquire rival in ${a} million deal", "{c} invests ${a} million in merger"),
    ("GDP grows {p}% as inflation and jobs data surprise", "Macro: retail sales and CPI rise {p}%"),
    ("Stocks close higher; S&P 500 gains {p}%", "Markets: Dow and Nasdaq end mixed"),
    ("Senate votes on election spending bill", "President and Congress clash over tariffs"),
    ("{c} names {n} as new CEO", "{n} steps down as CFO of {c}"),
    ("${t} looks cheap here, watching the chart", "My take on ${t}: long-term hold"),
    ("${t} shares jump {p}% in afternoon trading", "${t} stock falls {p}% at the open"),
)


def _generate(rng: np.random.Generator, n: int) -> list[dict]:
    rows = []
    for i in range(n):
        label = i % len(LABELS) if i < len(LABELS) else int(rng.integers(len(LABELS)))
        text = pick(rng, _TEMPLATES[label]).format(
            t=pick(rng, TICKERS), c=pick(rng, COMPANIES), n=pick(rng, PERSONS), a=amount(rng, 5, 900, 0),
            p=amount(rng, 0.1, 9.9), d=amount(rng, 0.05, 4.0, 2), y=int(rng.integers(2015, 2025)),
            q=int(rng.integers(1, 5)))
        rows.append({"text": f"{text} https://t.co/{int(rng.integers(10**9, 10**10)):x}", "label": label})
    return rows


SPEC = TaskSpec(
    name="twitter_topics",
    hub_id="zeroshot/twitter-financial-news-topic",
    kind=Kind.CLASSIFICATION,
    metric="classification",
    columns={"input": "text", "label": "label"},
    raw_splits={"train": "train", "validation": None, "test": "validation"},
    default_cap=2500,
    description="Finance tweets labelled with one of 20 topics.",
    raw_schema=RAW_SCHEMA,
    generate=_generate,
    labels=LABELS,
    label_names=LABELS,
    instruction=("What is the topic of this tweet? Please choose an answer from {"
                 + "/".join(LABELS) + "}. Answer with the topic name only."),
    offline_rows={"train": 800, "validation": 200},
    max_new_tokens=12,
)
