"""The field's metrics, in one place (FinGPT / FinBen conventions), as pure functions over lists.

Missing answers (no label found, no number found) count as wrong everywhere and are reported as a rate.
"""
from __future__ import annotations

import math
from collections import defaultdict
from typing import Sequence

import numpy as np

from evaluation.parsing import MISSING, answer_number, first_number, last_number

NUMERIC_REL_TOL = 0.01  # numeric match: within 1 % of the gold value


def _confusion(gold: Sequence[str], pred: Sequence[str | None], labels: Sequence[str]) -> np.ndarray:
    """Rows gold, columns predicted; the last column is 'missing or not a label'."""
    index = {label: i for i, label in enumerate(labels)}
    m = np.zeros((len(labels), len(labels) + 1), np.int64)
    for g, p in zip(gold, pred):
        m[index[g], index.get(p, len(labels))] += 1
    return m


def classification(gold: Sequence[str], pred: Sequence[str | None], labels: Sequence[str]) -> dict[str, float]:
    """accuracy, weighted F1 (the headline number), macro F1, MCC, missing rate."""
    labels = list(labels)
    m = _confusion(gold, pred, labels)
    support = m.sum(axis=1)
    tp = np.diag(m[:, : len(labels)]).astype(float)
    predicted = m[:, : len(labels)].sum(axis=0)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(tp), where=(precision + recall) > 0)
    present = support > 0
    n = int(support.sum())
    return {
        "accuracy": float(tp.sum() / n) if n else 0.0,
        "f1_weighted": float((f1 * support).sum() / n) if n else 0.0,
        "f1_macro": float(f1[present].mean()) if present.any() else 0.0,
        "mcc": mcc(gold, pred),
        "missing_rate": float(sum(p is MISSING or p not in labels for p in pred) / n) if n else 0.0,
    }


def macro_f1(gold: Sequence[str], pred: Sequence[str | None], labels: Sequence[str]) -> float:
    """Unweighted mean of the F1 of each of ``labels`` (sklearn's ``average="macro"`` over those labels)."""
    return float(np.mean([f1_binary(gold, pred, label) for label in labels])) if labels else 0.0


def f1_binary(gold: Sequence[str], pred: Sequence[str | None], positive: str) -> float:
    """F1 of the ``positive`` label alone (sklearn's ``average="binary"``)."""
    tp = sum(g == positive and p == positive for g, p in zip(gold, pred))
    predicted, actual = sum(p == positive for p in pred), sum(g == positive for g in gold)
    return 2 * tp / (predicted + actual) if predicted + actual else 0.0


def mcc(gold: Sequence[str], pred: Sequence[str | None]) -> float:
    """Multiclass Matthews correlation (Gorodkin's R_K); a missing answer is its own predicted class."""
    classes = sorted({*gold, *(p if p is not None else "\0missing" for p in pred)})
    index = {c: i for i, c in enumerate(classes)}
    c = np.zeros((len(classes), len(classes)), np.float64)
    for g, p in zip(gold, pred):
        c[index[g], index[p if p is not None else "\0missing"]] += 1
    t, p, n = c.sum(axis=1), c.sum(axis=0), c.sum()
    cov_tp = np.trace(c) * n - t @ p
    denom = math.sqrt((n * n - p @ p) * (n * n - t @ t))
    return float(cov_tp / denom) if denom else 0.0


def grouped_f1(gold: Sequence[str], pred: Sequence[str | None], groups: Sequence[str],
               labels: Sequence[str]) -> dict[str, float]:
    """Headline: weighted F1 within each question type, averaged (avg-F1), plus overall scores."""
    by_group: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
    for g, p, group in zip(gold, pred, groups):
        by_group[group][0].append(g)
        by_group[group][1].append(p)
    per_group = {group: classification(g, p, labels)["f1_weighted"] for group, (g, p) in sorted(by_group.items())}
    out = {"avg_f1": float(np.mean(list(per_group.values()))) if per_group else 0.0}
    out.update(classification(gold, pred, labels))
    out.update({f"f1_{group}": v for group, v in per_group.items()})
    return out


def _decimals(text: str) -> int:
    digits = text.strip().rstrip("%").split(".")
    return len(digits[1]) if len(digits) == 2 else 0


def numeric_equal(pred: tuple[float, bool], gold: tuple[float, bool], places: int | None,
                  rel_tol: float = NUMERIC_REL_TOL) -> bool:
    """Within ``rel_tol`` of gold, or equal after rounding to gold's ``places`` decimals; 25% ~ 0.25 either way."""
    p_value, p_percent = pred
    g_value, g_percent = gold
    candidates = [p_value] + ([p_value / 100] if p_percent and not g_percent else [])
    candidates += [p_value * 100] if g_percent and not p_percent else []
    for value in candidates:
        if math.isclose(value, g_value, rel_tol=rel_tol, abs_tol=1e-9) or (
                places is not None and round(value, places) == g_value):
            return True
    return False


def numeric_correct(output: str, gold: str, rel_tol: float = NUMERIC_REL_TOL) -> bool:
    """The number the output states (``parsing.answer_number``) matches the gold answer (tolerance, rounding,
    percent forms). A gold answer with no number (FinQA's yes / no questions) is matched exactly, ignoring case."""
    g = first_number(gold)
    if g is None:
        return output.strip().lower() == gold.strip().lower()
    p = answer_number(output)
    return p is not None and numeric_equal(p, g, _decimals(gold), rel_tol)


def numeric_missing(output: str, gold: str) -> bool:
    """No answer to read: no number where the gold is a number, an empty output where it is a word."""
    return first_number(output) is None if first_number(gold) is not None else not output.strip()


def final_number_correct(output: str, gold: str, rel_tol: float = NUMERIC_REL_TOL) -> bool:
    """The last number of the output matches the last number of the gold solution."""
    p, g = last_number(output), last_number(gold)
    return p is not None and g is not None and numeric_equal(p, g, None, rel_tol)


def numeric_qa(gold: Sequence[str], outputs: Sequence[str], rel_tol: float = NUMERIC_REL_TOL) -> dict[str, float]:
    """FinQA / ConvFinQA: strict exact match of the stripped answer (FinBen) and numeric match."""
    n = len(gold)
    exact = sum(o.strip() == g.strip() for g, o in zip(gold, outputs))
    numeric = sum(numeric_correct(o, g, rel_tol) for g, o in zip(gold, outputs))
    missing = sum(numeric_missing(o, g) for g, o in zip(gold, outputs))
    return {"exact_match": exact / n if n else 0.0, "numeric_match": numeric / n if n else 0.0,
            "missing_rate": missing / n if n else 0.0}


def final_number(gold: Sequence[str], outputs: Sequence[str], rel_tol: float = NUMERIC_REL_TOL) -> dict[str, float]:
    """Math word problems: the last number of the output against the last number of the gold solution."""
    n = len(gold)
    correct = sum(final_number_correct(o, g, rel_tol) for g, o in zip(gold, outputs))
    missing = sum(last_number(o) is None for o in outputs)
    return {"final_number_match": correct / n if n else 0.0, "missing_rate": missing / n if n else 0.0}


def perplexity(nll_sum: float, tokens: int) -> dict[str, float]:
    return {"perplexity": math.exp(nll_sum / tokens) if tokens else float("inf"), "nll": nll_sum / max(tokens, 1)}


def letter_accuracy(gold: Sequence[str], pred: Sequence[str | None]) -> dict[str, float]:
    n = len(gold)
    return {"accuracy": sum(p == g for g, p in zip(gold, pred)) / n if n else 0.0,
            "missing_rate": sum(p is None for p in pred) / n if n else 0.0}
