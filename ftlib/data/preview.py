"""What a model will see, before anything trains: a task's rendered prompts and targets, and a mixture's plan."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ftlib.core.configs import load_config, validate
from ftlib.core.errors import ConfigError
from ftlib.core.ownership import check_output_file
from ftlib.data.pipeline import token_lengths_fn
from ftlib.data.plan import Plan, make_plan
from ftlib.data.spec import MixtureSpec, parse_weights
from ftlib.models.tokenizer import load_tokenizer
from ftlib.tasks.catalog import get_task
from ftlib.tasks.prompts import render_prompt
from ftlib.tasks.store import read_split


def rendered_examples(task: str, split: str, n: int, data_dir: str, style: str = "plain",
                      tokenizer: str | None = None) -> tuple[list[dict[str, Any]], int]:
    """The first ``n`` records of a prepared task with their rendered prompts, and the split's row count."""
    get_task(task)
    table = read_split(data_dir, task, split)
    tok = load_tokenizer(tokenizer) if style == "chat" else None
    records = table.slice(0, n).to_pylist()
    return [{**r, "prompt": render_prompt(r, style, tok)} for r in records], table.num_rows


def mixture_spec(weights: str | None, budget: int | None, unit: str, fill: str, caps: list[str],
                 temperature: float | None, seed: int | None, spec_file: str | None) -> MixtureSpec:
    """A mixture from ``--weights``/``--budget`` and friends, or from a mixture YAML (``--seed`` overrides its)."""
    if spec_file:
        return load_config(MixtureSpec, spec_file, edit=lambda d: d if seed is None else {**d, "seed": seed})
    if not weights:
        raise ConfigError("give --weights TASK=W,... (with --budget) or --spec FILE")
    cap = parse_weights(",".join(caps), "--cap", int) if caps else {}
    sources = {name: {"weight": w, **({"cap": cap[name]} if name in cap else {})}
               for name, w in parse_weights(weights).items()}
    unknown_caps = sorted(set(cap) - set(sources))
    if unknown_caps:
        raise ConfigError(f"--cap names tasks not in --weights: {unknown_caps}")
    data = {"sources": sources, "budget": budget, "unit": unit, "fill": fill, "temperature": temperature,
            "seed": 42 if seed is None else seed}
    return validate(MixtureSpec, data, "--weights/--budget")


def preview_mixture(spec: MixtureSpec, data_dir: str, tokenizer: str, style: str, out: str | Path | None,
                    force: bool = False) -> Plan:
    """The plan of ``spec`` on the prepared data (tokens counted with ``tokenizer``), saved to ``out`` if given
    (a new file, or ``force`` to replace one)."""
    if out:
        check_output_file(out, "--out", force)
    plan = make_plan(spec, data_dir, token_lengths_fn(data_dir, tokenizer, style))
    if out:
        plan.save(out)
    return plan
