"""The audit log: every request, what was decided and done, in SQLite under the state directory.

Each request is one row, written in one transaction (so a crash never leaves half a row), from
a worker thread so the event loop never waits on the disk. Nothing secret is written: the
log holds what people asked, what the model decided, what was published, and call costs.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    request_id TEXT,
    conversation TEXT,
    source TEXT NOT NULL,
    text TEXT NOT NULL,
    status TEXT NOT NULL,
    message TEXT NOT NULL,
    path TEXT NOT NULL,
    actions TEXT NOT NULL,
    model_calls TEXT NOT NULL,
    tokens INTEGER NOT NULL,
    latency_ms REAL NOT NULL,
    cached_tokens INTEGER,
    user TEXT
)
"""
# Columns added since the first release, for audit.db files written before them.
_ADDED = {"cached_tokens": "INTEGER", "user": "TEXT"}
_INSERT = (
    "INSERT INTO requests (at, request_id, conversation, source, text, status, message, path, actions, model_calls,"
    " tokens, latency_ms, cached_tokens, user) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SELECT = (
    "SELECT at, request_id, conversation, source, text, status, message, path, actions, model_calls, tokens,"
    " latency_ms, cached_tokens, user FROM requests"
)


@dataclass(frozen=True, slots=True)
class Entry:
    """One audited request."""

    at: float
    request_id: str | None
    conversation: str | None
    source: str
    text: str
    status: str
    message: str
    path: str  # fast | model | confirm | undo | routines | routine | history | none
    actions: list[dict[str, Any]]
    model_calls: list[dict[str, Any]]
    tokens: int
    latency_ms: float
    # Prompt tokens the model server took from its prefix cache; None when it reported none.
    cached_tokens: int | None = None
    # The MQTT user who asked (from the topic); None for local surfaces, anonymous senders and firings.
    user: str | None = None


class AuditLog:
    """Append-only request log in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        # One connection, used from worker threads one at a time under the lock.
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)
            have = {row[1] for row in self._db.execute("PRAGMA table_info(requests)")}
            for column, kind in _ADDED.items():
                if column not in have:
                    self._db.execute(f"ALTER TABLE requests ADD COLUMN {column} {kind}")
            # "What happened in the last hour" reads by time.
            self._db.execute("CREATE INDEX IF NOT EXISTS requests_at ON requests (at)")

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()

    async def record(self, entry: Entry) -> None:
        """Append one entry."""
        await asyncio.to_thread(self._write, entry)

    def _write(self, entry: Entry) -> None:
        row = (
            entry.at,
            entry.request_id,
            entry.conversation,
            entry.source,
            entry.text,
            entry.status,
            entry.message,
            entry.path,
            json.dumps(entry.actions),
            json.dumps(entry.model_calls),
            entry.tokens,
            entry.latency_ms,
            entry.cached_tokens,
            entry.user,
        )
        with self._lock, self._db:
            self._db.execute(_INSERT, row)

    def recent(self, limit: int = 20) -> list[Entry]:
        """Return the newest entries, oldest first."""
        with self._lock:
            rows = self._db.execute(
                _SELECT + " ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return _entries(rows)

    def since(self, at: float, limit: int = 2000) -> list[Entry]:
        """Return the entries from `at` on that changed something (at most the newest `limit`), oldest first."""
        with self._lock:
            rows = self._db.execute(
                _SELECT + " WHERE at >= ? AND actions LIKE '%\"published\"%' ORDER BY at DESC LIMIT ?",
                (at, limit),
            ).fetchall()
        return _entries(rows)


def _entries(rows: list[Any]) -> list[Entry]:
    return [_entry(row) for row in reversed(rows)]


def _entry(row: Any) -> Entry:
    """Return the entry of one row, its columns in `_SELECT`'s order."""
    at, request_id, conversation, source, text, status, message, path, actions, calls, *rest = row
    tokens, latency_ms, cached_tokens, user = rest
    return Entry(
        at,
        request_id,
        conversation,
        source,
        text,
        status,
        message,
        path,
        json.loads(actions),
        json.loads(calls),
        tokens,
        latency_ms,
        cached_tokens,
        user,
    )
