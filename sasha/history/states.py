"""The state history: every change the state mirror saw, kept for a while in SQLite under the state directory.

Bounded twice: rows older than `keep` seconds are deleted, and beyond `max_rows` the oldest go
first. Changes wait in a bounded buffer and are written in one transaction from a worker thread
(`flush`, every second from `run`), so the event loop never waits on the disk and a crash never
leaves half a batch.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Mapping
from pathlib import Path

from sasha.home.capabilities import Value

_LOGGER = logging.getLogger(__name__)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    device TEXT NOT NULL,
    capability TEXT NOT NULL,
    value TEXT NOT NULL,
    first INTEGER NOT NULL DEFAULT 0
)
"""
# Changes waiting for the next flush; a flood beyond this drops the oldest (counted).
_BUFFER = 10_000

Change = tuple[float, Value]


class StateHistory:
    """Append-only, bounded record of state changes in one SQLite file."""

    def __init__(
        self,
        path: Path,
        *,
        keep: float,
        max_rows: int = 1_000_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.keep = keep
        self._max_rows = max_rows
        self._clock = clock
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._buffer: collections.deque[tuple[float, str, str, str, int]] = collections.deque(maxlen=_BUFFER)
        # What this process has seen, so the first value after a start is marked as where it was, not a change.
        self._seen: set[tuple[str, str]] = set()
        self.dropped = 0
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)
            self._db.execute("CREATE INDEX IF NOT EXISTS changes_device ON changes (device, capability, at)")
            self._db.execute("CREATE INDEX IF NOT EXISTS changes_at ON changes (at)")

    def now(self) -> float:
        """Return the history's clock (the scenario clock in scenarios)."""
        return self._clock()

    def note(self, device: str, changed: Mapping[str, Value]) -> None:
        """Keep a device's changed values for the next flush (a state mirror listener)."""
        at = self._clock()
        for capability, value in changed.items():
            if len(self._buffer) == self._buffer.maxlen:
                self.dropped += 1
            first = (device, capability) not in self._seen
            self._seen.add((device, capability))
            self._buffer.append((at, device, capability, json.dumps(value), int(first)))

    async def flush(self) -> None:
        """Write what is buffered and drop what is past `keep` or beyond the row cap."""
        rows = list(self._buffer)
        self._buffer.clear()
        await asyncio.to_thread(self._write, rows, self._clock() - self.keep)

    async def run(self, interval: float = 1.0) -> None:
        """Flush every `interval` seconds, forever."""
        while True:
            await asyncio.sleep(interval)
            await self.flush()

    def _write(self, rows: list[tuple[float, str, str, str, int]], horizon: float) -> None:
        with self._lock, self._db:
            self._db.executemany(
                "INSERT INTO changes (at, device, capability, value, first) VALUES (?, ?, ?, ?, ?)", rows
            )
            self._db.execute("DELETE FROM changes WHERE at < ?", (horizon,))
            (count,) = self._db.execute("SELECT COUNT(*) FROM changes").fetchone()
            if count > self._max_rows:
                self._db.execute(
                    "DELETE FROM changes WHERE id IN (SELECT id FROM changes ORDER BY id LIMIT ?)",
                    (count - self._max_rows,),
                )

    def changes(self, device: str, capability: str, since: float) -> tuple[Value | None, list[Change]]:
        """Return a capability's value before `since` (None if unknown) and its changes from then, oldest first."""
        with self._lock:
            before = self._db.execute(
                "SELECT value FROM changes WHERE device = ? AND capability = ? AND at < ?"
                " ORDER BY at DESC, id DESC LIMIT 1",
                (device, capability, since),
            ).fetchone()
            rows = self._db.execute(
                "SELECT at, value FROM changes WHERE device = ? AND capability = ? AND at >= ? ORDER BY at, id",
                (device, capability, since),
            ).fetchall()
        start: Value | None = json.loads(before[0]) if before is not None else None
        return start, [(at, json.loads(value)) for at, value in rows]

    def moves(self, since: float, devices: Collection[str], limit: int = 1000) -> list[tuple[float, str, str, Value]]:
        """Return the newest `limit` changes of `devices` from `since` on, oldest first, first values left out."""
        with self._lock:
            rows = self._db.execute(
                "SELECT at, device, capability, value FROM changes WHERE at >= ? AND first = 0"
                " AND device IN (SELECT value FROM json_each(?)) ORDER BY at DESC, id DESC LIMIT ?",
                (since, json.dumps(sorted(devices)), limit),
            ).fetchall()
        return [(at, device, capability, json.loads(value)) for at, device, capability, value in reversed(rows)]

    def first(self) -> float | None:
        """Return when the oldest kept change was seen, or None when there is none."""
        with self._lock:
            (at,) = self._db.execute("SELECT MIN(at) FROM changes").fetchone()
        return float(at) if at is not None else None

    def count(self) -> int:
        """Return how many changes are kept."""
        with self._lock:
            (count,) = self._db.execute("SELECT COUNT(*) FROM changes").fetchone()
        return int(count)

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()
