"""The evaluation harness: for each task, prompts -> generations (or label scores) -> parsed answers ->
the task's metrics. Returns the predictions (every prompt, raw output, parsed answer, correct?) and the
scores (task, metric, value, n, split)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa

from evaluation import metrics
from evaluation.parsing import answer_number, first_line, first_number, last_number, parse_label, parse_letter
from evaluation.profiles import PROFILES, profile_scores
from ftlib.tasks.catalog import get_task
from ftlib.tasks.prompts import render_prompt
from ftlib.tasks.schema import Kind, TaskSpec
from ftlib.tasks.store import read_split

Mode = Literal["generate", "score", "both"]
# A chat model answers in a sentence ("The entity type of 'Goldman Sachs Group' is organization.", ~16 tokens)
# where a model trained on the plain layout says one word: the task's token budget would cut the label off.
CHAT_ANSWER_TOKENS = 32
# The number a leaderboard shows per metric family (comparable with FinBen / FinGPT tables).
HEADLINE = {"classification": "f1_weighted", "headline": "avg_f1", "numeric_qa": "exact_match",
            "final_number": "final_number_match", "perplexity": "perplexity", "multiple_choice": "accuracy"}

PREDICTION_SCHEMA = pa.schema([
    ("task", pa.string()), ("id", pa.string()), ("split", pa.string()), ("mode", pa.string()),
    ("group", pa.string()), ("prompt", pa.string()), ("gold", pa.string()), ("output", pa.string()),
    ("parsed", pa.string()), ("correct", pa.bool_()),
])


AT = "@"  # "f1_weighted@finben": a metric under another scoring profile than cocktail's


@dataclass
class TaskResult:
    task: str
    # metric -> value, with a "<mode>/" prefix when both modes ran and an "@<profile>" suffix for the peers' profiles
    scores: dict[str, float]
    n: int
    predictions: list[dict[str, Any]]


def headline_metric(task: str, profile: str = "cocktail") -> str:
    """The task's headline metric key under a scoring profile (FinGPT reads headlines as binary F1)."""
    metric = get_task(task).metric
    if profile == "fingpt" and metric == "headline":
        return f"f1_binary{AT}fingpt"
    return HEADLINE[metric] + ("" if profile == "cocktail" else f"{AT}{profile}")


def requests_for(spec: TaskSpec, prompts: list[str], golds: list[str], modes: list[str], style: str
                 ) -> list[dict[str, Any]]:
    budget = spec.max_new_tokens if style == "plain" else max(spec.max_new_tokens, CHAT_ANSWER_TOKENS)
    base = {"max_new_tokens": budget, "labels": [], "continuation": "", "specials": style == "plain"}
    if spec.metric == "perplexity":
        return [{**base, "op": "logprob", "prompt": p, "continuation": g} for p, g in zip(prompts, golds)]
    out = []
    for m in modes:
        labels = list(spec.labels) if m == "score" else []
        out += [{**base, "op": m, "prompt": p, "labels": labels} for p in prompts]
    return out


def evaluate(backend, tasks: list[str], *, data_dir: str, split: str = "validation", limit: int | None = None,
             mode: Mode = "generate", style: str = "plain") -> list[TaskResult]:
    """Every task's requests go to the backend in one call (one model load for the whole evaluation)."""
    plans, requests = [], []
    for task in tasks:
        spec = get_task(task)
        table = read_split(data_dir, task, split)
        records = (table.slice(0, limit) if limit else table).to_pylist()
        prompts = [render_prompt(r, style, backend.tokenizer) for r in records]
        modes = ["generate", "score"] if mode == "both" else [mode]
        if not spec.labels:
            modes = ["generate"]  # label scoring needs a label set
        reqs = requests_for(spec, prompts, [r["output"] for r in records], modes, style)
        plans.append((spec, records, prompts, modes, len(requests), len(reqs)))
        requests += reqs
    answers = backend.run(requests) if requests else []
    results = []
    for spec, records, prompts, modes, start, count in plans:
        results.append(_collect(spec, records, prompts, modes, answers[start:start + count], split))
    return results


def _collect(spec: TaskSpec, records, prompts, modes, answers, split) -> TaskResult:
    task = spec.name
    if spec.metric == "perplexity":
        nll, tokens = -sum(a["logprob"] for a in answers), sum(a["tokens"] for a in answers)
        preds = [_row(task, r, split, "score", p, "", None, None) for r, p in zip(records, prompts)]
        return TaskResult(task, metrics.perplexity(nll, tokens), len(records), preds)
    scores: dict[str, float] = {}
    predictions: list[dict[str, Any]] = []
    n = len(records)
    for k, m in enumerate(modes):
        outputs = [a["text"] for a in answers[k * n:(k + 1) * n]]
        values, parsed, correct = _score(spec, records, outputs)
        prefix = f"{m}/" if len(modes) > 1 else ""
        scores.update({prefix + key: v for key, v in values.items()})
        if m == "generate":  # the peers' readings of the same outputs, side by side (label scoring has none)
            golds, groups = [r["output"] for r in records], [r["group"] for r in records]
            for profile in PROFILES[1:]:
                scores.update({f"{prefix}{key}{AT}{profile}": v
                               for key, v in profile_scores(profile, spec, golds, outputs, groups).items()})
        predictions += [_row(task, r, split, m, p, o, a, c)
                        for r, p, o, a, c in zip(records, prompts, outputs, parsed, correct)]
    return TaskResult(task, scores, n, predictions)


def _score(spec: TaskSpec, records: list[dict], outputs: list[str]) -> tuple[dict[str, float], list, list]:
    """cocktail's reading: a one-line answer is its first non-blank line; a generated solution is read whole."""
    golds = [r["output"] for r in records]
    if spec.kind is not Kind.GENERATION:
        outputs = [first_line(o) for o in outputs]
    if spec.kind is Kind.CLASSIFICATION:
        parsed = [parse_label(o, spec.labels) for o in outputs]
        correct = [p == g for p, g in zip(parsed, golds)]
        if spec.metric == "headline":
            return metrics.grouped_f1(golds, parsed, [r["group"] for r in records], spec.labels), parsed, correct
        return metrics.classification(golds, parsed, spec.labels), parsed, correct
    if spec.metric == "multiple_choice":
        parsed = [parse_letter(o, "".join(spec.labels)) for o in outputs]
        return metrics.letter_accuracy(golds, parsed), parsed, [p == g for p, g in zip(parsed, golds)]
    if spec.metric == "numeric_qa":
        parsed = [_numeric_answer(o, g) for o, g in zip(outputs, golds)]
        correct = [metrics.numeric_correct(o, g) for o, g in zip(outputs, golds)]
        return metrics.numeric_qa(golds, outputs), parsed, correct
    if spec.metric == "final_number":
        parsed_n = [last_number(o) for o in outputs]
        correct = [metrics.final_number_correct(o, g) for o, g in zip(outputs, golds)]
        return metrics.final_number(golds, outputs), [None if p is None else repr(p[0]) for p in parsed_n], correct
    raise ValueError(f"task {spec.name!r}: no scorer for metric {spec.metric!r}")


def _numeric_answer(output: str, gold: str) -> str | None:
    """What was read from the output: the number it states, or its text where the gold answer is a word."""
    if first_number(gold) is None:
        return output.strip().lower() or None
    number = answer_number(output)
    return None if number is None else repr(number[0])


def _row(task, record, split, mode, prompt, output, parsed, correct) -> dict[str, Any]:
    return {"task": task, "id": record["id"], "split": split, "mode": mode, "group": record["group"],
            "prompt": prompt, "gold": record["output"], "output": output, "parsed": parsed, "correct": correct}
