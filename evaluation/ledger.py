"""The test ledger: every look at a test split, on the record, one JSON line per (what was scored, task).

Test scores are reported once: a second scoring of the same model (or run) on the same task is refused unless
it is asked for as a retest, and then the ledger says so, as the report does."""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

from ftlib.core import storage
from ftlib.core.errors import ConfigError

LEDGER = "test_ledger.jsonl"


class TestLedger:
    __test__ = False  # not a pytest class

    def __init__(self, location: str):
        self.location = location
        data = storage.read_bytes(location)
        self.entries = [json.loads(line) for line in data.decode().splitlines() if line.strip()] if data else []

    def scored(self, key: str, task: str) -> list[dict[str, Any]]:
        """Earlier scorings of ``key`` (a model hash, or a run's config hash) on ``task``'s test split."""
        return [e for e in self.entries if e["key"] == key and e["task"] == task]

    def refuse_repeats(self, key: str, tasks: list[str], retest: bool) -> None:
        repeated = [t for t in tasks if self.scored(key, t)]
        if repeated and not retest:
            raise ConfigError(f"{key} was already scored on the test split of {repeated} (see {self.location}); test "
                              f"scores are reported once: pass --retest to score again, which the ledger and the "
                              f"report will show")

    def record(self, key: str, task: str, *, n: int, out: str, retest: bool, **extra: Any) -> None:
        """Appends an entry (read-modify-write through storage: local files and object stores alike)."""
        entry = {"time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "key": key, "task": task,
                 "n": n, "out": out, "retest": retest, **extra}
        self.entries.append(entry)
        storage.write_bytes(self.location, "".join(json.dumps(e, sort_keys=True) + "\n"
                                                   for e in self.entries).encode())
