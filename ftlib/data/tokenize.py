"""Render and tokenize canonical records with a response-only loss mask."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ftlib.tasks.prompts import render_prompt

IGNORE_INDEX = -100  # label of a token that carries no loss (prompt, padding)
RECORD_COLUMNS = ("instruction", "input", "output")  # what rendering and tokenizing read of a record


def record_columns(table) -> dict[str, list[str]]:
    """A canonical Arrow table as the column lists ``tokenize_records`` takes."""
    return {c: table.column(c).to_pylist() for c in RECORD_COLUMNS}


def tokenize_records(records: dict[str, Sequence[str]], tokenizer: Any, style: str = "plain"
                     ) -> tuple[list[list[int]], list[int]]:
    """Token ids of prompt + response + EOS per record, and the prompt length of each.

    Prompt and response are tokenized apart (batched), so the loss mask falls exactly on the response;
    the plain style adds the tokenizer's own specials (BOS) to the prompt, a chat template brings its own.
    """
    prompts = [render_prompt({"instruction": i, "input": x}, style, tokenizer)
               for i, x in zip(records["instruction"], records["input"])]
    prompt_ids = encode_batch(tokenizer, prompts, add_special_tokens=(style == "plain"))
    response_ids = encode_batch(tokenizer, list(records["output"]), add_special_tokens=False)
    eos = tokenizer.eos_token_id
    ids = [p + r + [eos] for p, r in zip(prompt_ids, response_ids)]
    return ids, [len(p) for p in prompt_ids]


def encode_batch(tokenizer: Any, texts: list[str], add_special_tokens: bool) -> list[list[int]]:
    """Token ids only. A fast tokenizer's ``encode_batch_fast`` skips the offsets and attention masks that
    ``tokenizer(...)`` builds and we never use: 20-25 % of tokenization time (benchmarks/bench_data.py)."""
    backend = getattr(tokenizer, "_tokenizer", None)
    if backend is not None and hasattr(backend, "encode_batch_fast"):
        # A padded call through the tokenizer (generation pads its batches) can leave padding and truncation on
        # in the shared backend; every padded call sets its own again, so switching them off here costs nothing.
        backend.no_padding()
        backend.no_truncation()
        return [e.ids for e in backend.encode_batch_fast(texts, add_special_tokens=add_special_tokens)]
    return tokenizer(texts, add_special_tokens=add_special_tokens, return_attention_mask=False)["input_ids"]


def example_lengths(records: dict[str, Sequence[str]], tokenizer: Any, style: str = "plain") -> np.ndarray:
    ids, _ = tokenize_records(records, tokenizer, style)
    return np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
