"""The model's inputs from a micro-batch of packed rows, for the attention kernel in use.

sdpa and eager get (micro, seq_len) rows: transformers builds a block-diagonal causal mask from position ids
that restart per example, row by row. flash-attention 2 reads example boundaries from position ids only in a
batch of one row (transformers' ``_is_packed_sequence``; huggingface/transformers#39121): given several rows it
would attend across the examples of a row. It gets the micro-batch as one row of micro × seq_len tokens, whose
boundaries (examples and each row's start) become its cu_seqlens. The loss is the same mean over the same
label tokens: a row starts with an example's prompt, whose labels are ignored, so no label crosses a row.
"""
from __future__ import annotations

MODEL_KEYS = ("input_ids", "labels", "position_ids")


def model_inputs(batch, attn_implementation: str) -> dict:
    inputs = {k: batch[k] for k in MODEL_KEYS if k in batch}
    if attn_implementation == "flash_attention_2" and inputs["input_ids"].shape[0] > 1:
        return {k: v.reshape(1, -1) for k, v in inputs.items()}
    return inputs
