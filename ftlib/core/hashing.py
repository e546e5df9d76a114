"""Every digest cocktail takes: config hashes that name outputs, file digests in manifests, row and model hashes."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

MODEL_FILE_SUFFIXES = (".json", ".safetensors", ".bin")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_hash(obj: Any, length: int = 12) -> str:
    """Hash of canonical JSON: the name of a config's outputs."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def text_hash(text: str, length: int = 64) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def model_hash(*dirs: str | None) -> str:
    """sha256 over the weight and config files of the model (and adapter): what was scored, exactly."""
    h = hashlib.sha256()
    for d in filter(None, dirs):
        path = Path(d)
        if not path.is_dir():
            h.update(str(d).encode())  # a hub id: its name is what we know
            continue
        for f in sorted(p for p in path.rglob("*") if p.suffix in MODEL_FILE_SUFFIXES):
            h.update(f.relative_to(path).as_posix().encode())
            with open(f, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
    return h.hexdigest()[:16]
