"""One driver per sweep directory: a live holder refuses a second driver (naming its PID and host), a dead one's
lock is taken over and said, and a driver refused before it wrote anything leaves no directory behind."""
import json
import socket
import subprocess
import sys

import pytest

from ftlib.core.errors import ConfigError
from sweeps.layout import DRIVER_LOCK, SWEEP_FILE
from sweeps.lock import driver_lock, driver_running

HOLD = """
import sys, time
from sweeps.lock import driver_lock
with driver_lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(60)
"""


def test_a_second_driver_is_refused_naming_the_first(tmp_path):
    exp = tmp_path / "sweep"
    exp.mkdir()
    (exp / SWEEP_FILE).write_text("{}")
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(exp)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert driver_running(str(exp))
        with pytest.raises(ConfigError, match=f"pid {holder.pid} on {socket.gethostname()}"):
            with driver_lock(str(exp)):
                pass
    finally:
        holder.kill()
        holder.wait()
    # Killed without releasing: the kernel dropped the lock; the next driver takes it over and says so.
    assert not driver_running(str(exp))
    said = []
    with driver_lock(str(exp), say=lambda line, flush: said.append(line)):
        assert json.loads((exp / DRIVER_LOCK).read_text())["pid"] != holder.pid
    assert len(said) == 1 and f"driver pid {holder.pid}" in said[0] and "no longer running" in said[0]
    with driver_lock(str(exp), say=lambda line, flush: said.append(line)):  # a clean end leaves nothing to take over
        pass
    assert len(said) == 1


def test_a_driver_refused_before_writing_leaves_no_directory(tmp_path):
    exp = tmp_path / "store" / "sweep"
    with pytest.raises(RuntimeError):
        with driver_lock(str(exp)):
            raise RuntimeError("refused in preflight")
    assert not (tmp_path / "store").exists()


def test_a_directory_no_sweep_wrote_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="no sweep wrote"):
        with driver_lock(str(tmp_path)):
            pass
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
