"""The home's story without a model: "why is the hall light on?", "what happened in the last hour?".

Pure: the happenings (what the audit log says was sent, by which request or routine) are handed
in by the caller, who reads them from disk. This module only reads the question and tells the
answer from them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sasha.home.inventory import Device, Inventory
from sasha.home.wording import say_changes
from sasha.understanding import grammar

_ECHO = 60.0
"""Seconds after a command within which a device's report of that change is taken as the command's."""

LISTED = 10
"""Happenings a span answer lists at most (the newest); the rest are counted."""


@dataclass(frozen=True, slots=True)
class Happening:
    """One change Sasha sent to one device, and who asked for it."""

    at: float
    device: str
    set: Mapping[str, Any]
    source: str  # chat | api | cli | scenario | routine …
    text: str  # the request as said, or the routine's name
    routine: str | None = None  # the routine that fired, if one did
    origin: str | None = None  # the request the routine was set up from
    confirmation: str | None = None
    confirmed: bool = False  # a plan that waited for a yes; `text` is then what the plan said


@dataclass(frozen=True, slots=True)
class Why:
    """A question about what changed some devices ("why is the hall light on", "what turned off the fan")."""

    devices: tuple[Device, ...]
    words: str  # what the question called them
    state: str | None  # on | off | open | closed | locked | unlocked | None (any change)


@dataclass(frozen=True, slots=True)
class Span:
    """A question about a stretch of time: since `seconds` ago, or today (`seconds` None)."""

    seconds: float | None
    label: str  # "in the last hour", "today"
    mine: bool  # "what did you do": Sasha's doing (everything the log holds is)


_STATES = r"on|off|open|opened|closed|shut|locked|unlocked|playing|paused|running"
# "why's" arrives as "whys": sentences are normalised without apostrophes.
_WHY = re.compile(rf"^(?:whys|(?:why|how come) (?:is|are|was|were)) (?P<t>.+?)(?: (?P<st>{_STATES}))?$")
_VERBS = {
    "turned on": "on",
    "switched on": "on",
    "turned off": "off",
    "switched off": "off",
    "opened": "open",
    "closed": "closed",
    "shut": "closed",
    "locked": "locked",
    "unlocked": "unlocked",
    "changed": None,
    "set": None,
    "dimmed": None,
    "started": "on",
    "stopped": "off",
    "paused": "paused",
    "turned": None,  # "what turned the fan on": the state follows the target
    "switched": None,
}
_WHAT = re.compile(r"^(?:what|who|which routine) (?P<v>" + "|".join(_VERBS) + r") (?P<t>.+?)(?: (?P<st>on|off))?$")
_UNITS = {"min": "minute", "mins": "minute", "minute": "minute", "minutes": "minute", "hour": "hour", "hours": "hour"}
_UNITS |= {"day": "day", "days": "day"}
_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_COUNT = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "few": 3, "couple of": 2}
_WHEN = (
    r"(?: (?:in|during|over|for) (?:last|past) (?P<n>\d+|a|an|one|two|three|few|couple of)? ?"
    r"(?P<u>minutes?|mins?|hours?|days?)| (?P<today>today))?"
)
_SPAN = re.compile(rf"^what (?:happened|changed|has happened|went on|did you do|have you done|did sasha do){_WHEN}$")


def read(vocabulary: grammar.Vocabulary, said: str) -> Why | Span | None:
    """Read a normalised question about the home's story, or return None (not one of those)."""
    if found := _SPAN.match(said):
        mine = " do" in said or " done" in said
        if found.group("today") or (found.group("u") is None and mine):
            return Span(None, "today", mine)
        if found.group("u") is None:
            return Span(3600.0, "in the last hour", mine)
        count = found.group("n")
        number = int(count) if count and count.isdigit() else _COUNT.get(count or "a", 1)
        unit = _UNITS[found.group("u")]
        shown = unit if number == 1 else f"{number} {unit}s"
        return Span(float(number * _SECONDS[unit]), f"in the last {shown}", mine)
    verb_state: str | None
    if found := _WHY.match(said):
        words, verb_state = found.group("t"), found.group("st")
    elif found := _WHAT.match(said):
        words, verb_state = found.group("t"), found.group("st") or _VERBS[found.group("v")]
    else:
        return None
    target = vocabulary.target(words)
    if isinstance(target, grammar.Unclear):
        return Why(target.candidates, words, _state(verb_state))
    if target is None or not target.devices:
        return None
    return Why(target.devices, words, _state(verb_state))


def _state(word: str | None) -> str | None:
    return {"opened": "open", "shut": "closed", "running": "on"}.get(word or "", word)


def tell_why(
    home: Inventory,
    question: Why,
    happenings: Sequence[Happening],
    *,
    zone: tzinfo,
    now: float,
    kept: str,
    reported: Sequence[Happening] = (),
) -> str:
    """Say what last changed each device the question names (in the direction asked), from the happenings.

    `reported` are the changes the devices reported (the state history): one that fits with no
    change of Sasha's behind it was done by something else, and is said so. `kept` says how far
    back the log was read ("in the last 7 days"), for when nothing did.
    """
    ids = {d.id for d in question.devices}
    latest: dict[str, Happening] = {}
    for happening in sorted(happenings, key=lambda h: h.at):
        if happening.device in ids and _fits(home.devices[happening.device], happening.set, question.state):
            latest[happening.device] = happening
    outside: dict[str, Happening] = {}
    for change in sorted(reported, key=lambda h: h.at):
        if change.device in ids and _fits(home.devices[change.device], change.set, question.state):
            outside[change.device] = change
    told_outside = []
    for device_id, change in outside.items():
        sent = latest.get(device_id)
        # A report soon after Sasha's own command is that command arriving, not someone else.
        if sent is None or change.at > sent.at + _ECHO:
            latest.pop(device_id, None)
            device = home.devices[device_id]
            when = _clock(change.at, zone, now)
            told_outside.append(
                f"{say_changes([(device, change.set)])} at {when}, not through me (by hand, or by another system)."
            )
    if told_outside and not latest:
        return " ".join(told_outside)
    if not latest:
        names = _names([d.name for d in question.devices])
        what = f"turned {question.state}" if question.state in ("on", "off") else question.state or "changed"
        return (
            f"I have no record of Sasha having {what} the {names} {kept}: it was not done through me"
            " (by hand, or by another system)."
        )
    told = [_tell(home.devices[h.device], h, zone=zone, now=now) for h in sorted(latest.values(), key=lambda h: h.at)]
    return " ".join(told + told_outside)


def tell_span(
    home: Inventory,
    question: Span,
    happenings: Sequence[Happening],
    *,
    zone: tzinfo,
    now: float,
    reported: Sequence[Happening] = (),
) -> str:
    """Say what was sent in a stretch of time, newest last, by whom; the caller hands in that stretch's happenings.

    `reported` are the changes devices reported then: those no command of Sasha's was behind are
    listed too, as "not through me".
    """
    # A device the audit log names may have left the inventory since: it is not part of this home's story.
    known = [h for h in [*happenings, *_not_mine(happenings, reported)] if h.device in home.devices]
    ordered = sorted(known, key=lambda h: h.at)
    if not ordered:
        subject = "I did nothing" if question.mine else "Nothing happened through me"
        return f"{subject} {question.label}."
    # One line per request or firing: its devices said together ("Bedroom light and Bedside lamp off").
    groups: list[list[Happening]] = []
    for happening in ordered:
        last = groups[-1][-1] if groups else None
        if last is not None and (last.at, last.text, last.source) == (happening.at, happening.text, happening.source):
            groups[-1].append(happening)
        else:
            groups.append([happening])
    shown = groups[-LISTED:]
    lines = []
    for group in shown:
        first = group[0]
        change = say_changes([(home.devices[h.device], h.set) for h in group])
        lines.append(f"{_clock(first.at, zone, now)} {change} ({_who(first, short=True)})")
    more = len(groups) - len(shown)
    earlier = f" (and {more} earlier)" if more else ""
    head = f"What I did {question.label}" if question.mine else question.label[0].upper() + question.label[1:]
    return f"{head}{earlier}: " + "; ".join(lines) + "."


def _not_mine(happenings: Sequence[Happening], reported: Sequence[Happening]) -> list[Happening]:
    """Return the reported changes that are not the echo of one of Sasha's commands on that device."""
    sent: dict[str, list[float]] = {}
    for happening in happenings:
        sent.setdefault(happening.device, []).append(happening.at)
    return [
        change for change in reported if not any(0 <= change.at - at <= _ECHO for at in sent.get(change.device, ()))
    ]


def _fits(device: Device, values: Mapping[str, Any], state: str | None) -> bool:
    """Tell whether a change moved a device in the asked direction (any change when none was asked)."""
    if state is None:
        return True
    if state in ("on", "off") and "power" in values:
        return bool(values["power"] == state)
    if state in ("locked", "unlocked") and "lock" in values:
        return bool(values["lock"] == state)
    if state in ("open", "closed"):
        if "position" in values:
            return bool(values["position"] == 0) == (state == "closed")
        if "power" in values and "position" not in device.capabilities:
            return bool(values["power"] == ("on" if state == "open" else "off"))
    if state in ("playing", "paused") and "playback" in values:
        return bool(values["playback"] == state)
    # "on" also fits a light that was only dimmed up: brightness above 0 means it is on.
    return state == "on" and bool(values.get("brightness", 0))


def _tell(device: Device, happening: Happening, *, zone: tzinfo, now: float) -> str:
    change = say_changes([(device, happening.set)])
    unconfirmed = " It did not confirm." if happening.confirmation == "unconfirmed" else ""
    return f"{change} at {_clock(happening.at, zone, now)}: {_who(happening, short=False)}.{unconfirmed}"


def _who(happening: Happening, *, short: bool) -> str:
    if happening.source == "device":
        return "not through me"
    if happening.routine is not None:
        origin = f", set up from “{happening.origin}”" if happening.origin and not short else ""
        return f"the routine '{happening.routine}'{origin}"
    where = {"chat": "in the chat", "mqtt": "over MQTT", "api": "over MQTT", "cli": "with sasha ask"}
    where["scenario"] = "in a scenario"
    place = where.get(happening.source, f"from {happening.source}")
    if happening.confirmed:
        return f"a plan confirmed {place}, “{happening.text}”" if not short else f"confirmed: “{happening.text}”"
    return f"“{happening.text}”" + ("" if short else f", asked {place}")


def _clock(at: float, zone: tzinfo, now: float) -> str:
    when = datetime.fromtimestamp(at, zone)
    today = datetime.fromtimestamp(now, zone).date()
    if when.date() == today:
        return when.strftime("%H:%M")
    if when.date() == today - timedelta(days=1):
        return when.strftime("yesterday %H:%M")
    return when.strftime("%a %H:%M")


def _names(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or the {names[-1]}"


def start_of(question: Span, *, zone: tzinfo, now: float) -> float:
    """Return when a span question's stretch of time begins (today: local midnight)."""
    if question.seconds is not None:
        return now - question.seconds
    midnight = datetime.fromtimestamp(now, zone).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.timestamp()
