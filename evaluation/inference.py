"""Batched inference: greedy generation with left padding, and teacher-forced log-probabilities
(label scoring for classification, perplexity for free text). CPU and GPU, base / merged / base + LoRA."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM

from ftlib.core.errors import ConfigError
from ftlib.core.storage import atomic_dir
from ftlib.data.tokenize import encode_batch
from ftlib.models.locate import local_model_path
from ftlib.models.tokenizer import load_tokenizer


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    device: str
    description: str  # what was loaded, for scores: "base", "base+adapter", ...


def load_for_eval(model: str, adapter: str | None = None, device: str | None = None,
                  trust_remote_code: bool = False) -> LoadedModel:
    """``model``: an embedded name, a model dir, a hub id, or a trained run's ``model/`` dir. A LoRA run's
    dir (``cocktail.json`` says method lora) is read as its base model + that adapter."""

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    path = Path(local_model_path(model))
    meta = path / "cocktail.json"
    if adapter is None and meta.exists() and json.loads(meta.read_text())["method"] == "lora":
        adapter, path = str(path), Path(local_model_path(json.loads(meta.read_text())["base_model"]))
    if not (path / "config.json").exists() and path.exists():
        raise ConfigError(f"--model {model!r}: {path} has no config.json")
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    try:
        base = AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype, trust_remote_code=trust_remote_code)
    except OSError as e:
        raise ConfigError(f"--model {model!r}: cannot load ({e})") from None
    tokenizer = load_tokenizer(adapter if adapter and (Path(adapter) / "tokenizer_config.json").exists() else str(path),
                               trust_remote_code)
    loaded = base
    if adapter:
        if not (Path(adapter) / "adapter_config.json").exists():
            raise ConfigError(f"--adapter {adapter!r}: no adapter_config.json there")
        loaded = PeftModel.from_pretrained(base, adapter)
    loaded.to(device).eval()
    return LoadedModel(loaded, tokenizer, device, "base+adapter" if adapter else "base")


def generate(lm: LoadedModel, prompts: Sequence[str], max_new_tokens: int, batch_size: int = 16,
             add_special_tokens: bool = True) -> list[str]:
    """Greedy continuations, batched with left padding, to EOS or ``max_new_tokens``: whole (a scoring profile
    decides what of an output it reads; a newline is not an answer's end to every reader)."""
    tok = lm.tokenizer
    tok.padding_side = "left"
    outputs: list[str] = []
    for start in range(0, len(prompts), batch_size):
        batch = list(prompts[start:start + batch_size])
        enc = tok(batch, return_tensors="pt", padding=True, add_special_tokens=add_special_tokens).to(lm.device)
        with torch.no_grad():
            out = lm.model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                    pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
        for row in out[:, enc["input_ids"].shape[1]:]:
            text = tok.decode(row, skip_special_tokens=True)
            outputs.append(text)  # whole: how to read it is each scoring profile's rule (evaluation/profiles.py)
    return outputs


def continuation_logprobs(lm: LoadedModel, prompts: Sequence[str], continuations: Sequence[str],
                          batch_size: int = 16, add_special_tokens: bool = True) -> list[tuple[float, int]]:
    """(sum of log p, tokens) of each continuation + EOS given its prompt. EOS closes the answer, so a
    label is scored as a whole (``Stock`` cannot win by being a prefix of ``Stock Movement``)."""

    tok = lm.tokenizer
    prompt_ids = encode_batch(tok, list(prompts), add_special_tokens)
    cont_ids = [ids + [tok.eos_token_id] for ids in encode_batch(tok, list(continuations), False)]
    results: list[tuple[float, int]] = []
    for start in range(0, len(prompt_ids), batch_size):
        p_batch, c_batch = prompt_ids[start:start + batch_size], cont_ids[start:start + batch_size]
        seqs = [p + c for p, c in zip(p_batch, c_batch)]
        width = max(map(len, seqs))
        ids = torch.full((len(seqs), width), tok.pad_token_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, s in enumerate(seqs):
            ids[i, : len(s)] = torch.tensor(s)
            mask[i, : len(s)] = 1
        with torch.no_grad():
            logits = lm.model(input_ids=ids.to(lm.device), attention_mask=mask.to(lm.device)).logits.float()
        logprobs = torch.log_softmax(logits[:, :-1], dim=-1)
        for i, (p, c) in enumerate(zip(p_batch, c_batch)):
            positions = torch.arange(len(p) - 1, len(p) + len(c) - 1)
            picked = logprobs[i, positions, torch.tensor(c)]
            results.append((float(picked.sum()), len(c)))
    return results


def score_labels(lm: LoadedModel, prompts: Sequence[str], labels: Sequence[str], batch_size: int = 16,
                 add_special_tokens: bool = True) -> list[str]:
    """The label with the highest log-likelihood after each prompt."""
    pairs_p = [p for p in prompts for _ in labels]
    pairs_c = [label for _ in prompts for label in labels]
    scores = continuation_logprobs(lm, pairs_p, pairs_c, batch_size, add_special_tokens)
    k = len(labels)
    return [labels[max(range(k), key=lambda j: scores[i * k + j][0])] for i in range(len(prompts))]


def merge_adapter(lm: LoadedModel, out: str | Path) -> Path:
    """Writes base + adapter merged into one model dir (with the tokenizer)."""
    merged = lm.model.merge_and_unload()
    with atomic_dir(out) as tmp:
        merged.save_pretrained(tmp)
        lm.tokenizer.save_pretrained(tmp)
    return Path(out)
