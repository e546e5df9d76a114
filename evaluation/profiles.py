"""Scoring profiles: the same model outputs read by three rules, so numbers compare with the tables they are put
beside. Every profile reads the whole output the model generated; a first-line rule is a profile's own.

- ``cocktail`` (default): a one-line answer is the output's first non-blank line (``parsing.first_line``), read
  for the first whole label word by position; no label = missing. Numeric answers: the number that line states
  (``parsing.answer_number``: after its last "is / was / = / :", else its first).
- ``finben``: FinBen / PIXIU's rules, after ``src/tasks/flare.py`` of The-FinAI/PIXIU (commit 040f886132a8):
  ``Classification.process_results`` lower-cases the stripped output and takes the first of the dataset's
  ``choices``, in their order (``TaskSpec.flare_choices``), that is a substring of it, else "missing"; weighted /
  macro F1 over the labels gold uses (``labels=list(set(golds))``); MCC with every prediction outside them as one
  class. ``Headlines``: "Yes" only when the stripped output is exactly "Yes"; avg-F1 over question types. ``QA``
  (FinQA, ConvFinQA): the stripped output equals the gold answer as the dataset has it (the gold is not stripped),
  in the point estimate and per example alike.
- ``fingpt``: FinGPT's benchmark files (AI4Finance-Foundation/FinGPT, ``fingpt/FinGPT_Benchmark/benchmarks/``,
  commit 52b1ed1c7a69): ``fpb.py`` / ``tfns.py`` ``change_target``: "positive" if "positive" or "Positive" occurs
  in the output, else "negative" if "negative" or "Negative" does, else "neutral" (never missing); the gold goes
  through the same rule; sklearn's F1 with its default labels, gold ∪ predicted (macro F1 counts a label predicted
  but never gold). ``headline.py``: "Yes" when "yes" occurs in the lower-cased output; accuracy and binary F1.
  ``convfinqa.py`` (commit f20170588eac): the first match of ``\\d+(.\\d+)`` in output and gold ("0.0" where none),
  compared as floats; an empty output is left out of the accuracy. Leaving examples out per run has no per-example
  form the statistics can pair: under fingpt, ConvFinQA has a point estimate only. FinGPT has no rule for the other
  tasks: the profile leaves them unscored.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from evaluation import metrics
from evaluation.parsing import first_line, parse_label, parse_letter
from ftlib.tasks.schema import Kind, TaskSpec

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


def finben_label(output: str, spec: TaskSpec) -> str | None:
    """PIXIU's classification rule: the first of the FLARE choices, in their order, inside the lower-cased
    stripped output; returned as the task's own label."""
    text = output.strip().lower()
    choices = spec.flare_choices or spec.labels
    by_word = {label.lower(): label for label in spec.labels}
    return next((by_word[c.lower()] for c in choices if c.lower() in text), None)


def fingpt_convfinqa_number(text: str) -> str:
    """FinGPT's ``cvt_text_to_pred``: "nan" for an empty text (left out), else the first match of its pattern."""
    if not text:
        return "nan"
    match = re.search(r"\d+(.\d+)", text)
    return match.group() if match is not None else "0.0"


def fingpt_sentiment(text: str) -> str:
    if "positive" in text or "Positive" in text:
        return "positive"
    if "negative" in text or "Negative" in text:
        return "negative"
    return "neutral"


def applies(profile: str, spec: TaskSpec) -> bool:
    """Whether the profile has a rule for this task (FinGPT: sentiment with these words, headlines, ConvFinQA)."""
    if profile != "fingpt":
        return True
    return spec.metric == "headline" or spec.name == "convfinqa" or \
        tuple(label.lower() for label in spec.labels) == SENTIMENT_WORDS


def outcomes(profile: str, spec: TaskSpec, golds: list[str], outputs: list[str],
             groups: list[str]) -> Outcomes | None:
    """Per-example outcomes of the task's headline metric under ``profile`` (None: the profile has no rule for
    the task, no per-example form of it, or the task is scored by perplexity)."""
    if not applies(profile, spec) or spec.metric == "perplexity":
        return None
    if profile == "cocktail" and spec.kind is not Kind.GENERATION:
        outputs = [first_line(o) for o in outputs]
    if spec.metric == "numeric_qa":
        if profile == "fingpt":
            return None  # FinGPT leaves empty outputs out: no example set shared by every run
        if profile == "finben":  # PIXIU's QA: the stripped output against the gold as the dataset has it
            return Outcomes.from_correct([o.strip() == g for g, o in zip(golds, outputs)])
        return Outcomes.from_correct([o.strip() == g.strip() for g, o in zip(golds, outputs)])
    if spec.metric == "final_number":
        return Outcomes.from_correct([metrics.final_number_correct(o, g) for g, o in zip(golds, outputs)])
    if spec.metric == "multiple_choice":
        return Outcomes.from_correct([parse_letter(o, "".join(spec.labels)) == g for g, o in zip(golds, outputs)])
    golds, preds, kind = _labels(profile, spec, golds, outputs)
    labels = tuple(spec.labels)
    index = {label: i for i, label in enumerate(labels)}
    group_index = {g: i for i, g in enumerate(sorted(set(groups)))}
    return Outcomes(kind, np.array([index[g] for g in golds], np.int64),
                    np.array([index.get(p, len(labels)) for p in preds], np.int64),
                    np.array([group_index[g] for g in groups], np.int64), len(labels))


def _labels(profile: str, spec: TaskSpec, golds: list[str], outputs: list[str]):
    """Gold and predicted labels under the profile's rule, and how they aggregate."""
    headline = spec.metric == "headline"
    if profile == "fingpt":
        if headline:
            return golds, ["Yes" if "yes" in o.lower() else "No" for o in outputs], "f1_binary"
        by_word = {label.lower(): label for label in spec.labels}
        return [by_word[fingpt_sentiment(g)] for g in golds], [by_word[fingpt_sentiment(o)] for o in outputs], \
            "f1_weighted"
    if profile == "finben":
        preds = ["Yes" if o.strip() == "Yes" else "No" for o in outputs] if headline else \
            [finben_label(o, spec) for o in outputs]
    else:
        preds = [parse_label(o, spec.labels) for o in outputs]
    return golds, preds, "avg_f1" if headline else "f1_weighted"


def profile_scores(profile: str, spec: TaskSpec, golds: list[str], outputs: list[str],
                   groups: list[str]) -> dict[str, float]:
    """Every metric the profile defines for the task (empty where it has none)."""
    if not applies(profile, spec) or spec.metric in ("perplexity", "final_number", "multiple_choice"):
        return {}
    if spec.metric == "numeric_qa":
        if profile == "fingpt":
            return _fingpt_convfinqa(golds, outputs)
        if profile == "finben":
            return {"exact_match": float(np.mean([o.strip() == g for g, o in zip(golds, outputs)])) if golds else 0.0}
        return metrics.numeric_qa(golds, [first_line(o) for o in outputs])
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
    if profile == "fingpt":  # sklearn's default labels: gold ∪ predicted
        out["f1_macro"] = metrics.macro_f1(gold, pred, sorted(set(gold) | set(pred)))
    return out


def _fingpt_convfinqa(golds: list[str], outputs: list[str]) -> dict[str, float]:
    kept = [(fingpt_convfinqa_number(g), fingpt_convfinqa_number(o)) for g, o in zip(golds, outputs)
            if fingpt_convfinqa_number(o) != "nan"]
    return {"accuracy": float(np.mean([float(g) == float(o) for g, o in kept])) if kept else 0.0,
            "left_out": (len(golds) - len(kept)) / len(golds) if golds else 0.0}
