"""Policy: which plans run at once and which wait for a yes, and the plans that wait.

Sensitive devices (locks, garage doors, alarms, ovens, water valves unless the inventory says
otherwise) are never moved towards danger without an explicit confirmation, whatever the model
or the configuration says: unlocking, opening, turning on and disarming wait for a yes. The
safe direction (locking, closing a garage door or a valve, turning an oven off, arming an
alarm) runs at once, because waiting for a yes there only leaves the home less safe for
longer. `confirm` decides about the rest: `never` and `sensitive` run them, `both` also holds
the safe direction of sensitive devices, `always` shows every plan for review first.

A waiting plan is bound to the conversation and the reply route that asked, and settled once
with a 128-bit token; model calls are capped per minute and per day across all requests.
"""

from __future__ import annotations

import collections
import enum
import json
import secrets
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sasha.home.actions import Action
from sasha.home.inventory import Inventory
from sasha.home.safety import safe_direction
from sasha.routines.routine import Routine
from sasha.routines.store import dump, parse


class ConfirmMode(enum.StrEnum):
    """When plans wait for a yes."""

    NEVER = "never"
    SENSITIVE = "sensitive"
    BOTH = "both"
    ALWAYS = "always"


def sensitive_devices(
    home: Inventory, actions: Sequence[Action], mode: ConfirmMode = ConfirmMode.SENSITIVE
) -> list[str]:
    """Return the sensitive devices a plan would actuate in a direction that needs a yes under `mode`."""
    held = []
    for action in actions:
        device = home.get(action.device)
        if device is None or not device.sensitive:
            continue
        if mode is not ConfirmMode.BOTH and safe_direction(device, action.set):
            continue
        held.append(action.device)
    return held


def needs_confirmation(home: Inventory, actions: Sequence[Action], mode: ConfirmMode) -> bool:
    """Tell whether a plan must wait for the user's yes."""
    if not actions:
        return False
    return mode is ConfirmMode.ALWAYS or bool(sensitive_devices(home, actions, mode))


@dataclass(frozen=True, slots=True)
class Pending:
    """A plan waiting for confirmation, bound to the conversation and reply route that asked."""

    token: str
    actions: tuple[Action, ...]
    message: str
    conversation: str
    expires: float
    routine: Routine | None = None
    # Where the question went (the MQTT reply topic); None for in-process surfaces (chat, CLI).
    route: str | None = None


@dataclass(frozen=True, slots=True)
class Refused:
    """Why a confirmation was not accepted."""

    reason: str


# 16 bytes: 128 bits of randomness, so a token cannot be guessed, only read.
TOKEN_BYTES = 16
_SCHEMA = """
CREATE TABLE IF NOT EXISTS pending (
    token TEXT PRIMARY KEY,
    conversation TEXT NOT NULL,
    route TEXT,
    expires REAL NOT NULL,
    created REAL NOT NULL,
    message TEXT NOT NULL,
    actions TEXT NOT NULL,
    routine TEXT
)
"""


def binding_problem(pending: Pending, conversation: str | None, route: str | None) -> str | None:
    """Say why a confirmation from this conversation and route may not settle `pending`, or None."""
    if pending.route is not None and route != pending.route:
        return "it came back on another reply route than the question went to"
    if conversation is not None and conversation != pending.conversation:
        return "it names another conversation than the one that asked"
    return None


class PendingPlans:
    """Plans waiting for a yes, each with a token that expires, in SQLite.

    In memory by default; with a `path` every process that opens the same file shares the plans
    (instances of `sasha run --share` on one host): a token issued by one is accepted by another,
    once. The methods block on the file briefly: call them from a worker thread.
    """

    def __init__(self, home: Inventory, *, ttl: float = 120.0, limit: int = 256, path: Path | None = None) -> None:
        self.ttl = ttl
        self._home = home
        self._limit = limit
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        # One connection, used from worker threads one at a time under the lock; autocommit,
        # with explicit BEGIN IMMEDIATE where a read decides a write (another process may race).
        self._db = sqlite3.connect(
            str(path) if path else ":memory:", check_same_thread=False, isolation_level=None, timeout=10
        )
        self._lock = threading.Lock()
        with self._lock:
            if path is not None:
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)

    def close(self) -> None:
        """Close the store."""
        with self._lock:
            self._db.close()

    def add(
        self,
        actions: Sequence[Action],
        message: str,
        conversation: str,
        now: float,
        routine: Routine | None = None,
        *,
        route: str | None = None,
    ) -> Pending:
        """Hold a plan (or a new routine) and return it with its token."""
        pending = Pending(
            secrets.token_urlsafe(TOKEN_BYTES), tuple(actions), message, conversation, now + self.ttl, routine, route
        )
        row = (
            pending.token,
            conversation,
            route,
            pending.expires,
            now,
            message,
            json.dumps([{"device": a.device, "set": dict(a.set), "reason": a.reason} for a in actions]),
            dump([routine]) if routine is not None else None,
        )
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("DELETE FROM pending WHERE expires <= ?", (now,))
                self._db.execute(
                    "DELETE FROM pending WHERE token IN (SELECT token FROM pending ORDER BY created DESC"
                    " LIMIT -1 OFFSET ?)",
                    (self._limit - 1,),
                )
                self._db.execute("INSERT INTO pending VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return pending

    def take(
        self, token: str, now: float, *, conversation: str | None = None, route: str | None = None
    ) -> Pending | Refused:
        """Remove and return a plan, once, if it has not expired and the asker's route matches.

        A confirmation on the wrong route or conversation is refused and leaves the plan waiting,
        so a stranger cannot cancel someone else's plan either.
        """
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute("SELECT * FROM pending WHERE token = ? AND expires > ?", (token, now)).fetchone()
                pending = self._row(row) if row is not None else None
                problem = "it is unknown or has expired" if pending is None else None
                if pending is not None:
                    problem = binding_problem(pending, conversation, route)
                if problem is None:
                    self._db.execute("DELETE FROM pending WHERE token = ?", (token,))
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        if problem is not None or pending is None:
            return Refused(problem or "it is unknown or has expired")
        return pending

    def latest(self, conversation: str, now: float) -> Pending | None:
        """Return the newest plan waiting in a conversation, if any."""
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM pending WHERE conversation = ? AND expires > ? ORDER BY created DESC, rowid DESC"
                " LIMIT 1",
                (conversation, now),
            ).fetchone()
        return self._row(row) if row is not None else None

    def _row(self, row: tuple[Any, ...]) -> Pending:
        token, conversation, route, expires, _created, message, actions, routine = row
        held = tuple(Action(a["device"], a["set"], a["reason"]) for a in json.loads(actions))
        found = parse(routine, "<pending>", self._home)[0] if routine else None
        return Pending(token, held, message, conversation, expires, found, route)


@dataclass(slots=True)
class Reservation:
    """Model calls set aside for one request."""

    at: float
    calls: int


class ModelBudget:
    """Per-minute and per-day caps on model calls across all requests (0 means no cap).

    A request reserves its largest possible number of calls (the planner's per-request cap)
    before it reaches the model and gives back what it did not use, so concurrent requests can
    never take the total past a cap.
    """

    def __init__(self, *, per_minute: int = 60, per_day: int = 2000, per_request: int = 4) -> None:
        self.per_minute = per_minute
        self.per_day = per_day
        self.per_request = per_request
        self.refused = 0
        self._held: collections.deque[Reservation] = collections.deque()

    def _used(self, now: float, window: float) -> int:
        return sum(r.calls for r in self._held if r.at > now - window)

    def reserve(self, now: float) -> Reservation | None:
        """Set calls aside for one request; None (and counted) when a cap would be passed."""
        while self._held and self._held[0].at <= now - _DAY:
            self._held.popleft()
        need = self.per_request
        minute_ok = not self.per_minute or self._used(now, _MINUTE) + need <= self.per_minute
        day_ok = not self.per_day or self._used(now, _DAY) + need <= self.per_day
        if not (minute_ok and day_ok):
            self.refused += 1
            return None
        reservation = Reservation(now, need)
        self._held.append(reservation)
        return reservation

    def settle(self, reservation: Reservation, used: int) -> None:
        """Record how many calls the request really made."""
        reservation.calls = used

    def why_not(self, now: float) -> str:
        """Say which cap is reached, for the reply."""
        if self.per_minute and self._used(now, _MINUTE) + self.per_request > self.per_minute:
            return f"the model budget of {self.per_minute} calls a minute is spent; try again in a minute"
        return f"the model budget of {self.per_day} calls a day is spent"

    def counters(self, now: float) -> dict[str, int]:
        """Return calls in the last minute and day, and how many requests were refused."""
        return {
            "model_calls_minute": self._used(now, _MINUTE),
            "model_calls_day": self._used(now, _DAY),
            "model_budget_refused": self.refused,
        }


_MINUTE = 60.0
_DAY = 86400.0
