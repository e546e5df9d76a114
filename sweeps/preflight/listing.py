"""The trials of a sweep as they would run, with nothing downloaded, prepared or trained.

Where a task's data is prepared, its rows come from the plan and its tokens from the prepared text
(characters / 4); where it is not, rows are the caps' upper bounds and tokens are unknown, and the listing
says so instead of fetching anything.
"""
from __future__ import annotations

import math
from typing import Any

from ftlib.data.plan import make_plan
from ftlib.data.spec import MixtureSpec, SumOf
from ftlib.planner.cost import PACK_FILL
from ftlib.run.executor import executor_of
from ftlib.run.resolve import resolve
from ftlib.tasks.store import read_manifest, read_split

CHARS_PER_TOKEN = 4


def listing(configs) -> dict[str, Any]:
    """Every trial (id, model, epochs, rows per task, estimated tokens) and the tasks that are not prepared."""
    chars: dict[tuple[str, str], float] = {}
    trials, unprepared = [], set()
    for cfg in configs:
        study = cfg.mixture.selection == "study"
        prepared = {t for t, e in read_manifest(cfg.data.dir)["tasks"].items()
                    if not study or e.get("fidelity") == "study"}
        missing = sorted(set(cfg.mixture.active()) - prepared)
        unprepared.update(missing)
        if missing:
            rows = {task: _bound(cfg.mixture, task) for task in sorted(cfg.mixture.active())}
            tokens = None
        else:
            plan = make_plan(cfg.mixture, cfg.data.dir)
            rows = {s.task: s.rows for s in plan.sources}
            tokens = _bounded(cfg, cfg.epochs * sum(n * _mean_chars(chars, cfg.data.dir, t) / CHARS_PER_TOKEN
                                                    for t, n in rows.items()))
        trials.append({"trial_id": cfg.run_id(), "model": cfg.model.name, "epochs": cfg.epochs, "mixture": rows,
                       "est_tokens": tokens, "executor": describe_executor(cfg)})
    return {"trials": trials, "unprepared": sorted(unprepared),
            "source": configs[0].data.source if configs else None,
            "study": bool(configs) and configs[0].mixture.selection == "study"}


def describe_executor(cfg) -> str:
    """Where a trial's runs train and why: ``tune (one worker)``, ``ray_train (2 workers)``."""
    executor = executor_of(cfg)
    return f"{executor.name} ({executor.reason})"


def _bounded(cfg, tokens: float) -> int:
    """The epochs' tokens, or what ``max_steps`` packed steps hold when that is fewer (as the compute plan)."""
    if cfg.max_steps:
        tokens = min(tokens, cfg.max_steps * resolve(cfg, cuda=cfg.use_gpu).global_batch_size * cfg.data.seq_len
                     * PACK_FILL)
    return int(tokens)


def _bound(spec: MixtureSpec, task: str) -> str:
    """Rows a source will have at most, from the spec alone (``≤5000``), or ``?`` where only data can tell."""
    source = spec.sources[task]
    if source.weight is not None:
        total = sum(s.weight for s in spec.active().values())
        return f"~{round(spec.budget * source.weight / total)}" if spec.unit == "examples" else "?"
    if isinstance(source.rows, int):
        return str(source.rows)
    if isinstance(source.rows, SumOf):
        caps = source.rows.sum_of.values()
        return "?" if None in caps else f"≤{math.floor(source.rows.scale * sum(caps))}"
    return f"≤{source.cap}" if source.cap else "?"


def _mean_chars(cache: dict, data_dir: str, task: str) -> float:
    if (data_dir, task) not in cache:
        table = read_split(data_dir, task, "train")
        texts = zip(*(table.column(k).to_pylist() for k in ("instruction", "input", "output")))
        lengths = [len(a) + len(b) + len(c) for a, b, c in texts]
        cache[data_dir, task] = sum(lengths) / len(lengths)
    return cache[data_dir, task]
