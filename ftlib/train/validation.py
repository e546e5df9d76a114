"""Per-task validation: packed rows built once in the driver, token-level loss summed in the workers."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ftlib.data.pipeline import pack_records
from ftlib.data.tokenize import IGNORE_INDEX, record_columns
from ftlib.tasks.store import read_split
from ftlib.train.model_inputs import model_inputs


def validation_rows(data_dir: str | Path, tasks: list[str], tokenizer, seq_len: int, style: str,
                    examples: int) -> dict[str, dict[str, np.ndarray]]:
    """The first ``examples`` rows of each task's validation split, packed per task (tasks never share a row)."""
    out = {}
    for task in tasks:
        table = read_split(data_dir, task, "validation").slice(0, examples)
        out[task] = pack_records(record_columns(table), tokenizer, seq_len, style)
    return out


def validation_losses(forward, rows: dict[str, dict[str, np.ndarray]], batch_size: int, device,
                      attn_implementation: str = "sdpa") -> dict[str, float]:
    """Mean token loss per task and over all tasks' tokens: ``val_loss`` and ``val_loss_<task>``."""

    metrics, total_loss, total_tokens = {}, 0.0, 0
    with torch.no_grad():
        for task, arrays in rows.items():
            loss_sum, tokens = 0.0, 0
            for start in range(0, len(arrays["input_ids"]), batch_size):
                batch = {k: torch.as_tensor(v[start:start + batch_size], dtype=torch.long, device=device)
                         for k, v in arrays.items()}
                inputs = model_inputs({k: batch[k] for k in ("input_ids", "position_ids")}, attn_implementation)
                logits = forward(**inputs).logits.reshape(*batch["input_ids"].shape, -1)
                labels = batch["labels"][:, 1:]
                loss_sum += F.cross_entropy(logits[:, :-1].float().reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                            ignore_index=IGNORE_INDEX, reduction="sum").item()
                tokens += int((labels != IGNORE_INDEX).sum())
            metrics[f"val_loss_{task}"] = loss_sum / max(tokens, 1)
            total_loss, total_tokens = total_loss + loss_sum, total_tokens + tokens
    metrics["val_loss"] = total_loss / max(total_tokens, 1)
    return metrics
