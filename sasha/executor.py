"""The executor: validated actions → protocol adapter → MQTT, with undo.

It re-validates every action itself, so nothing that did not pass the inventory's checks
can reach a device whoever calls it. It remembers the values each change replaced so
that `undo` can put them back.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sasha.adapters import adapter_for
from sasha.capabilities import Value
from sasha.errors import OutboxFull
from sasha.inventory import Inventory
from sasha.mqtt import MqttConnection
from sasha.state import StateMirror
from sasha.validation import validate

_LOGGER = logging.getLogger(__name__)


class Result(enum.StrEnum):
    """What happened to one action."""

    PUBLISHED = "published"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Action:
    """A requested change of one device."""

    device: str
    set: Mapping[str, Any]
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the executor did with one action; `held` means queued until the broker is back."""

    action: Action
    result: Result
    error: str | None = None
    held: bool = False


@dataclass(frozen=True, slots=True)
class _UndoStep:
    device: str
    previous: dict[str, Value]
    unknown: tuple[str, ...] = field(default=())


class Executor:
    """Publish validated actions and keep what they replaced."""

    def __init__(
        self,
        inventory: Inventory,
        connection: MqttConnection,
        mirror: StateMirror,
        *,
        ack_wait: float = 5.0,
        undo_depth: int = 20,
    ) -> None:
        self._inventory = inventory
        self._connection = connection
        self._mirror = mirror
        self._ack_wait = ack_wait
        self._undo: collections.deque[list[_UndoStep]] = collections.deque(maxlen=undo_depth)

    async def execute(self, actions: Sequence[Action], *, remember: bool = True) -> list[Outcome]:
        """Publish each valid action; the batch can be undone later when `remember` is set."""
        prepared: list[tuple[Action, list[asyncio.Future[None]], _UndoStep]] = []
        outcomes: dict[int, Outcome] = {}
        for index, action in enumerate(actions):
            checked = validate(self._inventory, action.device, action.set)
            if not checked.ok:
                problems = "; ".join(p.message for p in checked.problems)
                outcomes[index] = Outcome(action, Result.SKIPPED, problems)
                continue
            device = self._inventory.devices[checked.device]
            normalised = Action(device.id, checked.values, action.reason)
            before = self._mirror.values(device.id)
            step = _UndoStep(
                device.id,
                {n: before[n] for n in checked.values if n in before},
                tuple(n for n in checked.values if n not in before),
            )
            try:
                futures = [
                    self._connection.publish_nowait(m.topic, m.payload, retain=m.retain)
                    for m in adapter_for(device).encode_command(device, checked.values)
                ]
            except OutboxFull as err:
                outcomes[index] = Outcome(normalised, Result.FAILED, str(err))
                continue
            prepared.append((normalised, futures, step))
            outcomes[index] = Outcome(normalised, Result.PUBLISHED)

        # All commands are queued before any wait, so a batch goes out back to back.
        all_futures = [f for _, futures, _ in prepared for f in futures]
        if all_futures:
            _, pending = await asyncio.wait(all_futures, timeout=self._ack_wait)
            if pending:
                _LOGGER.warning("%d commands are held until the broker is back", len(pending))
            for index, outcome in list(outcomes.items()):
                for action, futures, _ in prepared:
                    if outcome.action is action and any(f in pending for f in futures):
                        outcomes[index] = Outcome(action, Result.PUBLISHED, None, held=True)
        if remember and prepared:
            self._undo.append([step for _, _, step in prepared])
        return [outcomes[i] for i in range(len(actions))]

    @property
    def can_undo(self) -> bool:
        """Tell whether there is a batch to undo."""
        return bool(self._undo)

    async def undo(self) -> list[Outcome]:
        """Restore the values the last batch replaced; returns [] when there is nothing to undo."""
        if not self._undo:
            return []
        steps = self._undo.pop()
        actions = [Action(s.device, s.previous, "undo") for s in steps if s.previous]
        outcomes = await self.execute(actions, remember=False)
        for step in steps:
            if step.unknown:
                missing = ", ".join(step.unknown)
                note = f"previous {missing} of '{step.device}' was never reported, so it cannot be restored"
                outcomes.append(Outcome(Action(step.device, {}, "undo"), Result.SKIPPED, note))
        return outcomes
