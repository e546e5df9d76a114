"""``cocktail data prepare``: raw source -> canonical, checked, split Parquet files and a manifest.

Every task is built in memory and checked before anything is written; files are written atomically and
left untouched when their bytes would not change, so a rerun of the same inputs changes nothing.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pyarrow as pa

from ftlib.core import storage
from ftlib.core.encode import json_bytes, parquet_bytes
from ftlib.core.errors import ConfigError, DataError
from ftlib.core.hashing import sha256_bytes
from ftlib.core.ownership import check_output_dir
from ftlib.tasks.canonical import DROP_REASONS, to_canonical
from ftlib.tasks.catalog import resolve_tasks
from ftlib.tasks.schema import SPLITS, TaskSpec
from ftlib.tasks.sources import OFFLINE_VERSION, load_raw
from ftlib.tasks.splits import carve, carve_beyond_cap, drop_leaks
from ftlib.tasks.store import MANIFEST, read_manifest


def build_task(spec: TaskSpec, source: str, seed: int, strict: bool = False,
               offline_rows: int | None = None, study: bool = False) -> tuple[dict[str, pa.Table], dict]:
    """Canonical tables per split and the task's manifest entry (without file digests). ``study``: the study's
    preparation (its input text, validation from beyond its cap) for runs that reproduce its rows."""
    raw = load_raw(spec, source, seed, offline_rows)
    tables: dict[str, pa.Table] = {}
    dropped: Counter = Counter({reason: 0 for reason in DROP_REASONS})
    for split, raw_split in spec.raw_splits.items():
        if raw_split is None:
            continue
        tables[split], counts = to_canonical(
            spec, raw.tables[raw_split], split=split, raw_split=raw_split, file=raw.files[raw_split],
            source=raw.source, revision=raw.revision, strict=strict, study=study)
        dropped.update(counts)
    carved = [s for s, r in spec.raw_splits.items() if r is None]
    raw_rows = {r: raw.tables[r].num_rows for r in spec.raw_splits.values() if r is not None}
    if study:
        parts, validation = carve_beyond_cap(spec, tables["train"], carved, raw_rows[spec.raw_splits["train"]], seed)
    else:
        parts, validation = carve(spec, tables["train"], carved, seed), "seeded carve" if carved else "raw split"
    tables.update(parts)
    # The study trained on its rows as they were: under study fidelity train keeps rows whose text is also in
    # test (counted in the manifest); validation never does.
    tables, leaks = drop_leaks(tables, splits=("validation",) if study else ("train", "validation"))
    if strict and any(leaks.values()):
        raise DataError(f"task {spec.name!r}: rows that share text with the test split (leakage): {leaks}")
    dropped["leaked_into_test"] = sum(v for k, v in leaks.items() if not k.endswith("_kept"))
    for split in SPLITS:
        if tables[split].num_rows == 0:
            raise DataError(f"task {spec.name!r}: split {split!r} is empty after checks (dropped: {dict(dropped)})")
    entry = {
        "hub_id": spec.hub_id,
        "kind": spec.kind.value,
        "metric": spec.metric,
        "source": raw.source,
        "revision": raw.revision,
        "seed": seed,
        "fidelity": "study" if study else "cocktail",
        "validation": validation,
        "raw_rows": raw_rows,
        "raw_splits": {s: (r if r is not None else "carved from train") for s, r in spec.raw_splits.items()},
        "dropped": dict(sorted(dropped.items())),
        "leakage": leaks,
    }
    return {s: tables[s] for s in SPLITS}, entry


def check_source(data_dir, task: str, entry: dict, source: str, study: bool = False) -> None:
    """A run that asks for ``source`` must not train on a task prepared from another one."""
    kind = {"offline": "offline", "hub": "hub"}.get(source, "path")
    had = entry.get("source", "?").split(":", 1)[0]
    again = f"`cocktail data prepare --tasks {task} --source {source} --out {data_dir}`"
    if had != kind:
        raise DataError(f"{data_dir}: task {task!r} was prepared from {entry.get('source')!r} but data.source is "
                        f"{source!r}: prepare it again ({again}) or point data.dir elsewhere")
    if kind == "offline" and not str(entry.get("revision", "")).startswith(f"offline-v{OFFLINE_VERSION}-"):
        raise DataError(f"{data_dir}: task {task!r} was made by an older offline generator "
                        f"({entry.get('revision')!r}, now v{OFFLINE_VERSION}): prepare it again ({again})")
    if study and entry.get("fidelity") != "study":
        raise DataError(f"{data_dir}: task {task!r} was not prepared as the study prepared it, which mixture "
                        f"selection: study needs: prepare it again ({again[:-1]} --study`)")


def prepare(specs: list[TaskSpec], source: str, out: str | Path, seed: int = 42, strict: bool = False,
            offline_rows: int | None = None, study: bool = False, flag: str = "--out") -> dict:
    """Into ``out``: a new or empty directory, or one holding prepared task data (its manifest.json)."""
    if seed < 0:
        raise ConfigError(f"--seed {seed}: expected a seed >= 0")
    if offline_rows is not None and offline_rows < 1:
        raise ConfigError(f"--offline-rows {offline_rows}: expected at least 1 train row per task")
    out = storage.absolute(out)
    check_output_dir(out, "task data", flag, reuse=True, known_by=MANIFEST)
    built = {spec.name: build_task(spec, source, seed, strict, offline_rows, study) for spec in specs}
    manifest = read_manifest(out)
    for name, (tables, entry) in built.items():
        entry["splits"] = {}
        for split, table in tables.items():
            rel = f"{name}/{split}.parquet"
            data = parquet_bytes(table)
            digest = sha256_bytes(data)
            path = storage.join(out, rel)
            old_bytes = storage.read_bytes(path)
            if old_bytes is None or sha256_bytes(old_bytes) != digest:
                storage.write_bytes(path, data)
            entry["splits"][split] = {"file": rel, "rows": table.num_rows, "sha256": digest}
        old = manifest["tasks"].get(name, {})
        unchanged = {k: v for k, v in old.items() if k != "created"} == entry
        entry["created"] = old["created"] if unchanged else dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        manifest["tasks"][name] = entry
    manifest["tasks"] = dict(sorted(manifest["tasks"].items()))
    if read_manifest(out) != manifest:
        storage.write_bytes(storage.join(out, MANIFEST), json_bytes(manifest))
    return manifest


def ensure_prepared(data_dir: str | Path, tasks: list[str], source: str, seed: int,
                    prepare_missing: bool = True, same_source: bool = False, study: bool = False) -> list[str]:
    """The one rule of ``train``, ``eval`` and ``sweep``: tasks missing from ``data_dir`` are prepared from
    ``source`` (or refused when ``prepare_missing`` is off). ``same_source`` (training): a task prepared from
    another kind of source, or by an older offline generator, is refused; ``study`` (a run reproducing the study's
    rows) prepares missing tasks as the study did and refuses tasks prepared otherwise. Returns the tasks it
    prepared."""
    specs = resolve_tasks(tasks)
    prepared = read_manifest(data_dir)["tasks"]
    if same_source:
        for spec in specs:
            if spec.name in prepared:
                check_source(data_dir, spec.name, prepared[spec.name], source, study)
    missing = [s for s in specs if s.name not in prepared]
    if missing and not prepare_missing:
        raise DataError(f"tasks {[s.name for s in missing]} are not prepared in {data_dir}")
    if missing:
        prepare(missing, source, data_dir, seed=seed, study=study, flag="data.dir")
    return [s.name for s in missing]


def prepare_selected(selector: str, source: str, out: str | Path, seed: int = 42, strict: bool = False,
                     offline_rows: int | None = None, study: bool = False) -> tuple[list[str], dict]:
    """``cocktail data prepare``: the tasks named by ``selector`` (``all`` or ``a,b``), and the manifest after."""
    specs = resolve_tasks(selector)
    return [s.name for s in specs], prepare(specs, source, out, seed, strict, offline_rows, study)
