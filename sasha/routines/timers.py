"""One-shot timers: "turn off the lights in 10 minutes", kept in `timers.json` until they fire.

A timer is an instant and the checked actions to run then. The file is rewritten atomically
on every change (a temporary file, flushed, renamed over the old one), so a restart finds
every timer that has not fired; the routine engine fires them. A file that cannot be read is
named with its problem and left as it is.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sasha.errors import SashaError
from sasha.home.actions import Action
from sasha.home.inventory import Inventory
from sasha.home.readings import Reading
from sasha.home.validation import validate
from sasha.routines.store import write_atomically

_LOGGER = logging.getLogger(__name__)

MAX_TIMERS = 100
"""Timers kept at most: anyone who may send requests may set them."""

GRACE = 10 * 60.0
"""Seconds a timer may be late (Sasha was down) and still fire; later than that it is dropped."""


class TimersFileError(SashaError):
    """The timers file exists but cannot be read as timers."""


@dataclass(frozen=True, slots=True)
class Timer:
    """Actions to run at one instant (seconds since the epoch)."""

    id: str
    at: float
    actions: tuple[Action, ...]
    says: str  # what it will do, in words ("Kitchen light off")
    request: str = ""  # the sentence that set it

    def to_data(self) -> dict[str, Any]:
        """Return the timer as the file holds it."""
        return {
            "id": self.id,
            "at": self.at,
            "says": self.says,
            "request": self.request,
            "actions": [{"device": a.device, "set": dict(a.set), "reason": a.reason} for a in self.actions],
        }


class Timers:
    """The timers of one state directory, in memory and in `timers.json`."""

    def __init__(self, path: Path, home: Inventory) -> None:
        self.path = path
        self._home = home
        self._timers: dict[str, Timer] = {}
        # The assistant adds from worker threads while the engine takes due ones.
        self._lock = threading.Lock()

    @property
    def pending(self) -> list[Timer]:
        """Return the timers not yet fired, soonest first."""
        with self._lock:
            return sorted(self._timers.values(), key=lambda t: t.at)

    def load(self) -> None:
        """Read the file (a missing file is no timers); actions the home no longer takes are dropped."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        except (OSError, UnicodeDecodeError) as err:
            raise TimersFileError(f"{self.path}: cannot read: {err}") from None
        try:
            data = json.loads(text)
            timers = [self._read(item) for item in data]
        except (ValueError, TypeError, KeyError, AttributeError) as err:
            raise TimersFileError(f"{self.path}: not a list of timers ({err}); it is left as it is") from None
        with self._lock:
            self._timers = {t.id: t for t in timers if t.actions}

    def _read(self, item: dict[str, Any]) -> Timer:
        actions = []
        for raw in item["actions"]:
            checked = validate(self._home, str(raw["device"]), dict(raw["set"]))
            if checked.ok:
                actions.append(Action(str(raw["device"]), checked.values, str(raw.get("reason", ""))))
            else:
                _LOGGER.warning("%s: timer %s: dropped %s: %s", self.path, item["id"], raw, checked.problems)
        return Timer(
            str(item["id"]), float(item["at"]), tuple(actions), str(item["says"]), str(item.get("request", ""))
        )

    def add(self, at: float, actions: tuple[Action, ...], says: str, request: str = "") -> Timer:
        """Keep a new timer and write the file; refuse past `MAX_TIMERS`."""
        with self._lock:
            if len(self._timers) >= MAX_TIMERS:
                raise TimersFileError(f"{MAX_TIMERS} timers are set already; cancel one first")
            timer = Timer(f"t-{secrets.token_hex(4)}", at, actions, says, request)
            self._timers[timer.id] = timer
            self._save()
        return timer

    def cancel(self, ident: str | None = None) -> list[Timer]:
        """Drop one timer by id, or all of them (None); return what was dropped."""
        with self._lock:
            gone = (
                list(self._timers.values()) if ident is None else [self._timers[ident]] if ident in self._timers else []
            )
            for timer in gone:
                del self._timers[timer.id]
            if gone:
                self._save()
        return gone

    def any_due(self, now: float) -> bool:
        """Tell whether a timer is due by `now` (no file is touched)."""
        with self._lock:
            return any(t.at <= now for t in self._timers.values())

    def take_due(self, now: float) -> list[Timer]:
        """Remove and return the timers due by `now`, soonest first (written before they run)."""
        with self._lock:
            due = sorted((t for t in self._timers.values() if t.at <= now), key=lambda t: t.at)
            for timer in due:
                del self._timers[timer.id]
            if due:
                self._save()
        return due

    def _save(self) -> None:
        timers = sorted(self._timers.values(), key=lambda t: t.at)
        write_atomically(self.path, json.dumps([t.to_data() for t in timers], indent=1))


def revert(
    home: Inventory, actions: tuple[Action, ...], reading: Callable[[str, str], Reading | None] | None
) -> tuple[Action, ...] | None:
    """Return the actions that put back what `actions` change ("for 10 minutes"), or None when unknown.

    Each capability goes back to the value last reported; a power with no report goes to the
    opposite of what was asked. Anything else unreported makes the whole revert unknown.
    """
    back: list[Action] = []
    for action in actions:
        values: dict[str, Any] = {}
        for name, value in action.set.items():
            seen = reading(action.device, name) if reading is not None else None
            if seen is not None:
                values[name] = seen.value
            elif name == "power" and value in ("on", "off"):
                values[name] = "off" if value == "on" else "on"
            else:
                return None
        checked = validate(home, action.device, values)
        if not checked.ok:
            return None
        back.append(Action(action.device, checked.values, "timer: back as it was"))
    return tuple(back)
