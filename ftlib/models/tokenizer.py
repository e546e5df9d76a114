"""Tokenizers: load one (hub id or local dir), or train the embedded default on the offline task samples."""
from __future__ import annotations

from typing import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from ftlib.core.errors import ConfigError

# Phi-3's chat layout; `<|end|>` closes every turn and is the EOS, so generation stops after one answer.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\n' + message['content'] + '<|end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)
SPECIAL_TOKENS = ("<|endoftext|>", "<|pad|>", "<|end|>", "<|user|>", "<|assistant|>", "<|system|>")


def train_tokenizer(texts: Iterable[str], vocab_size: int = 2048):
    """A byte-level BPE trained locally (no hub): same texts and size -> same vocabulary."""
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    core.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token="<|endoftext|>", eos_token="<|end|>", pad_token="<|pad|>",
        unk_token=None, padding_side="right")
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def load_tokenizer(name_or_path: str, trust_remote_code: bool = False):

    if not name_or_path:
        raise ConfigError("no tokenizer given (a hub id or a directory)")
    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot load tokenizer {name_or_path!r}: {e}") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer
