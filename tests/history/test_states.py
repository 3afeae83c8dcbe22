"""The state history on disk: changes kept in order, values as they were, and both bounds."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sasha.history.states import StateHistory


async def test_changes_come_back_in_order_with_the_value_before(tmp_path: Path) -> None:
    """Return the value before a moment and every change from then on, with its type."""
    now = [1000.0]
    history = StateHistory(tmp_path / "states.db", keep=3600, clock=lambda: now[0])
    try:
        history.note("lamp", {"power": "off", "brightness": 10})
        now[0] = 1100
        history.note("lamp", {"power": "on"})
        now[0] = 1200
        history.note("lamp", {"power": "off"})
        history.note("window", {"contact": True})
        await history.flush()
        assert history.changes("lamp", "power", 1050) == ("off", [(1100.0, "on"), (1200.0, "off")])
        assert history.changes("lamp", "brightness", 1000) == (None, [(1000.0, 10)])
        assert history.changes("window", "contact", 0) == (None, [(1200.0, True)])
        assert (history.first(), history.count()) == (1000.0, 5)
    finally:
        history.close()


async def test_old_changes_and_rows_past_the_cap_are_dropped(tmp_path: Path) -> None:
    """Delete what is older than `keep`, and the oldest rows beyond `max_rows`."""
    now = [0.0]
    history = StateHistory(tmp_path / "states.db", keep=100, max_rows=3, clock=lambda: now[0])
    try:
        for second in range(0, 60, 10):
            now[0] = second
            history.note("fan", {"fan_speed": second})
        await history.flush()
        assert [v for _, v in history.changes("fan", "fan_speed", 0)[1]] == [30, 40, 50]  # the cap
        now[0] = 145
        await history.flush()
        assert [v for _, v in history.changes("fan", "fan_speed", 0)[1]] == [50]  # older than 100 s
    finally:
        history.close()


async def test_the_file_survives_a_restart(tmp_path: Path) -> None:
    """Keep the changes across processes: the file is the record, written in one transaction per flush."""
    path = tmp_path / "states.db"
    first = StateHistory(path, keep=1e9, clock=lambda: 5.0)
    first.note("lamp", {"power": "on"})
    await first.flush()
    first.close()
    again = StateHistory(path, keep=1e9)
    try:
        assert again.changes("lamp", "power", 0) == (None, [(5.0, "on")])
    finally:
        again.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


async def test_moves_leave_out_the_first_value_after_a_start(tmp_path: Path) -> None:
    """Return real changes of the devices asked about, not the values a process sees first."""
    now = [10.0]
    history = StateHistory(tmp_path / "states.db", keep=1e9, clock=lambda: now[0])
    try:
        history.note("lamp", {"power": "off"})
        history.note("sensor", {"humidity": 50})
        now[0] = 20
        history.note("lamp", {"power": "on", "brightness": 30})
        history.note("sensor", {"humidity": 55})
        await history.flush()
        assert history.moves(0, {"lamp"}) == [(20.0, "lamp", "power", "on")]  # brightness was seen first at 20
        assert history.moves(0, {"lamp", "sensor"}, limit=1) == [(20.0, "sensor", "humidity", 55)]
    finally:
        history.close()
