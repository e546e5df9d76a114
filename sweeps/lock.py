"""One driver per sweep directory. ``sweep run``, ``resume`` and ``finalize`` hold an exclusive lock on the
directory's ``driver.lock`` (``flock``: the kernel drops it when the process dies, however it dies) and write
their PID and host into it. A second driver is refused with the first one's; a lock left by a dead driver is
taken over, and the takeover is said. The directory itself is a new one, or one a sweep wrote.

Object stores have no locks: a sweep there is guarded by its job (one Ray job per sweep)."""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import socket
from pathlib import Path
from typing import Iterator

from ftlib.core import storage
from ftlib.core.errors import ConfigError
from sweeps.layout import DRIVER_LOCK, SWEEP_FILE, TWO_STAGE

_HELD: set[str] = set()  # this process's locks: a sweep run that resumes, then finalizes, locks once


def _holder(path: Path) -> dict:
    with contextlib.suppress(OSError, ValueError):
        return json.loads(path.read_text())
    return {}


def driver_running(exp: str) -> bool:
    """Whether a driver holds the sweep's lock now (its unfinished trials are pending or running, not stopped)."""
    path = Path(exp) / DRIVER_LOCK
    if storage.is_uri(exp) or not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def check_sweep_dir(exp: str) -> None:
    """A sweep writes only into a new or empty directory, or one a sweep (or two-stage search) wrote."""
    p = Path(exp)
    if p.exists() and not p.is_dir():
        raise ConfigError(f"{exp}: a file is there; the sweep needs a directory (resources.storage_path/name)")
    if p.is_dir() and any(p.iterdir()) and not any((p / f).exists() for f in (SWEEP_FILE, TWO_STAGE, DRIVER_LOCK)):
        raise ConfigError(f"{exp}: the directory holds files no sweep wrote; give the sweep another name (--name) "
                          f"or storage_path (nothing was written)")


@contextlib.contextmanager
def driver_lock(exp: str, say=print) -> Iterator[None]:
    if storage.is_uri(exp) or exp in _HELD:
        yield
        return
    check_sweep_dir(exp)
    p = Path(exp)
    created = [d for d in (p, *p.parents) if not d.exists()]
    p.mkdir(parents=True, exist_ok=True)
    path = p / DRIVER_LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        first = _holder(path)
        raise ConfigError(f"{exp}: another driver is running this sweep (pid {first.get('pid', '?')} on "
                          f"{first.get('host', '?')}, since {first.get('since', '?')}); wait for it to end or stop "
                          f"it, then run `cocktail sweep resume {exp}`") from None
    before = _holder(path)  # a driver that ended cleanly emptied it: a name here is one that died
    if before.get("pid"):
        say(f"[sweep] {exp}: taking over the lock of driver pid {before['pid']} on {before.get('host', '?')}, "
            f"which is no longer running", flush=True)
    os.ftruncate(fd, 0)
    os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                             "since": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}).encode())
    _HELD.add(exp)
    try:
        yield
    finally:
        _HELD.discard(exp)
        os.ftruncate(fd, 0)
        if created and [f.name for f in p.iterdir()] == [DRIVER_LOCK]:
            path.unlink()  # a sweep refused before it wrote anything leaves nothing behind
            for directory in created:
                with contextlib.suppress(OSError):
                    directory.rmdir()
        os.close(fd)
