"""Where raw rows come from: the hub, files (local or object store), or the offline generator.

All three return tables in the task's *raw hub schema*, so the same mapping runs everywhere.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

import datasets
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.fs as pafs
import pyarrow.json as pajson
import pyarrow.parquet as pq
from huggingface_hub import HfApi

from ftlib.core import storage
from ftlib.core.errors import DataError
from ftlib.core.hashing import sha256_bytes
from ftlib.core.seeding import rng_for
from ftlib.tasks.canonical import check_columns
from ftlib.tasks.schema import TaskSpec

# Bump when a generator's output changes: it is the offline data's revision.
OFFLINE_VERSION = "2"
FILE_FORMATS = ("parquet", "jsonl", "csv")


@dataclass
class RawData:
    tables: dict[str, pa.Table]  # raw split name -> table
    files: dict[str, str]  # raw split name -> where it came from (for errors)
    source: str
    revision: str


def raw_split_names(spec: TaskSpec) -> list[str]:
    return [s for s in spec.raw_splits.values() if s is not None]


def load_raw(spec: TaskSpec, source: str, seed: int, offline_rows: int | None = None) -> RawData:
    if source == "offline":
        return load_offline(spec, seed, offline_rows)
    if source == "hub":
        return load_hub(spec)
    return load_path(spec, source)


def load_offline(spec: TaskSpec, seed: int, rows: int | None = None) -> RawData:
    """Generated rows in the raw schema. Rows sharing a text go to one raw split, so splits never share text.

    ``rows`` sets the train size (other splits keep their ratio to it).
    """
    sizes = dict(spec.offline_rows)
    if rows is not None:
        scale = rows / sizes["train"]
        sizes = {k: max(1, round(v * scale)) for k, v in sizes.items()}
    rng = rng_for(seed, "offline", spec.name)
    generated = spec.generate(rng, int(sum(sizes.values()) * 1.1) + 20)
    keys = [row[spec.text_column] for row in generated]
    order: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        order.setdefault(key, []).append(i)
    tables, files = {}, {}
    groups = iter(order.values())
    for split, size in sizes.items():
        picked: list[int] = []
        while len(picked) < size:
            group = next(groups, None)
            if group is None:
                raise DataError(f"task {spec.name!r}: offline generator made too few distinct rows for {split}")
            picked.extend(group)
        tables[split] = pa.Table.from_pylist([generated[i] for i in picked], schema=spec.raw_schema)
        files[split] = f"offline:{spec.name}/{split}"
    return RawData(tables, files, "offline", f"offline-v{OFFLINE_VERSION}-seed{seed}")


def load_hub(spec: TaskSpec) -> RawData:
    """``datasets.load_dataset`` of each raw split. ``HF_TOKEN`` is read from the environment, never logged."""
    if not spec.hub_id:
        raise DataError(f"task {spec.name!r} has no public hub source (its data is licensed); "
                        f"give your own files with --source PATH ({spec.name}/<split>.jsonl in its raw schema)")
    tables, files = {}, {}
    token = os.environ.get("HF_TOKEN")
    split = "-"
    try:
        # Every split from one commit, and that commit recorded: "main" names whatever the hub holds today.
        revision = spec.revision if os.path.isdir(spec.hub_id) else dataset_commit(spec.hub_id, spec.revision, token)
        for split in raw_split_names(spec):
            ds = datasets.load_dataset(spec.hub_id, spec.hub_config, revision=revision, split=split, token=token)
            tables[split] = ds.data.table.combine_chunks()
            files[split] = f"hub:{spec.hub_id}@{revision}[{split}]"
    except OSError as e:  # ConnectionError (offline, no network), hub HTTP errors, files not found
        reason = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        raise DataError(f"task {spec.name!r}: cannot load {spec.hub_id} (split {split}) from the Hugging Face "
                        f"hub: {reason}. Offline alternatives: source offline (generated samples), or a PATH "
                        f"holding {spec.name}/{split}.{{parquet,jsonl,csv}} in the raw schema (`--source` for "
                        f"`data prepare` / `eval`, `data.source` in a run or sweep config)") from None
    return RawData(tables, files, f"hub:{spec.hub_id}", revision)


def dataset_commit(repo: str, revision: str, token: str | None) -> str:
    """The commit a hub revision (a branch, a tag) points to now."""
    return HfApi().dataset_info(repo, revision=revision, token=token).sha or revision


def load_path(spec: TaskSpec, root: str) -> RawData:
    """``ROOT/<task>/<raw split>.{parquet,jsonl,csv}``; ROOT is a directory or an s3:// / gs:// / file:// URI."""
    try:
        fs, base = storage.filesystem(root)
    except (pa.ArrowInvalid, OSError) as e:
        raise DataError(f"--source {redact(root)!r}: cannot open ({e})") from None
    tables, files, digests = {}, {}, []
    for split in raw_split_names(spec):
        path = _find_split_file(fs, base, spec.name, split)
        data = _read_bytes(fs, path)
        tables[split] = _cast_raw(spec, _parse(path, data), path)
        files[split] = path
        digests.append(sha256_bytes(data))
    return RawData(tables, files, f"path:{redact(root)}", sha256_bytes("".join(digests).encode())[:16])


def redact(uri: str) -> str:
    """Drops credentials written into a URI (``s3://KEY:SECRET@bucket``)."""
    return re.sub(r"(://)[^/@]*@", r"\1", uri)


def _find_split_file(fs: pafs.FileSystem, base: str, task: str, split: str) -> str:
    candidates = [f"{base}/{task}/{split}.{ext}" for ext in FILE_FORMATS]
    for path in candidates:
        if fs.get_file_info(path).type == pafs.FileType.File:
            return path
    raise DataError(f"task {task!r}: no file for raw split {split!r}; expected one of {candidates}")


def _read_bytes(fs: pafs.FileSystem, path: str) -> bytes:
    with fs.open_input_stream(path) as f:
        return f.read()


def _parse(path: str, data: bytes) -> pa.Table:
    buf = pa.BufferReader(data)
    try:
        if path.endswith(".parquet"):
            return pq.read_table(buf)
        if path.endswith(".jsonl"):
            return pajson.read_json(buf)
        return pacsv.read_csv(buf)
    except pa.ArrowException as e:
        raise DataError(f"{path}: cannot parse ({e})") from None


def _cast_raw(spec: TaskSpec, table: pa.Table, path: str) -> pa.Table:
    check_columns(spec, table, path)
    columns = []
    for field in spec.raw_schema:
        try:
            columns.append(table.column(field.name).cast(field.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
            raise DataError(f"task {spec.name!r}: {path} column {field.name!r}: expected {field.type} ({e})") from None
    return pa.Table.from_arrays(columns, schema=spec.raw_schema)
