"""Word lists the offline generators draw from (one place, so every sample speaks the same world)."""
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


def pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def amount(rng: np.random.Generator, low: float = 1.0, high: float = 500.0, decimals: int = 1) -> float:
    return round(float(rng.uniform(low, high)), decimals)


def financial_table(rng: np.random.Generator) -> tuple[list[str], list[int], dict[str, list[float]]]:
    """A small statement: 2–3 line items over 2–3 consecutive years, values in millions."""
    n_years = int(rng.integers(2, 4))
    first = int(rng.integers(YEARS[0], YEARS[-1] - n_years + 2))
    years = list(range(first, first + n_years))
    items = [METRICS[i] for i in rng.choice(len(METRICS), size=int(rng.integers(2, 4)), replace=False)]
    values = {}
    for item in items:
        base = float(rng.uniform(100, 9000))
        values[item] = [round(base * float(rng.uniform(0.7, 1.4)), 1) for _ in years]
    return items, years, values


def table_pair(rng: np.random.Generator):
    """A statement, one of its line items and two of its years in order: what a numeric question compares.
    Returns (items, years, values, item, (i0, v0), (i1, v1))."""
    items, years, values = financial_table(rng)
    item = pick(rng, items)
    i0, i1 = sorted(int(i) for i in rng.choice(len(years), size=2, replace=False))
    return items, years, values, item, (i0, values[item][i0]), (i1, values[item][i1])


def html_table(items: list[str], years: list[int], values: dict[str, list[float]]) -> str:
    head = "<tr><td></td>" + "".join(f"<td>{y}</td>" for y in years) + "</tr>"
    body = "".join("<tr><td>" + item + "</td>" + "".join(f"<td>${v:,}</td>" for v in values[item]) + "</tr>"
                   for item in items)
    return f"<table class='wikitable'>{head}{body}</table>"


def pipe_table(items: list[str], years: list[int], values: dict[str, list[float]]) -> str:
    lines = ["| | " + " | ".join(str(y) for y in years) + " |"]
    lines += ["| " + item + " | " + " | ".join(f"${v:,}" for v in values[item]) + " |" for item in items]
    return "\n".join(lines)


def number_text(x: float, decimals: int = 5) -> str:
    """How the study's numeric answers look: ``7983.0``, ``0.14136``."""
    return str(round(float(x), decimals))
