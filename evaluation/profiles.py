"""Scoring profiles: the same model outputs read by three rules, so numbers compare with the tables they are put
beside.

- ``cocktail`` (default): the first whole label word by position (evaluation.parsing); no label = missing.
- ``finben``: FinBen / PIXIU's rule (src/tasks/flare.py): the first label *in label order* that is a substring
  of the stripped, lower-cased output, else "missing"; weighted / macro F1 over the labels gold uses; MCC with
  every prediction outside the gold labels as one class. Headlines: "Yes" only when the stripped output is
  exactly "Yes", else "No"; avg-F1 over question types. FinQA / ConvFinQA: exact match of the stripped output.
- ``fingpt``: FinGPT's sentiment benchmarks (fpb.py, tfns.py): "positive" if "positive" or "Positive" occurs,
  else "negative" if "negative" or "Negative" occurs, else "neutral" (never missing); the gold goes through
  the same rule. Headlines (headline.py): "Yes" when "yes" occurs in the lower-cased output; accuracy and
  binary F1. FinGPT has no rule for the other tasks: the profile leaves them unscored.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evaluation import metrics
from evaluation.parsing import parse_label, parse_letter
from ftlib.tasks.schema import TaskSpec

PROFILES = ("cocktail", "finben", "fingpt")
DEFAULT_PROFILE = "cocktail"
SENTIMENT_WORDS = ("negative", "neutral", "positive")


@dataclass(frozen=True)
class Outcomes:
    """One task's outputs read by one profile, per example, in the form statistics resample: label codes
    (``n_labels`` = missing) and how they aggregate into the headline metric (``kind``). Accuracy-kind tasks
    (numeric QA, math, letters) code a correct answer as gold == pred == 0 and a wrong one as pred 1."""
    kind: str  # "accuracy", "f1_weighted", "avg_f1" (weighted F1 per group, averaged), "f1_binary" (label 0)
    gold: np.ndarray
    pred: np.ndarray
    group: np.ndarray  # question-type codes (headline), else zeros
    n_labels: int

    @property
    def correct(self) -> np.ndarray:
        return self.gold == self.pred

    @classmethod
    def from_correct(cls, correct) -> "Outcomes":
        correct = np.asarray(correct, bool)
        zeros = np.zeros(len(correct), np.int64)
        return cls("accuracy", zeros, (~correct).astype(np.int64), zeros, 1)


def finben_label(output: str, labels) -> str | None:
    text = output.strip().lower()
    return next((label for label in labels if label.lower() in text), None)


def fingpt_sentiment(text: str) -> str:
    if "positive" in text or "Positive" in text:
        return "positive"
    if "negative" in text or "Negative" in text:
        return "negative"
    return "neutral"


def applies(profile: str, spec: TaskSpec) -> bool:
    """Whether the profile has a rule for this task (FinGPT: sentiment with these words, and headlines)."""
    if profile != "fingpt":
        return True
    return spec.metric == "headline" or tuple(label.lower() for label in spec.labels) == SENTIMENT_WORDS


def outcomes(profile: str, spec: TaskSpec, golds: list[str], outputs: list[str],
             groups: list[str]) -> Outcomes | None:
    """Per-example outcomes of the task's headline metric under ``profile`` (None: the profile has no rule for
    the task, or the task is scored by perplexity)."""
    if not applies(profile, spec) or spec.metric == "perplexity":
        return None
    if spec.metric == "numeric_qa":  # the headline is strict exact match under both profiles
        return Outcomes.from_correct([o.strip() == g.strip() for g, o in zip(golds, outputs)])
    if spec.metric == "final_number":
        return Outcomes.from_correct([metrics.final_number_correct(o, g) for g, o in zip(golds, outputs)])
    if spec.metric == "multiple_choice":
        return Outcomes.from_correct([parse_letter(o, "".join(spec.labels)) == g for g, o in zip(golds, outputs)])
    labels = tuple(spec.labels)
    if profile == "fingpt":
        if spec.metric == "headline":
            preds = ["Yes" if "yes" in o.lower() else "No" for o in outputs]
            kind = "f1_binary"
        else:
            by_word = {label.lower(): label for label in labels}
            preds = [by_word[fingpt_sentiment(o)] for o in outputs]
            golds = [by_word[fingpt_sentiment(g)] for g in golds]
            kind = "f1_weighted"
    elif profile == "finben":
        if spec.metric == "headline":
            preds = ["Yes" if o.strip() == "Yes" else "No" for o in outputs]
        else:
            preds = [finben_label(o, labels) for o in outputs]
        kind = "avg_f1" if spec.metric == "headline" else "f1_weighted"
    else:
        preds = [parse_label(o, labels) for o in outputs]
        kind = "avg_f1" if spec.metric == "headline" else "f1_weighted"
    index = {label: i for i, label in enumerate(labels)}
    group_index = {g: i for i, g in enumerate(sorted(set(groups)))}
    return Outcomes(kind, np.array([index[g] for g in golds], np.int64),
                    np.array([index.get(p, len(labels)) for p in preds], np.int64),
                    np.array([group_index[g] for g in groups], np.int64), len(labels))


def profile_scores(profile: str, spec: TaskSpec, golds: list[str], outputs: list[str],
                   groups: list[str]) -> dict[str, float]:
    """Every metric the profile defines for the task (empty where it has none)."""
    if not applies(profile, spec) or spec.metric in ("perplexity", "final_number", "multiple_choice"):
        return {}
    if spec.metric == "numeric_qa":
        if profile == "finben":
            return {"exact_match": float(np.mean([o.strip() == g for g, o in zip(golds, outputs)])) if golds else 0.0}
        return metrics.numeric_qa(golds, outputs)
    parsed = outcomes(profile, spec, golds, outputs, groups)
    labels = tuple(spec.labels)
    gold = [labels[i] for i in parsed.gold]
    pred = [labels[i] if i < len(labels) else None for i in parsed.pred]
    if parsed.kind == "f1_binary":
        return {"accuracy": float(parsed.correct.mean()), "f1_binary": metrics.f1_binary(gold, pred, "Yes")}
    if parsed.kind == "avg_f1":
        return metrics.grouped_f1(gold, pred, list(groups), labels)
    out = metrics.classification(gold, pred, labels)
    if profile == "finben":
        present = set(gold)
        out["mcc"] = metrics.mcc(gold, [p if p in present else None for p in pred])
    return out
