"""Policy: which plans run at once and which wait for a yes, and the plans that wait.

Sensitive devices (locks, garage doors, alarms, ovens, water valves unless the inventory says
otherwise) are never moved towards danger without an explicit confirmation, whatever the model
or the configuration says: unlocking, opening, turning on and disarming wait for a yes. The
safe direction (locking, closing a garage door or a valve, turning an oven off, arming an
alarm) runs at once, because waiting for a yes there only leaves the home less safe for
longer. `confirm` decides about the rest: `never` and `sensitive` run them, `both` also holds
the safe direction of sensitive devices, `always` shows every plan for review first.
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sasha.executor import Action
from sasha.home.inventory import Device, DeviceType, Inventory
from sasha.routines.routine import Routine


class ConfirmMode(enum.StrEnum):
    """When plans wait for a yes."""

    NEVER = "never"
    SENSITIVE = "sensitive"
    BOTH = "both"
    ALWAYS = "always"


# The values that leave each kind of sensitive device safer than before. A user-marked
# sensitive device of another type has no safe direction: every change of it waits.
_SAFE: dict[DeviceType, dict[str, Any]] = {
    DeviceType.LOCK: {"lock": "locked"},
    DeviceType.GARAGE_DOOR: {"position": 0, "power": "off"},
    DeviceType.WATER_VALVE: {"position": 0, "power": "off"},
    DeviceType.OVEN: {"power": "off"},
    DeviceType.ALARM: {"power": "on"},
}


def safe_direction(device: Device, values: Mapping[str, Any]) -> bool:
    """Tell whether a change only moves a device towards safety (lock, close, oven off, arm)."""
    safe = _SAFE.get(device.type)
    if safe is None or not values:
        return False
    return all(name in safe and value == safe[name] for name, value in values.items())


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
    """A plan waiting for confirmation."""

    token: str
    actions: tuple[Action, ...]
    message: str
    conversation: str
    expires: float
    routine: Routine | None = None


class PendingPlans:
    """Plans waiting for a yes, each with a token that expires."""

    def __init__(self, ttl: float = 120.0, limit: int = 256) -> None:
        self.ttl = ttl
        self._limit = limit
        self._pending: dict[str, Pending] = {}

    def add(
        self, actions: Sequence[Action], message: str, conversation: str, now: float, routine: Routine | None = None
    ) -> Pending:
        """Hold a plan (or a new routine) and return it with its token."""
        self._expire(now)
        while len(self._pending) >= self._limit:
            self._pending.pop(next(iter(self._pending)))
        pending = Pending(secrets.token_urlsafe(9), tuple(actions), message, conversation, now + self.ttl, routine)
        self._pending[pending.token] = pending
        return pending

    def take(self, token: str, now: float) -> Pending | None:
        """Remove and return a plan that has not expired; None if unknown or expired."""
        self._expire(now)
        return self._pending.pop(token, None)

    def latest(self, conversation: str, now: float) -> Pending | None:
        """Return the newest plan waiting in a conversation, if any."""
        self._expire(now)
        waiting = [p for p in self._pending.values() if p.conversation == conversation]
        return waiting[-1] if waiting else None

    def _expire(self, now: float) -> None:
        for token in [t for t, p in self._pending.items() if p.expires <= now]:
            del self._pending[token]
