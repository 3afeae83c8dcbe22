"""Policy: which plans run at once and which wait for a yes, and the plans that wait.

Sensitive devices (locks, garage doors, alarms, ovens, water valves unless the inventory says
otherwise) are never actuated without an explicit confirmation, whatever the model or the
configuration says. `confirm` decides about the rest: `never` runs them, `sensitive` runs
them, `always` shows every plan for review first.
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sasha.executor import Action
from sasha.home.inventory import Inventory
from sasha.routines.routine import Routine


class ConfirmMode(enum.StrEnum):
    """When plans wait for a yes."""

    NEVER = "never"
    SENSITIVE = "sensitive"
    ALWAYS = "always"


def sensitive_devices(home: Inventory, actions: Sequence[Action]) -> list[str]:
    """Return the sensitive devices a plan would actuate."""
    return [a.device for a in actions if (d := home.get(a.device)) is not None and d.sensitive]


def needs_confirmation(home: Inventory, actions: Sequence[Action], mode: ConfirmMode) -> bool:
    """Tell whether a plan must wait for the user's yes."""
    if not actions:
        return False
    return mode is ConfirmMode.ALWAYS or bool(sensitive_devices(home, actions))


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
