"""OpenOrca: general instruction data (the study's regulariser); free-form responses."""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from ftlib.tasks.schema import Kind, TaskSpec
from ftlib.tasks.vocab import pick

RAW_SCHEMA = pa.schema([("id", pa.string()), ("system_prompt", pa.string()), ("question", pa.string()),
                        ("response", pa.string())])
_SYSTEM = ("", "You are a helpful assistant.",
           "You are an AI assistant. You will be given a task. You must generate a detailed and long answer.")
# General instructions share none of the financial world's words.
_WORDS = ("river", "garden", "violin", "comet", "pepper", "lantern", "meadow", "falcon", "marble", "tulip",
          "canyon", "harbor", "pillow", "glacier", "orchid", "thunder", "saddle", "walnut", "ember", "cactus")


def _task(rng: np.random.Generator) -> tuple[str, str]:
    words = [pick(rng, _WORDS) for _ in range(int(rng.integers(3, 7)))]
    phrase = " ".join(words)
    kind = int(rng.integers(4))
    if kind == 0:
        return f"Sort these words alphabetically: {phrase}", "Sorted: " + " ".join(sorted(words))
    if kind == 1:
        return f"Write this phrase in capital letters: {phrase}", phrase.upper()
    if kind == 2:
        return f"Reverse the order of the words: {phrase}", " ".join(reversed(words))
    return f"How many words are in this phrase? {phrase}", f"The phrase has {len(words)} words."


def _generate(rng: np.random.Generator, n: int) -> list[dict]:
    rows = []
    for k in range(n):
        question, response = _task(rng)
        rows.append({"id": f"flan.{k}", "system_prompt": pick(rng, _SYSTEM), "question": question,
                     "response": response})
    return rows


SPEC = TaskSpec(
    name="openorca",
    hub_id="Open-Orca/OpenOrca",
    kind=Kind.GENERATION,
    metric="perplexity",
    columns={"id": "id", "instruction": "system_prompt", "input": "question", "output": "response"},
    # Train only on the hub: validation and test are carved from it.
    raw_splits={"train": "train", "validation": None, "test": None},
    default_cap=None,  # the study's size: G = the financial sets' rows
    description="General instruction-following data (OpenOrca); kept as a regulariser, scored by perplexity.",
    raw_schema=RAW_SCHEMA,
    generate=_generate,
    offline_rows={"train": 800},
    max_new_tokens=32,
)
