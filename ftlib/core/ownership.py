"""What a command may write into, decided here and nowhere else. A command writes only into a directory it
created, or one holding its own marker (``.cocktail-output``, which names the kind of output); it never deletes
what it did not write; and it replaces a previous output of its kind only when asked (``--force``). A refusal is
one line that names the flag and path, and comes before anything is written."""
from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Iterator

from ftlib.core import storage
from ftlib.core.errors import ConfigError
from ftlib.core.storage import atomic_dir, atomic_write_json

MARKER = ".cocktail-output"


def kind_of(directory: str | Path) -> str | None:
    """The kind of cocktail output a directory holds (its marker's), or None."""
    with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
        return json.loads((Path(directory) / MARKER).read_text())["kind"]
    return None


def check_output_dir(path: str | Path, kind: str, flag: str, *, force: bool = False, reuse: bool = False,
                     known_by: str | None = None) -> None:
    """Refuses ``path`` as the directory of an output of ``kind`` unless it is absent, empty, or holds an output
    of that kind that may be added to (``reuse``) or replaced (``force``). ``known_by``: a file by which outputs
    of the kind written before markers existed are known (task data's manifest.json)."""
    if storage.is_uri(str(path)):
        return  # an object store has no directories to trespass into; a run's own prefix is its name
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise ConfigError(f"{flag} {path}: a file is there; expected a directory for the {kind} (nothing was "
                          f"written)")
    if not p.exists() or not any(p.iterdir()):
        return
    found = kind_of(p) or (kind if known_by and (p / known_by).is_file() else None)
    if found is None:
        raise ConfigError(f"{flag} {path}: the directory holds files cocktail did not write; give a new or empty "
                          f"directory (nothing was written or deleted)")
    if found != kind:
        raise ConfigError(f"{flag} {path}: holds a cocktail {found}, not a {kind}; give another directory")
    if not (reuse or force):
        raise ConfigError(f"{flag} {path}: holds a previous {kind}; add --force to replace it")


def check_output_file(path: str | Path, flag: str, force: bool = False) -> None:
    """A file output: refused over a directory, and over an existing file unless ``force``."""
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"{flag} {path}: a directory is there; expected a file path")
    if p.exists() and not force:
        raise ConfigError(f"{flag} {path}: a file is there; add --force to replace it")
    if p.parent.exists() and not p.parent.is_dir():
        raise ConfigError(f"{flag} {path}: {p.parent} is a file, not a directory")


def mark(directory: str | Path, kind: str) -> None:
    atomic_write_json(Path(directory) / MARKER, {"kind": kind})


@contextlib.contextmanager
def new_output_dir(path: str | Path, kind: str, flag: str, force: bool = False,
                   known_by: str | None = None) -> Iterator[Path]:
    """Checked as above, then written whole into a temporary sibling (marked) and renamed into place: an output
    is complete or absent, and what it replaces was an output of its kind."""
    check_output_dir(path, kind, flag, force=force, known_by=known_by)
    with atomic_dir(path) as tmp:
        mark(tmp, kind)
        yield tmp


def claim_dir(path: str | Path, kind: str, flag: str, force: bool = False) -> Path:
    """A directory an output of ``kind`` is written into file by file (an evaluation's): checked as above, then
    created and marked before the first file lands."""
    check_output_dir(path, kind, flag, force=force)
    if storage.is_uri(str(path)):
        return Path(path)
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    if kind_of(p) is None:
        mark(p, kind)
    return p
