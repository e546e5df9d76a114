"""What ``cocktail eval`` prints beside each headline score: the parse rate (the share of outputs a scoring profile
read as a valid label, number or letter; the rest count wrong) and the same metric for always answering the
majority gold label of the rows scored, the floor a classifier has to clear."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from evaluation import metrics
from evaluation.harness import AT, TaskResult, headline_metric
from evaluation.parsing import first_line, last_number, parse_letter
from evaluation.profiles import applies, outcomes, profile_scores
from ftlib.tasks.catalog import get_task
from ftlib.tasks.schema import Kind, TaskSpec


@dataclass(frozen=True)
class Readout:
    task: str
    mode: str  # generate | score (label log-likelihoods: every output is a label)
    profile: str
    metric: str
    value: float
    parsed: float | None  # None: the metric reads no answer (perplexity, FinBen's string match)
    majority: float | None  # None: no label set to take a majority of
    n: int


def readouts(result: TaskResult, profiles: tuple[str, ...]) -> list[Readout]:
    spec = get_task(result.task)
    if spec.metric == "perplexity":
        return [Readout(spec.name, "score", "cocktail", "perplexity", result.scores["perplexity"], None, None,
                        result.n)]
    modes = list(dict.fromkeys(p["mode"] for p in result.predictions))
    out = []
    for mode in modes:
        rows = [p for p in result.predictions if p["mode"] == mode]
        golds, outputs, groups = ([r[k] for r in rows] for k in ("gold", "output", "group"))
        prefix = f"{mode}/" if len(modes) > 1 else ""
        for profile in profiles:
            if (mode == "score" and profile != "cocktail") or not applies(profile, spec):
                continue  # the peers read generated text; label scoring has no text to read
            names = [headline_metric(spec.name, profile)]
            if spec.metric == "numeric_qa" and profile == "cocktail":
                names.append("numeric_match")
            parsed = 1.0 if mode == "score" else parse_rate(profile, spec, golds, outputs, groups)
            for name in (n for n in names if prefix + n in result.scores):
                metric = name.split(AT)[0]
                out.append(Readout(spec.name, mode, profile, metric, result.scores[prefix + name], parsed,
                                   majority_score(profile, spec, golds, groups, metric), len(rows)))
    return out


def parse_rate(profile: str, spec: TaskSpec, golds: list[str], outputs: list[str], groups: list[str]
               ) -> float | None:
    if not outputs:
        return None
    if spec.metric == "numeric_qa":
        if profile != "cocktail":
            return None  # FinBen compares strings; FinGPT reads "0.0" where it finds no number
        lines = [first_line(o) for o in outputs]
        return 1 - sum(metrics.numeric_missing(o, g) for o, g in zip(lines, golds)) / len(outputs)
    if spec.metric == "final_number":
        return sum(last_number(o) is not None for o in outputs) / len(outputs)
    if spec.metric == "multiple_choice":
        letters = "".join(spec.labels)
        return sum(parse_letter(first_line(o), letters) is not None for o in outputs) / len(outputs)
    read = outcomes(profile, spec, golds, outputs, groups)
    return float((read.pred < read.n_labels).mean())


def majority_score(profile: str, spec: TaskSpec, golds: list[str], groups: list[str], metric: str
                   ) -> float | None:
    """The metric, under the profile's rule, of answering the most frequent gold label every time (ties: the
    task's label order)."""
    if not golds or spec.kind not in (Kind.CLASSIFICATION, Kind.MULTIPLE_CHOICE):
        return None
    counts = Counter(golds)
    if spec.kind is Kind.MULTIPLE_CHOICE:  # the most frequent gold letter, every time
        return counts.most_common(1)[0][1] / len(golds) if metric == "accuracy" else None
    label = max(spec.labels, key=lambda lab: (counts[lab], -spec.labels.index(lab)))
    return profile_scores(profile, spec, golds, [label] * len(golds), groups).get(metric)
