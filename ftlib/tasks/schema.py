"""The canonical task record and the declarative description of a task.

Every task, whatever its raw hub schema, becomes rows of ``CANONICAL_SCHEMA``:

| column      | meaning                                                                      |
|-------------|------------------------------------------------------------------------------|
| task        | registry name, e.g. ``fpb``                                                   |
| id          | stable row id: the raw id where the source has one, else ``task:split:n``     |
| split       | ``train`` / ``validation`` / ``test`` (the canonical split, not the raw name) |
| instruction | what the model is asked to do (the study's instruction block)                 |
| input       | the text the instruction is about (may be empty)                              |
| output      | the target response                                                           |
| choices     | the allowed answers for classification / multiple choice, else empty          |
| group       | a sub-population scored on its own (headline: the question type), else ""     |
| source      | ``hub:<id>`` / ``path:<uri>`` / ``offline``                                   |
| revision    | hub revision, file digest or generator version                                |
| row_hash    | sha256 (hex, 16 chars) of instruction, input and output                       |
| raw_index   | the row's position in its raw split (the study's shuffle indexes raw rows)    |

The user turn shown to a model is ``instruction + "\\n" + input`` (just ``instruction`` when input is empty).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Callable

import pyarrow as pa

CANONICAL_SCHEMA = pa.schema(
    [
        ("task", pa.string()),
        ("id", pa.string()),
        ("split", pa.string()),
        ("instruction", pa.string()),
        ("input", pa.string()),
        ("output", pa.string()),
        ("choices", pa.list_(pa.string())),
        ("group", pa.string()),
        ("source", pa.string()),
        ("revision", pa.string()),
        ("row_hash", pa.string()),
        ("raw_index", pa.int64()),
    ]
)

SPLITS = ("train", "validation", "test")


class Kind(str, enum.Enum):
    CLASSIFICATION = "classification"
    NUMERIC_QA = "numeric_qa"
    MULTIPLE_CHOICE = "multiple_choice"
    GENERATION = "generation"


@dataclass(frozen=True)
class TaskSpec:
    """Everything that differs between tasks, as data.

    ``columns`` maps canonical fields (``id``, ``instruction``, ``input``, ``output``, ``label``) to raw
    column names. A task whose raw label is an int sets ``label_names`` (index = raw int); the word
    becomes ``output``. ``instruction`` is the study-style instruction block used when the raw data
    has none. ``raw_splits`` maps canonical splits to the hub's split names; a canonical split mapped
    to ``None`` is carved, seeded, out of the raw ``train`` split (never out of test).
    ``derive`` adds computed raw columns (e.g. a label from a score) before the mapping runs.
    """

    name: str
    hub_id: str
    kind: Kind
    metric: str
    columns: dict[str, str]
    raw_splits: dict[str, str | None]
    default_cap: int | None
    description: str
    raw_schema: pa.Schema
    generate: Callable[..., list[dict]]
    hub_config: str | None = None
    revision: str = "main"
    labels: tuple[str, ...] = ()
    label_names: tuple[str, ...] = ()
    instruction: str = ""
    group_column: str | None = None
    # Raw column that identifies an example when ``columns["input"]`` is a derived column.
    key_column: str | None = None
    derive: Callable[[pa.Table], pa.Table] | None = None
    carve_fraction: float = 0.1
    carve_max_rows: int = 2000
    # Offline sample sizes per raw split (rows), small enough for CI.
    offline_rows: dict[str, int] = field(default_factory=dict)
    max_new_tokens: int = 8
    # The label order of the task's FLARE dataset (each row's ``choices``): FinBen / PIXIU take the first choice
    # found in an output in this order. None: the task has no FLARE set (``labels`` order then).
    flare_choices: tuple[str, ...] | None = None
    # Study fidelity (``cocktail data prepare --study``): the input as the study's preparation left it.
    study_input: Callable[[str], str] | None = None

    @property
    def text_column(self) -> str:
        """The raw column whose text identifies an example (for carving and leakage checks)."""
        if self.key_column:
            return self.key_column
        return self.columns["input"] if self.columns.get("input") else self.columns["instruction"]

