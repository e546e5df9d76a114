"""Where outputs live: a path every node mounts, or an object-store URI (``s3://``, ``gs://``) read and written
through pyarrow.fs, as Ray Tune and Train do for the same ``storage_path``. Credentials come from the
environment (the cloud SDKs' own variables and instance roles), never from a config.

Local writes are atomic: a reader sees the old file or the whole new one, never a half-written one."""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs

from ftlib.core.encode import json_bytes
from ftlib.core.errors import CocktailError, ConfigError


class StorageError(CocktailError):
    """Storage that cannot be written: full, gone, or not ours to write."""


def is_uri(location: str | Path) -> bool:
    return "://" in str(location)


def join(base: str | Path, *parts: str) -> str:
    if is_uri(base):
        return "/".join([str(base).rstrip("/"), *parts])
    return str(Path(base, *parts))


def absolute(location: str | Path) -> str:
    return str(location) if is_uri(location) else str(Path(location).absolute())


def filesystem(location: str) -> tuple[pafs.FileSystem, str]:
    """The pyarrow filesystem and path of a location (pyarrow's error where a URI cannot be opened)."""
    if not is_uri(location):
        return pafs.LocalFileSystem(), os.path.abspath(location)
    return pafs.FileSystem.from_uri(location)


def _resolve(location: str) -> tuple[pafs.FileSystem, str]:
    try:
        return filesystem(location)
    except (OSError, ValueError) as e:
        raise ConfigError(f"{location}: not a storage URI pyarrow can open ({e})") from None


def write_bytes(location: str, data: bytes) -> None:
    """Whole or not at all: a local file is written then renamed; an object appears only once its upload
    completes (S3 and GCS make a PUT or a completed multipart upload visible at once). A write that fails (a
    full disk, a lost bucket) is one clear error; the old file, if any, is left as it was."""
    try:
        if not is_uri(location):
            atomic_write_bytes(location, data)
            return
        fs, path = _resolve(location)
        with fs.open_output_stream(path) as f:
            f.write(data)
    except OSError as e:
        raise StorageError(f"{location}: cannot write ({e.strerror or e})") from None


def read_bytes(location: str) -> bytes | None:
    """The file's bytes, or None if there is none."""
    fs, path = _resolve(location)
    try:
        with fs.open_input_stream(path) as f:
            return f.read()
    except FileNotFoundError:
        return None


def upload_dir(local: str | Path, location: str) -> None:
    """Copies a local directory's files under ``location`` (a URI)."""
    fs, path = _resolve(location)
    pafs.copy_files(str(local), path, source_filesystem=pafs.LocalFileSystem(), destination_filesystem=fs)


def remove_dir(location: str) -> None:
    """Deletes a directory and everything under it, if it exists."""
    fs, path = _resolve(location)
    if fs.get_file_info(path).type == pafs.FileType.Directory:
        fs.delete_dir(path)


def subdirs(location: str) -> list[str]:
    """The directories right under ``location`` (full locations); [] where it does not exist."""
    fs, path = _resolve(location)
    if fs.get_file_info(path).type != pafs.FileType.Directory:
        return []
    infos = fs.get_file_info(pafs.FileSelector(path, recursive=False))
    return [join(location, info.base_name) for info in infos if info.type == pafs.FileType.Directory]


def check_writable(location: str, what: str) -> None:
    """A probe written and removed, so a wrong bucket, path or credential fails before any trial starts."""
    probe = join(location, f".write-probe-{os.getpid()}")
    created = [] if is_uri(location) else [p for p in (Path(location), *Path(location).parents) if not p.exists()]
    try:
        if created:
            Path(location).mkdir(parents=True)
        write_bytes(probe, b"ok")
        fs, path = _resolve(probe)
        fs.delete_file(path)
    except (OSError, StorageError) as e:
        raise ConfigError(f"{what} {location!r} cannot be written: {e}") from None
    finally:
        for directory in created:  # the probe leaves no directory behind: the run creates its own
            with contextlib.suppress(OSError):
                directory.rmdir()


def _umask() -> int:
    """The process umask, read without setting it (``os.umask`` can only swap, a race with other threads)."""
    with contextlib.suppress(OSError, StopIteration, ValueError):
        with open("/proc/self/status") as f:
            return int(next(line for line in f if line.startswith("Umask:")).split()[1], 8)
    return 0o022


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes the file private (0600); the result gets the mode any file would (shared storage).
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_bytes(path, json_bytes(obj))


@contextlib.contextmanager
def atomic_dir(path: str | Path):
    """Yields a temporary sibling directory, renamed to ``path`` when the block succeeds (replacing it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    tmp.chmod(0o777 & ~_umask())  # mkdtemp makes it private; the result is an ordinary directory
    try:
        yield tmp
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old.", dir=path.parent))
            os.replace(path, old / "x")
            os.replace(tmp, path)
            shutil.rmtree(old)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
