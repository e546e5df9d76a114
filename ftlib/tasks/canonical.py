"""Raw hub schema -> canonical records, with per-row checks.

A row that cannot be used is dropped and counted under one reason; ``strict`` raises on the first one.
"""
from __future__ import annotations

from collections import Counter

import pyarrow as pa

from ftlib.core.errors import DataError
from ftlib.core.hashing import text_hash
from ftlib.tasks.numbers import parse_number
from ftlib.tasks.schema import CANONICAL_SCHEMA, Kind, TaskSpec

# The non-numeric answers numeric QA sets hold (FinQA asks some yes / no questions); scored by exact match.
WORD_ANSWERS = ("yes", "no")
DROP_REASONS = ("empty_text", "label_out_of_range", "non_numeric_answer", "unknown_group", "leaked_into_test")


def check_columns(spec: TaskSpec, table: pa.Table, file: str) -> None:
    missing = [c for c in spec.raw_schema.names if c not in table.column_names]
    if missing:
        raise DataError(
            f"task {spec.name!r}: {file} is missing columns {missing} "
            f"(expected the raw schema {spec.raw_schema.names}; found {table.column_names})")


def row_hash(instruction: str, input_text: str, output: str) -> str:
    return text_hash("\x1f".join((instruction, input_text, output)), 16)


def to_canonical(spec: TaskSpec, raw: pa.Table, *, split: str, raw_split: str, file: str, source: str,
                 revision: str, strict: bool = False, study: bool = False) -> tuple[pa.Table, Counter]:
    check_columns(spec, raw, file)
    if spec.derive is not None:
        raw = spec.derive(raw)
    n = raw.num_rows

    def column(key: str) -> list:
        name = spec.columns.get(key)
        return raw.column(name).to_pylist() if name else [None] * n

    ids, instructions, inputs, outputs = column("id"), column("instruction"), column("input"), column("output")
    raw_labels = column("label")
    groups = raw.column(spec.group_column).to_pylist() if spec.group_column else [""] * n
    by_lower = {label.lower(): label for label in spec.labels}
    dropped: Counter = Counter()
    out: dict[str, list] = {name: [] for name in CANONICAL_SCHEMA.names}

    for i in range(n):
        instruction = (instructions[i] if instructions[i] is not None else spec.instruction).strip()
        input_text = (inputs[i] or "").strip()
        if study and spec.study_input is not None:
            input_text = spec.study_input(input_text)
        if "label" in spec.columns:
            label = raw_labels[i]
            ok = isinstance(label, int) and 0 <= label < len(spec.label_names)
            output = spec.label_names[label] if ok else None
            reason = None if ok else ("label_out_of_range", f"label {label!r} not in 0..{len(spec.label_names) - 1}")
        else:
            output = (outputs[i] or "").strip()
            reason = None
        if reason is None:
            reason = _check(spec, instruction, input_text, output, groups[i], by_lower)
        if reason is not None:
            if strict:
                raise DataError(f"task {spec.name!r}: {file} row {i}: {reason[0]} ({reason[1]})")
            dropped[reason[0]] += 1
            continue
        if spec.kind in (Kind.CLASSIFICATION, Kind.MULTIPLE_CHOICE):
            output = by_lower[output.lower()]
        out["task"].append(spec.name)
        out["id"].append(str(ids[i]) if ids[i] is not None else f"{spec.name}:{raw_split}:{i}")
        out["split"].append(split)
        out["instruction"].append(instruction)
        out["input"].append(input_text)
        out["output"].append(output)
        out["choices"].append(list(spec.labels))
        out["group"].append(groups[i] or "")
        out["source"].append(source)
        out["revision"].append(revision)
        out["row_hash"].append(row_hash(instruction, input_text, output))
        out["raw_index"].append(i)
    return pa.Table.from_pydict(out, schema=CANONICAL_SCHEMA), dropped


def _check(spec: TaskSpec, instruction: str, input_text: str, output: str, group: str,
           by_lower: dict[str, str]) -> tuple[str, str] | None:
    text_field = "input" if spec.columns.get("input") else "instruction"
    if not (input_text if text_field == "input" else instruction):
        return "empty_text", f"{text_field} is empty"
    if not output:
        return "empty_text", "output is empty"
    if spec.kind in (Kind.CLASSIFICATION, Kind.MULTIPLE_CHOICE) and output.lower() not in by_lower:
        return "label_out_of_range", f"{output!r} is not one of {list(spec.labels)}"
    if spec.kind is Kind.NUMERIC_QA and parse_number(output) is None and output.lower() not in WORD_ANSWERS:
        return "non_numeric_answer", f"{output[:40]!r} is not a number (nor one of {WORD_ANSWERS})"
    if spec.group_column and not group:
        return "unknown_group", f"no {spec.group_column} could be derived"
    return None
