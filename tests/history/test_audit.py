"""The audit log on disk: rows written by older releases stay readable as columns are added."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sasha.history.audit import AuditLog, Entry

# The requests table as the first release wrote it, before `cached_tokens` and `user`.
_FIRST = """
CREATE TABLE requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, request_id TEXT, conversation TEXT,
    source TEXT NOT NULL, text TEXT NOT NULL, status TEXT NOT NULL, message TEXT NOT NULL,
    path TEXT NOT NULL, actions TEXT NOT NULL, model_calls TEXT NOT NULL, tokens INTEGER NOT NULL,
    latency_ms REAL NOT NULL
)
"""


async def test_an_old_audit_log_keeps_its_rows_and_records_who_asked_from_then_on(tmp_path: Path) -> None:
    """Open an audit.db of the first release: its row reads back with no user, a new row keeps `alice`."""
    path = tmp_path / "audit.db"
    with sqlite3.connect(path) as db:
        db.execute(_FIRST)
        db.execute(
            "INSERT INTO requests (at, request_id, conversation, source, text, status, message, path, actions,"
            " model_calls, tokens, latency_ms) VALUES (1, 'r-1', 'c', 'chat', 'turn on the lamp', 'done', 'Done.',"
            " 'fast', '[]', '[]', 0, 3.5)"
        )
    db.close()
    log = AuditLog(path)
    try:
        asked = ("unlock the door", "needs_confirmation", "Shall I?", "fast", [], [], 0, 1.0)
        await log.record(Entry(2.0, "r-2", "c", "mqtt", *asked, user="alice"))
        old, new = log.recent()
    finally:
        log.close()
    assert (old.text, old.cached_tokens, old.user) == ("turn on the lamp", None, None)
    assert (new.text, new.user) == ("unlock the door", "alice")
