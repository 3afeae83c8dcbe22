"""A routine's preview: when it would have fired over the recorded state history.

Pure: the history is handed in as each capability's value at the start and its changes after.
The rules are the engine's: a time trigger fires at its local times (conditions checked then);
a state trigger fires when the value crosses into the test and has held it `for_seconds`, and
re-arms only once it left; the first value seen only arms it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sasha.home.capabilities import Value
from sasha.routines.routine import Routine, StateTrigger, Threshold, TimeWindow, occurrences

Series = tuple[Value | None, Sequence[tuple[float, Value]]]
"""A capability's value at the start (None: unknown) and its changes after, oldest first."""

SHOWN = 10
"""Firings a preview names at most; the rest are counted."""


def reads(routine: Routine) -> list[tuple[str, str]]:
    """Return the (device, capability) pairs whose history a routine's preview needs."""
    tests = [c for c in routine.conditions if isinstance(c, Threshold)]
    if isinstance(routine.trigger, StateTrigger):
        tests.append(routine.trigger.test)
    return list(dict.fromkeys((t.device, t.capability) for t in tests))


def firings(
    routine: Routine, history: Mapping[tuple[str, str], Series], *, zone: ZoneInfo, start: float, end: float
) -> list[datetime]:
    """Return when a routine would have fired between `start` and `end` (epoch seconds), in UTC."""
    if isinstance(routine.trigger, StateTrigger):
        candidates = _crossings(routine.trigger, history, start, end)
    else:
        begin, until = datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)
        candidates = occurrences(routine.trigger, zone, begin, until)
    return [at for at in candidates if _conditions_hold(routine, history, at, zone)]


def _value_at(series: Series | None, at: float) -> Value | None:
    if series is None:
        return None
    value, changes = series
    for seen, changed in changes:
        if seen > at:
            break
        value = changed
    return value


def _conditions_hold(routine: Routine, history: Mapping[tuple[str, str], Series], at: datetime, zone: ZoneInfo) -> bool:
    for condition in routine.conditions:
        if isinstance(condition, TimeWindow):
            if not condition.holds(at.astimezone(zone).time()):
                return False
        elif not condition.holds(_value_at(history.get((condition.device, condition.capability)), at.timestamp())):
            return False
    return True


def _crossings(
    trigger: StateTrigger, history: Mapping[tuple[str, str], Series], start: float, end: float
) -> list[datetime]:
    test = trigger.test
    value, changes = history.get((test.device, test.capability), (None, ()))
    armed: bool | None = None if value is None else not test.holds(value)
    found: list[datetime] = []
    points = list(changes)
    for index, (seen, changed) in enumerate(points):
        holds = test.holds(changed)
        if armed is None:
            armed = not holds  # the first value seen says where it is, not that it crossed
            continue
        if not holds:
            armed = True
            continue
        if not armed:
            continue
        # It crossed: it fires once the value has held for `for_seconds` (before the next change that leaves it).
        fires = seen + trigger.for_seconds
        left = next((t for t, v in points[index + 1 :] if not test.holds(v)), None)
        if fires <= end and (left is None or left >= fires):
            found.append(datetime.fromtimestamp(fires, UTC))
            armed = False
    return [at for at in found if at.timestamp() >= start]


def say(found: Sequence[datetime], *, zone: ZoneInfo, span: str) -> str:
    """Say a preview: "It would have run 3 times in the last 7 days: Mon 23:00, Tue 23:00, Wed 23:00."."""
    if not found:
        return f"It would not have run {span}."
    times = "once" if len(found) == 1 else "twice" if len(found) == 2 else f"{len(found)} times"
    shown = [at.astimezone(zone).strftime("%a %H:%M") for at in found[:SHOWN]]
    more = f", and {len(found) - SHOWN} more" if len(found) > SHOWN else ""
    return f"It would have run {times} {span}: {', '.join(shown)}{more}."
