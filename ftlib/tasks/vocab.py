"""The world the offline generators draw from (one place, so every sample speaks the same world).

A simulation that lets the whole pipeline run, and its analysis be checked, on a laptop; it says nothing about
real LLMs. Structure is shared only where the real tasks share it:
- one sentiment lexicon (``UP_CUES`` / ``DOWN_CUES``) decides the label of FPB, Twitter-SA, FiQA-SA and the
  headline price-direction questions, drawn with one Zipf-like frequency, so a small target set leaves rare
  cues unseen that a related task's rows can teach;
- one pool of companies, tickers, people and places behind NER-cls, Twitter-Topics, headlines and the news;
- one arithmetic grammar (a line item's value, its change, its sum over rows) behind FinQA, ConvFinQA and
  Orca-Math, on small whole numbers;
- general instructions (OpenOrca) use words of their own and share none of it.
Difficulty comes from label noise, distracting clauses of the other polarity and class imbalance like the
real sets.
"""
from __future__ import annotations

import numpy as np

COMPANIES = (
    "Nordea", "Fiskars", "Kone", "Outokumpu", "Stora Enso", "Wartsila", "Elisa", "Metso", "Sampo",
    "UPM", "Nokian Tyres", "Orion", "Tieto", "Ahlstrom", "Cargotec", "Raisio", "Aspo", "Lassila",
    "Componenta", "Basware", "Apple", "Tesla", "Boeing", "Pfizer", "Intel", "Ford", "Walmart", "Exxon",
    "Netflix", "Nvidia", "Amazon", "Alphabet", "Oracle", "Cisco", "Visa", "Chevron", "Target", "Nike",
)
TICKERS = (
    "AAPL", "TSLA", "BA", "PFE", "INTC", "F", "WMT", "XOM", "NFLX", "NVDA", "AMZN", "GOOGL", "ORCL",
    "CSCO", "V", "CVX", "TGT", "NKE", "JPM", "GS", "MS", "C", "BAC", "KO", "PEP", "DIS", "T", "VZ",
)
METRICS = ("net sales", "operating profit", "net profit", "revenue", "earnings per share", "order intake",
           "cash flow", "gross margin", "operating income", "sales volume")
PERSONS = ("John Smith", "Maria Garcia", "David Lee", "Anna Virtanen", "Peter Brown", "Laura Chen",
           "Mark Johnson", "Elena Petrova", "James Wilson", "Sofia Rossi", "Kenji Tanaka", "Olivia Martin",
           "Ahmed Khan", "Julia Becker", "Robert Taylor", "Mika Korhonen")
LOCATIONS = ("Helsinki", "New York", "London", "Frankfurt", "Tokyo", "Chicago", "Paris", "Singapore",
             "Delaware", "Texas", "Ohio", "California", "Stockholm", "Toronto", "Sydney", "Zurich")
ORGANIZATIONS = ("Bank of America", "Wells Fargo Bank", "Goldman Sachs Group", "Acme Holdings Inc",
                 "First National Trust", "Northern Capital LLC", "Vanguard Group", "Citibank N.A.",
                 "Deutsche Bank AG", "BlackRock Inc", "Fidelity Investments", "Morgan Stanley & Co")
YEARS = tuple(range(2008, 2024))

UP_CUES = ("rose", "increased", "grew", "climbed", "jumped", "improved", "surged", "advanced", "rallied",
           "gained", "rebounded", "soared", "strengthened", "expanded", "recovered", "accelerated", "topped",
           "doubled", "beat forecasts", "hit a record", "outperformed", "was upgraded", "swung to a profit",
           "raised its outlook", "won an order", "boosted margins", "edged higher", "picked up", "firmed",
           "spiked")
DOWN_CUES = ("fell", "decreased", "declined", "dropped", "slumped", "weakened", "plunged", "slipped", "sank",
             "tumbled", "shrank", "contracted", "deteriorated", "halved", "missed forecasts", "hit a low",
             "underperformed", "was downgraded", "swung to a loss", "cut its outlook", "lost an order",
             "squeezed margins", "edged lower", "eased", "softened", "slid", "retreated", "stalled", "crashed",
             "faltered")
# Zipf-like: the same cue is common (or rare) in every task, as words are in a language.
_CUE_WEIGHTS = 1.0 / np.arange(1, len(UP_CUES) + 1) ** 0.9
_CUE_WEIGHTS /= _CUE_WEIGHTS.sum()


def cue(rng: np.random.Generator, up: bool) -> str:
    """A sentiment cue of the shared lexicon."""
    return (UP_CUES if up else DOWN_CUES)[int(rng.choice(len(UP_CUES), p=_CUE_WEIGHTS))]


def noisy_label(rng: np.random.Generator, label: int, n_labels: int, noise: float) -> int:
    """Annotator disagreement: with probability ``noise`` the label is drawn uniformly."""
    return int(rng.integers(n_labels)) if rng.random() < noise else label


def pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def amount(rng: np.random.Generator, low: float = 1.0, high: float = 500.0, decimals: int = 1) -> float:
    return round(float(rng.uniform(low, high)), decimals)


def financial_table(rng: np.random.Generator) -> tuple[list[str], list[int], dict[str, list[int]]]:
    """A small statement: 2–3 line items over 2–3 consecutive years, whole millions (the shared arithmetic
    grammar works on small whole numbers)."""
    n_years = int(rng.integers(2, 4))
    first = int(rng.integers(YEARS[0], YEARS[-1] - n_years + 2))
    years = list(range(first, first + n_years))
    items = [METRICS[i] for i in rng.choice(len(METRICS), size=int(rng.integers(2, 4)), replace=False)]
    values = {item: [int(v) for v in rng.integers(10, 100, size=n_years)] for item in items}
    return items, years, values


def arithmetic_question(rng: np.random.Generator, item: str, first: str, second: str, v0: int, v1: int
                        ) -> tuple[str, int, str]:
    """The shared grammar: a value, its change, or the sum of two values (``first``/``second`` name them).
    Returns the question, its answer and the working that gives it."""
    kind = int(rng.integers(3))
    if kind == 0:
        return f"what was the {item} in {second}?", v1, f"the {item} in {second} was {v1}"
    if kind == 1:
        return (f"what was the change in {item} from {first} to {second}?", v1 - v0,
                f"{v1} - {v0} = {v1 - v0}")
    return f"what was the total {item} in {first} and {second}?", v0 + v1, f"{v0} + {v1} = {v0 + v1}"


def table_pair(rng: np.random.Generator):
    """A statement, one of its line items and two of its years in order: what a numeric question compares.
    Returns (items, years, values, item, (i0, v0), (i1, v1))."""
    items, years, values = financial_table(rng)
    item = pick(rng, items)
    i0, i1 = sorted(int(i) for i in rng.choice(len(years), size=2, replace=False))
    return items, years, values, item, (i0, values[item][i0]), (i1, values[item][i1])


def html_table(items: list[str], years: list[int], values: dict[str, list[float]]) -> str:
    head = "<tr><td></td>" + "".join(f"<td>{y}</td>" for y in years) + "</tr>"
    body = "".join("<tr><td>" + item + "</td>" + "".join(f"<td>${v}</td>" for v in values[item]) + "</tr>"
                   for item in items)
    return f"<table class='wikitable'>{head}{body}</table>"


def pipe_table(items: list[str], years: list[int], values: dict[str, list[float]]) -> str:
    lines = ["| | " + " | ".join(str(y) for y in years) + " |"]
    lines += ["| " + item + " | " + " | ".join(f"${v}" for v in values[item]) + " |" for item in items]
    return "\n".join(lines)


def number_text(x: float, decimals: int = 5) -> str:
    """How the study's numeric answers look: ``7983.0``, ``0.14136``."""
    return str(round(float(x), decimals))
