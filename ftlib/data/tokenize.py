"""Render and tokenize canonical records with a response-only loss mask."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ftlib.tasks.prompts import render_prompt

IGNORE_INDEX = -100  # label of a token that carries no loss (prompt, padding)


def tokenize_records(records: dict[str, Sequence[str]], tokenizer: Any, style: str = "plain"
                     ) -> tuple[list[list[int]], list[int]]:
    """Token ids of prompt + response + EOS per record, and the prompt length of each.

    Prompt and response are tokenized apart (batched), so the loss mask falls exactly on the response;
    the plain style adds the tokenizer's own specials (BOS) to the prompt, a chat template brings its own.
    """
    prompts = [render_prompt({"instruction": i, "input": x}, style, tokenizer)
               for i, x in zip(records["instruction"], records["input"])]
    prompt_ids = tokenizer(prompts, add_special_tokens=(style == "plain"))["input_ids"]
    response_ids = tokenizer(list(records["output"]), add_special_tokens=False)["input_ids"]
    eos = tokenizer.eos_token_id
    ids = [p + r + [eos] for p, r in zip(prompt_ids, response_ids)]
    return ids, [len(p) for p in prompt_ids]


def labels_for(ids: list[int], prompt_len: int) -> list[int]:
    return [IGNORE_INDEX] * prompt_len + ids[prompt_len:]


def example_lengths(records: dict[str, Sequence[str]], tokenizer: Any, style: str = "plain") -> np.ndarray:
    ids, _ = tokenize_records(records, tokenizer, style)
    return np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
