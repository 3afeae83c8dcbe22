"""Routines: a trigger, conditions and actions, checked against the home like any plan.

Pure values and checks. A routine comes from the model (`RoutineModel`) or from the
hand-editable `routines.yaml`; either way it is validated the same way. A routine moves a
sensitive device only in its safe direction (lock, close, oven off, arm): anything else is
refused when the routine is created, because nobody is there to say yes when it fires.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sasha.home.actions import Action
from sasha.home.capabilities import Value, ValueKind
from sasha.home.inventory import Inventory
from sasha.home.safety import safe_direction
from sasha.home.validation import validate
from sasha.routines.shapes import ActionModel, ConditionModel, RoutineModel, TriggerModel

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_ALIASES = {"weekdays": DAYS[:5], "weekends": DAYS[5:], "daily": DAYS, "everyday": DAYS}
_DAY_SEPARATORS = re.compile(r"[\s,]+")
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True, slots=True)
class Threshold:
    """A test on one capability: above, below and/or equals."""

    device: str
    capability: str
    above: float | None = None
    below: float | None = None
    equals: Value | None = None

    def holds(self, value: Value | None) -> bool:
        """Tell whether a reported value satisfies the test (an unknown value never does)."""
        if value is None:
            return False
        if self.equals is not None:
            return value == self.equals
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.above is not None and not value > self.above:
            return False
        return not (self.below is not None and not value < self.below)


@dataclass(frozen=True, slots=True)
class TimeTrigger:
    """Fire at a local time, on some days (every day when `days` is empty)."""

    at: time
    days: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StateTrigger:
    """Fire when a value crosses into the threshold (and has held for `for_seconds`)."""

    test: Threshold
    for_seconds: float = 0


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """Hold between two local times; `after` later than `before` wraps midnight."""

    after: time
    before: time

    def holds(self, now: time) -> bool:
        """Tell whether a local time lies in the window."""
        if self.after <= self.before:
            return self.after <= now < self.before
        return now >= self.after or now < self.before


@dataclass(frozen=True, slots=True)
class Routine:
    """A checked routine."""

    id: str
    name: str
    trigger: TimeTrigger | StateTrigger
    actions: tuple[Action, ...]
    conditions: tuple[TimeWindow | Threshold, ...] = ()
    enabled: bool = True
    created_from: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


def occurrences(trigger: TimeTrigger, zone: ZoneInfo, after: datetime, until: datetime) -> list[datetime]:
    """Return the instants in (after, until] when a time trigger fires, in UTC."""
    found = []
    day = after.astimezone(zone).date() - timedelta(days=1)
    last = until.astimezone(zone).date()
    while day <= last:
        if not trigger.days or DAYS[day.weekday()] in trigger.days:
            # A wall-clock time skipped by a spring-forward change maps to the hour after it;
            # one repeated by a fall-back change is taken once (fold=0): one firing a day.
            local = datetime.combine(day, trigger.at, tzinfo=zone)
            instant = local.astimezone(UTC)
            if after < instant <= until:
                found.append(instant)
        day += timedelta(days=1)
    return found


def slug(name: str) -> str:
    """Turn a routine's name into its id."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:60] or "routine"


def _clock(text: str | None, what: str, problems: list[str]) -> time | None:
    match = _HHMM.match((text or "").strip())
    if match is None:
        problems.append(f"{what} {text!r} is not a time like 07:30")
        return None
    return time(int(match.group(1)), int(match.group(2)))


def _day(word: str) -> tuple[str, ...] | None:
    """Return the days a word names (`fri`, `Friday`, `thurs`, `weekdays`), None if it names none."""
    if word in _DAY_ALIASES:
        return _DAY_ALIASES[word]
    # Three letters or more of a day's name: "tues" and "thurs" are days, "sunshine" is not.
    if len(word) >= 3:
        for short, name in zip(DAYS, _DAY_NAMES, strict=True):
            if name.startswith(word):
                return (short,)
    return None


def _days(days: str | Sequence[str] | None, problems: list[str]) -> tuple[str, ...]:
    # A hand-written file says `days: daily` or `days: mon, fri` as often as `days: [mon, fri]`.
    words = _DAY_SEPARATORS.split(days) if isinstance(days, str) else list(days or ())
    result: set[str] = set()
    for raw in words:
        word = str(raw).strip().lower()
        if not word:
            continue
        found = _day(word)
        if found is None:
            problems.append(f"day {raw!r} is not a day: {', '.join(DAYS)}, weekdays, weekends or daily")
            continue
        result.update(found)
    chosen = tuple(d for d in DAYS if d in result)
    # All seven is every day, which the file and `describe` say by naming none.
    return () if chosen == DAYS else chosen


def _threshold(
    home: Inventory, item: TriggerModel | ConditionModel, what: str, problems: list[str]
) -> Threshold | None:
    device = home.get(item.device or "")
    if device is None:
        problems.append(f"the {what} uses device '{item.device}', which this home does not have")
        return None
    capability = device.capabilities.get(item.capability or "")
    if capability is None:
        problems.append(f"the {what} uses '{device.id}'.{item.capability}, which it does not have")
        return None
    if item.above is None and item.below is None and item.equals is None:
        problems.append(f"the {what} on '{device.id}'.{capability.name} needs above, below or equals")
        return None
    numeric = capability.info.kind in (ValueKind.INTEGER, ValueKind.NUMBER, ValueKind.SENSOR_NUMBER)
    if (item.above is not None or item.below is not None) and not numeric:
        problems.append(f"the {what} compares '{device.id}'.{capability.name} with a number, but it is not one")
        return None
    equals = item.equals
    if isinstance(equals, str) and capability.info.kind in (ValueKind.SENSOR_BOOL, ValueKind.BOOLEAN):
        equals = equals.lower() in ("true", "on", "yes", "1")
    return Threshold(device.id, capability.name, item.above, item.below, equals)


def check(home: Inventory, model: RoutineModel, *, request: str = "") -> tuple[Routine | None, list[str]]:
    """Validate a proposed routine; return it, or the problems that make it unusable."""
    problems: list[str] = []
    trigger: TimeTrigger | StateTrigger | None = None
    if model.trigger.type == "time":
        at = _clock(model.trigger.at, "the trigger time", problems)
        days = _days(model.trigger.days, problems)
        trigger = TimeTrigger(at, days) if at is not None else None
    else:
        test = _threshold(home, model.trigger, "trigger", problems)
        if model.trigger.for_seconds < 0:
            problems.append("for_seconds cannot be negative")
        trigger = StateTrigger(test, max(0.0, model.trigger.for_seconds)) if test is not None else None
    conditions: list[TimeWindow | Threshold] = []
    for condition in model.conditions:
        if condition.type == "time":
            after = _clock(condition.after, "the condition's 'after'", problems)
            before = _clock(condition.before, "the condition's 'before'", problems)
            if after is not None and before is not None:
                conditions.append(TimeWindow(after, before))
        elif (test := _threshold(home, condition, "condition", problems)) is not None:
            conditions.append(test)
    actions = _actions(home, model.actions, problems)
    if not model.actions:
        problems.append("the routine has no actions")
    if problems or trigger is None:
        return None, problems
    return Routine(slug(model.name), model.name, trigger, tuple(actions), tuple(conditions), True, request), []


def _actions(home: Inventory, proposed: Sequence[ActionModel], problems: list[str]) -> list[Action]:
    actions = []
    for action in proposed:
        checked = validate(home, action.device, action.set)
        if not checked.ok:
            problems.extend(p.message for p in checked.problems)
            continue
        device = home.devices[checked.device]
        if device.sensitive and not safe_direction(device, checked.values):
            # Nobody would be asked at 3 a.m.: a routine must not unlock, open or heat by itself.
            problems.append(
                f"'{device.id}' is sensitive; a routine may only move it towards safety (lock, close, off, arm)"
            )
            continue
        actions.append(Action(device.id, checked.values, action.reason))
    return actions


def describe(routine: Routine) -> str:
    """Describe a routine in one line."""
    if isinstance(routine.trigger, TimeTrigger):
        days = ",".join(routine.trigger.days) if routine.trigger.days else "every day"
        when = f"at {routine.trigger.at:%H:%M} ({days})"
    else:
        when = f"when {_test(routine.trigger.test)}" + (
            f" for {routine.trigger.for_seconds:g} s" if routine.trigger.for_seconds else ""
        )
    conditions = [
        (f"between {c.after:%H:%M} and {c.before:%H:%M}" if isinstance(c, TimeWindow) else _test(c))
        for c in routine.conditions
    ]
    doing = "; ".join(f"{a.device}: " + ", ".join(f"{k}={v}" for k, v in a.set.items()) for a in routine.actions)
    only = f", only if {' and '.join(conditions)}" if conditions else ""
    return f"{when}{only} → {doing}"


def _test(test: Threshold) -> str:
    parts = []
    if test.above is not None:
        parts.append(f"above {test.above:g}")
    if test.below is not None:
        parts.append(f"below {test.below:g}")
    if test.equals is not None:
        parts.append(f"is {test.equals}")
    return f"{test.device}.{test.capability} {' and '.join(parts)}"
