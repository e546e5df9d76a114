"""``cocktail model tiny``: the embedded default model, a random-init Phi-3 or Llama plus a local tokenizer."""
from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, LlamaConfig, Phi3Config

from ftlib.core.errors import ConfigError
from ftlib.core.ownership import check_output_dir, new_output_dir
from ftlib.models.tokenizer import train_tokenizer
from ftlib.tasks.canonical import to_canonical
from ftlib.tasks.catalog import get_task, task_names
from ftlib.tasks.prompts import render_prompt
from ftlib.tasks.sources import load_offline

ARCHS = ("phi3", "llama")


def corpus(seed: int = 0) -> list[str]:
    """Every offline sample of every task, rendered as a model will see it."""
    texts = []
    for name in task_names():
        spec = get_task(name)
        for table in load_offline(spec, seed).tables.values():
            canon, _ = to_canonical(spec, table, split="train", raw_split="train", file="offline",
                                    source="offline", revision="")
            texts += [render_prompt(r) + r["output"] for r in canon.to_pylist()]
    return texts


def tiny_config(arch: str, vocab_size: int, pad_id: int, bos_id: int, eos_id: int, hidden: int = 128,
                layers: int = 2, heads: int = 4, max_positions: int = 2048):
    common = dict(vocab_size=vocab_size, hidden_size=hidden, intermediate_size=hidden * 4, num_hidden_layers=layers,
                  num_attention_heads=heads, num_key_value_heads=heads, max_position_embeddings=max_positions,
                  pad_token_id=pad_id, bos_token_id=bos_id, eos_token_id=eos_id, tie_word_embeddings=False)
    if arch == "phi3":
        return Phi3Config(**common)
    if arch == "llama":
        return LlamaConfig(**common)
    raise ConfigError(f"unknown arch {arch!r}; expected one of {ARCHS}")


def build_tiny(arch: str, out: str | Path, seed: int = 0, vocab_size: int = 2048, hidden: int = 128,
               layers: int = 2, heads: int = 4, force: bool = False) -> Path:
    """Written whole into ``out``: a new or empty directory, or (``force``) one holding an earlier tiny model."""
    if arch not in ARCHS:
        raise ConfigError(f"unknown arch {arch!r}; expected one of {ARCHS}")
    for flag, value, low in (("--hidden", hidden, heads), ("--layers", layers, 1), ("--vocab-size", vocab_size, 64),
                             ("--seed", seed, 0)):
        if value < low:
            raise ConfigError(f"{flag} {value}: expected at least {low}")
    if hidden % heads:
        raise ConfigError(f"--hidden {hidden}: expected a multiple of the {heads} attention heads")
    check_output_dir(out, "model", "--out", force=force)  # before the tokenizer trains (seconds)
    tokenizer = train_tokenizer_for_tasks(seed, vocab_size)
    config = tiny_config(arch, len(tokenizer), tokenizer.pad_token_id, tokenizer.bos_token_id,
                         tokenizer.eos_token_id, hidden, layers, heads)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    with new_output_dir(out, "model", "--out", force=force) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return Path(out)


def train_tokenizer_for_tasks(seed: int, vocab_size: int):
    return train_tokenizer(corpus(seed), vocab_size)
