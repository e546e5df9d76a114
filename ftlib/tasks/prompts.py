"""How a canonical record becomes the text a model sees.

Two renderings of the same record:
- ``plain``: the study's instruction / input / response layout (LLaMA-Factory alpaca style);
- ``chat``: the user turn through the tokenizer's chat template, the response as the assistant turn.
"""
from __future__ import annotations

from typing import Any, Mapping

PLAIN_TEMPLATE = "{user}\n### Response:\n"
STYLES = ("plain", "chat")


def user_turn(instruction: str, input_text: str) -> str:
    """The study's user turn: ``instruction + "\\n" + input``."""
    instruction, input_text = (instruction or "").strip(), (input_text or "").strip()
    if instruction and input_text:
        return f"{instruction}\n{input_text}"
    return instruction or input_text


def render_prompt(record: Mapping[str, Any], style: str = "plain", tokenizer: Any = None) -> str:
    """The prompt text, up to where the response starts (the response is ``record["output"]``)."""
    user = user_turn(record["instruction"], record["input"])
    if style == "plain":
        return PLAIN_TEMPLATE.format(user=user)
    if style == "chat":
        if tokenizer is None or not getattr(tokenizer, "chat_template", None):
            raise ValueError("style 'chat' needs a tokenizer with a chat_template")
        return tokenizer.apply_chat_template(
            [{"role": "user", "content": user}], tokenize=False, add_generation_prompt=True)
    raise ValueError(f"unknown prompt style {style!r}; expected one of {STYLES}")
