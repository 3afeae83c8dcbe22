"""The routine engine: time and state triggers, conditions, and firing through the executor.

Time triggers fire at a local wall-clock time in the home's timezone, found by walking each
local day between two checks, so a DST change neither skips nor repeats a firing. State
triggers are edge triggered on the state mirror: they fire when a value crosses into the
threshold (after holding it for `for_seconds`) and are re-armed only once it leaves again.
The clock is injectable, so tests and scenarios move time by hand.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time as _time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sasha.executor import Executor, Outcome, Result
from sasha.history.audit import AuditLog, Entry
from sasha.history.outcomes import Status
from sasha.home.capabilities import Value
from sasha.routines.routine import Routine, StateTrigger, Threshold, TimeTrigger, TimeWindow, occurrences
from sasha.routines.timers import GRACE, Timer, Timers
from sasha.state import StateMirror

_LOGGER = logging.getLogger(__name__)


class Clock(Protocol):
    """Where the engine gets the time."""

    def now(self) -> datetime:
        """Return the current time, timezone-aware."""
        ...


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        """Return the current time in UTC."""
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        """Return the clock's time."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self._now += timedelta(seconds=seconds)

    def set(self, when: datetime) -> None:
        """Jump to a time."""
        self._now = when


@dataclass(frozen=True, slots=True)
class Firing:
    """A routine that fired, and what came of its actions."""

    routine: str
    at: datetime
    results: tuple[str, ...]


class RoutineEngine:
    """Run routines against the state mirror, through the executor."""

    def __init__(
        self,
        mirror: StateMirror,
        executor: Executor,
        *,
        zone: ZoneInfo,
        clock: Clock | None = None,
        audit: AuditLog | None = None,
        timers: Timers | None = None,
    ) -> None:
        self._mirror = mirror
        self._executor = executor
        self._zone = zone
        self.clock = clock or SystemClock()
        self._audit = audit
        self.timers = timers
        self.routines: dict[str, Routine] = {}
        self._armed: dict[str, bool] = {}
        self._since: dict[str, datetime] = {}
        self._due: list[str] = []
        self._last = self.clock.now()
        self._wake = asyncio.Event()
        self.fired: list[Firing] = []
        mirror.add_listener(self._observe)

    def load(self, routines: Iterable[Routine]) -> None:
        """Replace the routines; state triggers arm from the current values (no firing on load)."""
        self.routines = {r.id: r for r in routines}
        self._armed.clear()
        self._since.clear()
        for routine in self.routines.values():
            if isinstance(routine.trigger, StateTrigger):
                current = self._current(routine.trigger.test)
                if current is not None:
                    self._armed[routine.id] = not routine.trigger.test.holds(current)

    def _current(self, test: Threshold) -> Value | None:
        reading = self._mirror.get(test.device, test.capability)
        return reading.value if reading is not None else None

    def _observe(self, device: str, changed: dict[str, Value]) -> None:
        for routine in self.routines.values():
            trigger = routine.trigger
            if not isinstance(trigger, StateTrigger) or trigger.test.device != device:
                continue
            if trigger.test.capability not in changed:
                continue
            holds = trigger.test.holds(changed[trigger.test.capability])
            if routine.id not in self._armed:
                # The first value seen since loading says where we are, not that it crossed:
                # a restart must not fire every routine whose condition already holds.
                self._armed[routine.id] = not holds
                continue
            if not holds:
                self._armed[routine.id] = True
                self._since.pop(routine.id, None)
            elif self._armed[routine.id] and routine.id not in self._since:
                self._since[routine.id] = self.clock.now()
                self._wake.set()

    async def run(self, interval: float = 1.0) -> None:
        """Check the routines every `interval` seconds (and at once after a state change)."""
        while True:
            await self.tick()
            self._wake.clear()
            try:
                async with asyncio.timeout(interval):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def tick(self) -> list[Firing]:
        """Fire what is due now; return the firings."""
        now = self.clock.now()
        due: list[tuple[Routine, datetime]] = []
        for routine in self.routines.values():
            trigger = routine.trigger
            if not routine.enabled:
                continue
            if isinstance(trigger, TimeTrigger):
                due.extend((routine, at) for at in occurrences(trigger, self._zone, self._last, now))
            else:
                since = self._since.get(routine.id)
                if since is not None and (now - since).total_seconds() >= trigger.for_seconds:
                    del self._since[routine.id]
                    if trigger.test.holds(self._current(trigger.test)):
                        self._armed[routine.id] = False
                        due.append((routine, now))
        self._last = now
        firings = []
        for routine, at in sorted(due, key=lambda item: item[1]):
            firing = await self._fire(routine, at)
            if firing is not None:
                firings.append(firing)
        if self.timers is not None and self.timers.any_due(now.timestamp()):
            # Only a due timer costs a worker thread: taking it rewrites timers.json.
            due_timers = await asyncio.to_thread(self.timers.take_due, now.timestamp())
            firings.extend([await self._ring(timer) for timer in due_timers])
        return firings

    async def _ring(self, timer: Timer) -> Firing:
        """Run a due timer's actions, or drop it when Sasha was down for longer than `GRACE`."""
        at = datetime.fromtimestamp(timer.at, UTC)
        late = (self.clock.now() - at).total_seconds()
        if late > GRACE:
            _LOGGER.warning(
                "timer %s (%s) was due %.0f s ago, while Sasha was down: dropped", timer.id, timer.says, late
            )
            missed = f"missed by {late:.0f} s"
            await self._record(at, f"timer {timer.says}", status=Status.INFEASIBLE, message=missed, source="timer")
            return Firing(f"timer {timer.id}", at, ())
        started = _time.perf_counter()
        outcomes = await self._executor.execute(list(timer.actions))
        firing = Firing(f"timer {timer.id}", at, tuple(f"{o.action.device}:{o.result.value}" for o in outcomes))
        self.fired.append(firing)
        _LOGGER.info("timer %s fired: %s", timer.id, ", ".join(firing.results))
        status = Status.DONE if any(o.result is Result.PUBLISHED for o in outcomes) else Status.INFEASIBLE
        text = f"timer {timer.says}"
        await self._record(
            at, text, status=status, message=timer.says, source="timer", outcomes=outcomes, started=started
        )
        return firing

    def _conditions_hold(self, routine: Routine, at: datetime) -> bool:
        local = at.astimezone(self._zone).time()
        for condition in routine.conditions:
            if isinstance(condition, TimeWindow):
                if not condition.holds(local):
                    return False
            elif not condition.holds(self._current(condition)):
                return False
        return True

    async def _fire(self, routine: Routine, at: datetime) -> Firing | None:
        if not self._conditions_hold(routine, at):
            _LOGGER.info("routine %s: trigger met, conditions not", routine.id)
            return None
        started = _time.perf_counter()
        outcomes = await self._executor.execute(list(routine.actions))
        results = tuple(f"{o.action.device}:{o.result.value}" for o in outcomes)
        firing = Firing(routine.id, at, results)
        self.fired.append(firing)
        _LOGGER.info("routine %s fired: %s", routine.id, ", ".join(results))
        status = Status.DONE if any(o.result is Result.PUBLISHED for o in outcomes) else Status.INFEASIBLE
        text, message = f"routine {routine.name}", f"{routine.name} fired"
        await self._record(
            at, text, status=status, message=message, source="routine", outcomes=outcomes, started=started
        )
        return firing

    async def _record(
        self,
        at: datetime,
        text: str,
        *,
        status: str,
        message: str,
        source: str,
        outcomes: Sequence[Outcome] = (),
        started: float = 0.0,
    ) -> None:
        """Write a firing to the audit log, as a request of its own from `source`."""
        if self._audit is None:
            return
        await self._audit.record(
            Entry(
                at=at.timestamp(),
                request_id=None,
                conversation=None,
                source=source,
                text=text,
                status=status,
                message=message,
                path=source,
                actions=[
                    {
                        "device": o.action.device,
                        "set": dict(o.action.set),
                        "reason": o.action.reason,
                        "result": o.result.value,
                        "error": o.error,
                    }
                    for o in outcomes
                ],
                model_calls=[],
                tokens=0,
                latency_ms=(_time.perf_counter() - started) * 1000 if started else 0.0,
            )
        )


def home_zone(name: str | None) -> ZoneInfo:
    """Return the home's timezone: its IANA name, else the system's (TZ, /etc/localtime), else UTC."""
    for key in (name, os.environ.get("TZ", "").lstrip(":"), _localtime_key()):
        if key:
            try:
                return ZoneInfo(key)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def _localtime_key() -> str | None:
    try:
        target = os.path.realpath("/etc/localtime")
    except OSError:
        return None
    _, found, key = target.partition("zoneinfo/")
    return key if found else None
