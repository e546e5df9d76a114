"""Bytes of the files cocktail writes: the same object gives the same bytes, so a rewrite of unchanged content
changes nothing."""
from __future__ import annotations

import io
import json
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq


def json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n").encode()


def parquet_bytes(table: pa.Table) -> bytes:
    """Same table, same pyarrow -> same bytes (no timestamps in Parquet metadata)."""
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()
