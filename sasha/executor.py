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
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from sasha.adapters import Message, adapter_for, hass
from sasha.errors import DecodeError, OutboxFull
from sasha.home.actions import Action
from sasha.home.capabilities import Value
from sasha.home.confirmation import Confirmation, Verdict, settled, verdict
from sasha.home.inventory import Device, Inventory
from sasha.home.protocols import Protocol
from sasha.home.validation import validate
from sasha.mqtt.connection import Incoming, MqttConnection
from sasha.mqtt.topics import cover
from sasha.state import StateMirror

_LOGGER = logging.getLogger(__name__)


class Result(enum.StrEnum):
    """What happened to one action."""

    PUBLISHED = "published"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the executor did with one action; `held` means queued until the broker is back.

    `confirmation` is what the device reported afterwards (None when nobody waited for it), and
    `reported` the values it reports instead of the requested ones when it did something else.
    """

    action: Action
    result: Result
    error: str | None = None
    held: bool = False
    confirmation: Confirmation | None = None
    reported: Mapping[str, Value] | None = None


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
        result_wait: float = 5.0,
        undo_depth: int = 20,
    ) -> None:
        self._inventory = inventory
        self._connection = connection
        self._mirror = mirror
        self._ack_wait = ack_wait
        self._result_wait = result_wait
        self._undo: collections.deque[list[_UndoStep]] = collections.deque(maxlen=undo_depth)
        # Calls to Home Assistant's entities waiting for the integration's report, by call id.
        self._calls: dict[str, asyncio.Future[hass.CallResult]] = {}

    async def attach(self, connection: MqttConnection, *, avoid: Iterable[str] = ()) -> None:
        """Subscribe to the integration's reports on the calls this executor makes (`hass` devices only)."""
        topics = [hass.result_topic(d) for d in self._inventory.devices.values() if d.protocol is Protocol.HASS]
        if topics:
            await connection.subscribe(cover(topics, avoid=avoid), self._on_result)

    def _on_result(self, message: Incoming) -> None:
        """Take one report; anything malformed is logged and dropped, never raised."""
        try:
            result = hass.decode_result(message.payload)
        except DecodeError as err:
            _LOGGER.warning("ignoring a call result on %s: %s", message.topic, err)
            return
        future = self._calls.get(result.call)
        if future is not None and not future.done():
            future.set_result(result)

    def _encode(self, device: Device, values: dict[str, Value]) -> tuple[list[Message], list[str]]:
        """Return a device's command messages and, for a Home Assistant entity, the ids of their calls."""
        if device.protocol is not Protocol.HASS:
            return adapter_for(device).encode_command(device, values), []
        ids = [secrets.token_hex(8) for _ in hass.calls(device, values)]
        messages = [hass.command(device, c, i) for c, i in zip(hass.calls(device, values), ids, strict=True)]
        return messages, ids

    def offline(self, actions: Sequence[Action]) -> list[str]:
        """Return the devices of `actions` (once each, in order) whose last word was that they are offline."""
        gone = self._mirror.offline()
        return list(dict.fromkeys(a.device for a in actions if a.device in gone))

    async def execute(
        self,
        actions: Sequence[Action],
        *,
        remember: bool = True,
        confirm: float | None = None,
        skip_offline: bool = False,
    ) -> list[Outcome]:
        """Publish each valid action; the batch can be undone later when `remember` is set.

        With `confirm` (seconds, for the whole batch) each published action is then judged by what
        its device reports: the wait ends as soon as every device has confirmed, or at the limit.
        `skip_offline` sends nothing to a device that said it is offline.
        """
        sent_at = self._mirror.now()
        outcomes: list[Outcome] = []
        sent: list[tuple[int, list[asyncio.Future[None]]]] = []
        asked: list[tuple[int, list[str]]] = []
        undo: list[_UndoStep] = []
        for action in actions:
            checked = validate(self._inventory, action.device, action.set)
            if not checked.ok:
                problems = "; ".join(p.message for p in checked.problems)
                outcomes.append(Outcome(action, Result.SKIPPED, problems))
                continue
            device = self._inventory.devices[checked.device]
            normalised = Action(device.id, checked.values, action.reason)
            if skip_offline and self._mirror.available(device.id) is False:
                outcomes.append(Outcome(normalised, Result.SKIPPED, "the device is offline"))
                continue
            messages, call_ids = self._encode(device, checked.values)
            for call_id in call_ids:
                self._calls[call_id] = asyncio.get_running_loop().create_future()
            try:
                futures = [self._connection.publish_nowait(m.topic, m.payload, retain=m.retain) for m in messages]
            except OutboxFull as err:
                self._forget(call_ids)
                outcomes.append(Outcome(normalised, Result.FAILED, str(err)))
                continue
            if call_ids:
                asked.append((len(outcomes), call_ids))
            before = self._mirror.values(device.id)
            # "next track" has no state to go back to: undo leaves write-only commands out.
            kept = [n for n in checked.values if not device.capabilities[n].info.write_only]
            undo.append(
                _UndoStep(
                    device.id,
                    {n: before[n] for n in kept if n in before},
                    tuple(n for n in kept if n not in before),
                )
            )
            sent.append((len(outcomes), futures))
            outcomes.append(Outcome(normalised, Result.PUBLISHED))

        # Everything is queued before the first wait, so a batch goes out back to back.
        futures = [f for _, fs in sent for f in fs]
        if futures:
            _, pending = await asyncio.wait(futures, timeout=self._ack_wait)
            if pending:
                _LOGGER.warning("%d commands are held until the broker is back", len(pending))
            for index, fs in sent:
                if any(f in pending for f in fs):
                    outcomes[index] = Outcome(outcomes[index].action, Result.PUBLISHED, held=True)
        if asked:
            await self._reports(outcomes, asked)
            # What Home Assistant refused did not change: undo leaves it alone.
            refused = {o.action.device for o in outcomes if o.result is Result.FAILED}
            undo = [step for step in undo if step.device not in refused]
        if remember and undo:
            self._undo.append(undo)
        if confirm is not None:
            outcomes = await self._confirm(outcomes, sent_at, confirm)
        return outcomes

    async def _confirm(self, outcomes: list[Outcome], sent_at: float, timeout: float) -> list[Outcome]:
        """Wait (one deadline for the batch) for the devices to report, then judge each action."""

        def judge(outcome: Outcome) -> Verdict:
            device = self._inventory.devices[outcome.action.device]
            reports = bool(adapter_for(device).state_topics(device))
            return verdict(device, outcome.action.set, self._mirror.readings(device.id), sent_at, reports=reports)

        published = [o for o in outcomes if o.result is Result.PUBLISHED]
        if published and timeout > 0:
            # The mirror wakes this on every report; no sleeping in a loop.
            await self._mirror.wait_until(lambda: all(settled(judge(o)) for o in published), timeout)
        judged: list[Outcome] = []
        for outcome in outcomes:
            if outcome.result is Result.PUBLISHED:
                found = judge(outcome)
                judged.append(replace(outcome, confirmation=found.confirmation, reported=found.reported))
            elif outcome.result is Result.FAILED:
                judged.append(replace(outcome, confirmation=Confirmation.FAILED))
            else:
                judged.append(outcome)
        return judged

    async def _reports(self, outcomes: list[Outcome], asked: list[tuple[int, list[str]]]) -> None:
        """Wait for the integration's report of every call, and put Home Assistant's refusals into the outcomes."""
        ids = [i for _, group in asked for i in group]
        try:
            await asyncio.wait([self._calls[i] for i in ids], timeout=self._result_wait)
            for index, group in asked:
                done = [self._calls[i].result() for i in group if self._calls[i].done()]
                errors = [f"Home Assistant: {r.error or 'the call failed'}" for r in done if not r.ok]
                action = outcomes[index].action
                if errors:
                    outcomes[index] = Outcome(action, Result.FAILED, "; ".join(errors))
                elif len(done) < len(group) and not outcomes[index].held:
                    note = f"Home Assistant did not report back within {self._result_wait:g} s"
                    outcomes[index] = Outcome(action, Result.PUBLISHED, note)
        finally:
            self._forget(ids)

    def _forget(self, ids: Iterable[str]) -> None:
        for call_id in ids:
            future = self._calls.pop(call_id, None)
            if future is not None and not future.done():
                future.cancel()

    @property
    def can_undo(self) -> bool:
        """Tell whether there is a batch to undo."""
        return bool(self._undo)

    def peek_undo(self) -> list[Action]:
        """Return the actions `undo` would run now, without running them."""
        if not self._undo:
            return []
        return [Action(s.device, s.previous, "undo") for s in self._undo[-1] if s.previous]

    def drop_undo(self) -> None:
        """Forget the last batch's undo (its restore is being handled elsewhere)."""
        if self._undo:
            self._undo.pop()

    async def undo(self, *, confirm: float | None = None) -> list[Outcome]:
        """Restore the values the last batch replaced, judged as `execute` judges; [] when there is nothing to undo."""
        if not self._undo:
            return []
        steps = self._undo.pop()
        actions = [Action(s.device, s.previous, "undo") for s in steps if s.previous]
        outcomes = await self.execute(actions, remember=False, confirm=confirm)
        for step in steps:
            if step.unknown:
                missing = ", ".join(step.unknown)
                note = f"previous {missing} of '{step.device}' was never reported, so it cannot be restored"
                outcomes.append(Outcome(Action(step.device, {}, "undo"), Result.SKIPPED, note))
        return outcomes
