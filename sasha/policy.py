"""Policy: which plans run at once and which wait for a yes, and the plans that wait.

Sensitive devices (locks, garage doors, alarms, ovens, water valves unless the inventory says
otherwise) are never moved towards danger without an explicit confirmation, whatever the model
or the configuration says: unlocking, opening, turning on and disarming wait for a yes. The
safe direction (locking, closing a garage door or a valve, turning an oven off, arming an
alarm) runs at once, because waiting for a yes there only leaves the home less safe for
longer. `confirm` decides about the rest: `never` and `sensitive` run them, `both` also holds
the safe direction of sensitive devices, `always` shows every plan for review first.

A waiting plan is bound to the user, conversation and reply route that asked, and settled once
with a 128-bit token. Who may approve an unsafe move is configuration (`Approvers`): the
owners, or a device's own list; the local user of the chat is always one. Model calls are capped
per minute and per day across all requests and for each user.
"""

from __future__ import annotations

import collections
import enum
import json
import secrets
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
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
class Approvers:
    """Who may approve an unsafe move of a sensitive device over MQTT: owners, or a device's own list."""

    owners: frozenset[str] = frozenset()
    by_device: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, owners: Iterable[str] = (), by_device: Mapping[str, Iterable[str]] | None = None) -> Approvers:
        """Build the rule from the settings' lists."""
        return cls(frozenset(owners), {d: frozenset(u) for d, u in (by_device or {}).items()})

    def allowed(self, devices: Iterable[str]) -> frozenset[str]:
        """Return the users who may approve moving every one of `devices`."""
        users: frozenset[str] | None = None
        for device in devices:
            mine = self.by_device.get(device, self.owners)
            users = mine if users is None else users & mine
        return users if users is not None else self.owners

    def may_approve(self, user: str | None, devices: Sequence[str]) -> bool:
        """Tell whether `user` (None: the anonymous sender of an open set-up) may approve moving `devices`."""
        # The anonymous topics exist only with `api.open`, a set-up whose one user is its owner.
        return not devices or user is None or user in self.allowed(devices)


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
    # The MQTT user who asked (from the request's topic); None when anonymous or local.
    user: str | None = None


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
    routine TEXT,
    user TEXT
)
"""


def binding_problem(
    pending: Pending, conversation: str | None, route: str | None, user: str | None = None
) -> str | None:
    """Say why a confirmation from this user, conversation and route may not settle `pending`, or None."""
    if user != pending.user:
        return "it comes from another user than the one who asked"
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

    def __init__(
        self, home: Inventory, *, ttl: float = 120.0, limit: int = 256, per_user: int = 16, path: Path | None = None
    ) -> None:
        self.ttl = ttl
        self._home = home
        self._limit = limit
        # One user's many questions must not push another user's plans out of the store.
        self._per_user = per_user
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
            columns = [row[1] for row in self._db.execute("PRAGMA table_info(pending)")]
            if columns and "user" not in columns:
                # A file of an older version: its plans expire within minutes anyway.
                self._db.execute("DROP TABLE pending")
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
        user: str | None = None,
    ) -> Pending:
        """Hold a plan (or a new routine) and return it with its token."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        pending = Pending(token, tuple(actions), message, conversation, now + self.ttl, routine, route, user)
        row = (
            pending.token,
            conversation,
            route,
            pending.expires,
            now,
            message,
            json.dumps([{"device": a.device, "set": dict(a.set), "reason": a.reason} for a in actions]),
            dump([routine]) if routine is not None else None,
            user,
        )
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("DELETE FROM pending WHERE expires <= ?", (now,))
                self._db.execute(
                    "DELETE FROM pending WHERE token IN (SELECT token FROM pending WHERE user IS ?"
                    " ORDER BY created DESC LIMIT -1 OFFSET ?)",
                    (user, self._per_user - 1),
                )
                self._db.execute(
                    "DELETE FROM pending WHERE token IN (SELECT token FROM pending ORDER BY created DESC"
                    " LIMIT -1 OFFSET ?)",
                    (self._limit - 1,),
                )
                self._db.execute("INSERT INTO pending VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return pending

    def get(self, token: str, now: float) -> Pending | None:
        """Return the plan a token names, if it still waits, without settling it."""
        with self._lock:
            row = self._db.execute("SELECT * FROM pending WHERE token = ? AND expires > ?", (token, now)).fetchone()
        return self._row(row) if row is not None else None

    def take(
        self,
        token: str,
        now: float,
        *,
        conversation: str | None = None,
        route: str | None = None,
        user: str | None = None,
        bound: bool = True,
    ) -> Pending | Refused:
        """Remove and return a plan, once, if it has not expired and the asker's user and route match.

        A confirmation from another user, route or conversation is refused and leaves the plan
        waiting, so a stranger cannot cancel someone else's plan either. `bound=False` is for an
        approver (an owner), who may settle any plan whose token they hold.
        """
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute("SELECT * FROM pending WHERE token = ? AND expires > ?", (token, now)).fetchone()
                pending = self._row(row) if row is not None else None
                problem = "it is unknown or has expired" if pending is None else None
                if pending is not None and bound:
                    problem = binding_problem(pending, conversation, route, user)
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
        token, conversation, route, expires, _created, message, actions, routine, user = row
        held = tuple(Action(a["device"], a["set"], a["reason"]) for a in json.loads(actions))
        found = parse(routine, "<pending>", self._home)[0] if routine else None
        return Pending(token, held, message, conversation, expires, found, route, user)


@dataclass(slots=True)
class Reservation:
    """Model calls set aside for one request, and whose they are."""

    at: float
    calls: int
    user: str | None = None


class ModelBudget:
    """Per-minute and per-day caps on model calls across all requests and per user (0 means no cap).

    A request reserves its largest possible number of calls (the planner's per-request cap)
    before it reaches the model and gives back what it did not use, so concurrent requests can
    never take the total past a cap. The per-user caps sit beside the global ones: one user's
    flood spends that user's share, not everyone's. The anonymous sender (None) is one user.
    """

    def __init__(
        self,
        *,
        per_minute: int = 60,
        per_day: int = 2000,
        per_request: int = 4,
        per_user_minute: int = 0,
        per_user_day: int = 0,
    ) -> None:
        self.per_minute = per_minute
        self.per_day = per_day
        self.per_request = per_request
        self.per_user_minute = per_user_minute
        self.per_user_day = per_user_day
        self.refused = 0
        self.refused_by_user: collections.Counter[str] = collections.Counter()
        self._held: collections.deque[Reservation] = collections.deque()

    def _used(self, now: float, window: float, user: object = None) -> int:
        everyone = user is _EVERYONE
        return sum(r.calls for r in self._held if r.at > now - window and (everyone or r.user == user))

    def _problem(self, now: float, user: str | None) -> str | None:
        need = self.per_request
        caps = (
            (self.per_minute, _MINUTE, _EVERYONE, f"the model budget of {self.per_minute} calls a minute is spent"),
            (self.per_day, _DAY, _EVERYONE, f"the model budget of {self.per_day} calls a day is spent"),
            (
                self.per_user_minute,
                _MINUTE,
                user,
                f"your share of {self.per_user_minute} model calls a minute is spent",
            ),
            (self.per_user_day, _DAY, user, f"your share of {self.per_user_day} model calls a day is spent"),
        )
        for cap, window, whose, why in caps:
            if cap and self._used(now, window, whose) + need > cap:
                return f"{why}; try again in a minute" if window == _MINUTE else why
        return None

    def reserve(self, now: float, user: str | None = None) -> Reservation | None:
        """Set calls aside for one request of `user`; None (and counted) when a cap would be passed."""
        while self._held and self._held[0].at <= now - _DAY:
            self._held.popleft()
        if self._problem(now, user) is not None:
            self.refused += 1
            if len(self.refused_by_user) < _USERS_COUNTED or (user or "") in self.refused_by_user:
                self.refused_by_user[user or ""] += 1
            return None
        reservation = Reservation(now, self.per_request, user)
        self._held.append(reservation)
        return reservation

    def settle(self, reservation: Reservation, used: int) -> None:
        """Record how many calls the request really made."""
        reservation.calls = used

    def why_not(self, now: float, user: str | None = None) -> str:
        """Say which cap is reached, for the reply."""
        return self._problem(now, user) or f"the model budget of {self.per_day} calls a day is spent"

    def counters(self, now: float) -> dict[str, int]:
        """Return calls in the last minute and day, and how many requests were refused."""
        return {
            "model_calls_minute": self._used(now, _MINUTE, _EVERYONE),
            "model_calls_day": self._used(now, _DAY, _EVERYONE),
            "model_budget_refused": self.refused,
        }


# Marks a count over every user's calls (None is the anonymous user).
_EVERYONE = object()

_MINUTE = 60.0
_DAY = 86400.0
# Users with a counter of their own; usernames come from topics, so their number is bounded.
_USERS_COUNTED = 1000
