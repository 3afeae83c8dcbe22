"""Questions answered from the state mirror without a model: readings, "is it on", "which", "any".

"what is the temperature in the bedroom", "is the front door locked", "which lights are on",
"are any windows open": the answer is in the mirror, so asking a model would only cost time
and money. A reading older than `STALE_AFTER` carries its age; a device that never reported
gets "I have no reading for …". A question this cannot read goes to the model as before.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sasha.home.capabilities import Value
from sasha.home.inventory import Device, DeviceType, Inventory
from sasha.home.readings import Reading
from sasha.understanding import grammar

STALE_AFTER = 15 * 60
"""Seconds after which an answer says how old the reading is."""

_READINGS = {
    "temperature": "temperature",
    "temp": "temperature",
    "humidity": "humidity",
    "co2": "co2",
    "carbon dioxide": "co2",
    "illuminance": "illuminance",
    "light level": "illuminance",
    "battery": "battery",
    "battery level": "battery",
    "power usage": "power_usage",
    "power consumption": "power_usage",
    "energy": "energy",
    "energy use": "energy",
}
_ADJECTIVES = {"warm": "temperature", "hot": "temperature", "cold": "temperature", "cool": "temperature"}
_ADJECTIVES["humid"] = "humidity"
_CAP = "|".join(sorted(map(re.escape, _READINGS), key=len, reverse=True))
_STATES = r"on|off|locked|unlocked|open|closed|shut|playing|paused|stopped|muted"
_ASK = re.compile(
    "|".join(
        [
            rf"^(?:what is|tell me|how is|hows|show me) (?P<cap>{_CAP})(?: level)? (?:(?:in|of|at|on|for) )?(?P<t>.+)$",
            rf"^(?:what is|tell me|how is|hows|show me) (?P<t2>.+?) (?P<cap2>{_CAP})$",
            r"^how (?P<adj>warm|hot|cold|cool|humid) is (?:it )?(?:in |at |on )?(?P<t3>.+)$",
        ]
    )
)
_IS = re.compile(rf"^(?:is|are) (?P<t>.+?) (?P<st>{_STATES})$")
_WHICH = re.compile(rf"^(?:which|what) (?P<k>[a-z ]+?) (?:are|is) (?P<st>{_STATES})(?: (?:in |on )?(?P<p>.+))?$")
_ANY = re.compile(rf"^(?:are|is) (?:there )?any (?P<k>[a-z ]+?) (?P<st>{_STATES})(?: (?:in |on )?(?P<p>.+))?$")


@dataclass(frozen=True, slots=True)
class Answer:
    """A question answered from the state mirror."""

    message: str
    devices: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Ask:
    """A question about several devices where one was meant, asking which."""

    message: str
    candidates: tuple[str, ...]
    words: str = ""
    text: str = ""  # the question with TARGET where the unclear phrase stood


Readings = Callable[[str, str], Reading | None]


def age(seconds: float) -> str:
    """Say how long ago, coarsely ("25 min", "3 h", "2 days")."""
    minutes = int(seconds // 60)
    if minutes < 90:
        return f"{max(minutes, 1)} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} days"


class Answers:
    """Answer questions about one home from its state mirror."""

    def __init__(self, home: Inventory, readings: Readings, *, clock: Callable[[], float] = time.time) -> None:
        self._home = home
        self._words = grammar.Vocabulary(home)
        self._readings = readings
        self._clock = clock

    def answer(self, said: str) -> Answer | Ask | None:
        """Answer a normalised question, ask which device it means, or return None (not a question read here)."""
        if found := _ASK.match(said):
            words = found.group("t") or found.group("t2") or found.group("t3")
            cap = found.group("cap") or found.group("cap2")
            capability = _READINGS[cap] if cap else _ADJECTIVES[found.group("adj")]
            return self._reading(words, capability)
        for pattern, every in ((_WHICH, True), (_ANY, False)):
            if found := pattern.match(said):
                devices = self._kind(found.group("k"), found.group("p"))
                if devices is None:
                    return None
                return self._which(devices, found.group("k"), found.group("st"), every=every)
        if found := _IS.match(said):
            target = self._words.target(found.group("t"))
            if isinstance(target, grammar.Unclear):
                return Ask(
                    grammar.which(target.words, target.candidates),
                    tuple(d.id for d in target.candidates),
                    target.words,
                    said[: found.start("t")] + grammar.TARGET + said[found.end("t") :],
                )
            if target is None or not target.devices:
                return None
            return self._is(target.devices, found.group("st"))
        return None

    def _kind(self, words: str, place: str | None) -> list[Device] | None:
        target = self._words.target(f"all {words} in {place}" if place else f"all {words}")
        return list(target.devices) if isinstance(target, grammar.Target) else None

    def _stamp(self, reading: Reading) -> str:
        old = self._clock() - reading.seen
        return f", {age(old)} ago" if old > STALE_AFTER else ""

    def _reading(self, words: str, capability: str) -> Answer | None:
        place = self._words.place(words)
        named = self._words.devices.get(words)
        if place is not None:
            rooms, floor = place
            pool = self._home.on_floor(floor) if floor else [d for r in rooms for d in self._home.in_room(r.id)]
            where = f"in the {', '.join(r.name for r in rooms) or floor}"
        elif named is not None and len(named) == 1:
            pool, where = named, f"of the {named[0].name}"
        else:
            return None
        devices = [d for d in pool if capability in d.capabilities]
        label = capability.replace("_", " ")
        if not devices:
            return Answer(f"I have no reading for the {label} {where}.")
        parts: list[str] = []
        missing: list[str] = []
        for device in devices:
            reading = self._readings(device.id, capability)
            if reading is None:
                missing.append(device.name)
                continue
            unit = device.capabilities[capability].info.unit
            parts.append(f"{_show(reading.value, unit)} ({device.name}{self._stamp(reading)})")
        if not parts:
            return Answer(f"I have no reading for the {label} {where}.", tuple(d.id for d in devices))
        note = f" No reading from {', '.join(missing)}." if missing else ""
        return Answer(f"The {label} {where}: {', '.join(parts)}.{note}", tuple(d.id for d in devices))

    def _is(self, devices: Sequence[Device], state: str) -> Answer:
        known: list[tuple[Device, bool, str, str]] = []
        missing: list[str] = []
        for device in devices:
            found = self._state(device, state)
            if found is None:
                missing.append(device.name)
            else:
                known.append((device, *found))
        if not known:
            return Answer(f"I have no reading for {_join(missing)}.", tuple(d.id for d in devices))
        if len(devices) == 1:
            device, holds, now, when = known[0]
            stamp = f" (as of {when})" if when else ""
            return Answer(f"{'Yes' if holds else 'No'}, the {device.name} is {now}{stamp}.", (device.id,))
        lines = "; ".join(f"{d.name} is {now}" + (f" (as of {when})" if when else "") for d, _, now, when in known)
        note = f" I have no reading for {_join(missing)}." if missing else ""
        return Answer(f"{lines}.{note}", tuple(d.id for d in devices))

    def _which(self, devices: Sequence[Device], kind: str, state: str, *, every: bool) -> Answer:
        if not devices:
            return Answer(f"I have no reading for any {kind}: this home has none that I know of.")
        holding: list[str] = []
        missing: list[str] = []
        for device in devices:
            found = self._state(device, state)
            if found is None:
                missing.append(device.name)
            elif found[0]:
                holding.append(device.name + (f" (as of {found[2]})" if found[2] else ""))
        note = f" I have no reading for {_join(missing)}." if missing else ""
        ids = tuple(d.id for d in devices)
        if not holding:
            if len(missing) == len(devices):
                return Answer(f"I have no reading for {_join(missing)}.", ids)
            return Answer(
                f"No, none of the {kind} is {state}.{note}" if not every else f"None of the {kind} is {state}.{note}",
                ids,
            )
        prefix = "Yes: " if not every else f"{state.capitalize()}: "
        return Answer(f"{prefix}{_join(holding)}.{note}", ids)

    def _state(self, device: Device, state: str) -> tuple[bool, str, str] | None:
        """Return whether the device is in `state`, what it is, and how old the reading is if old."""
        caps = device.capabilities
        capability = _capability_for(device, state)
        if capability is None or capability not in caps:
            return None
        reading = self._readings(device.id, capability)
        if reading is None:
            return None
        now = _word(capability, reading.value, device)
        if now is None:
            return None
        if capability == "playback" and state in ("on", "off"):
            now = "on" if now == "playing" else "off"
        stamp = self._stamp(reading)
        wanted = "closed" if state == "shut" else state
        return now == wanted, now, stamp[2:]


def _capability_for(device: Device, state: str) -> str | None:
    caps = device.capabilities
    if state in ("locked", "unlocked"):
        return "lock"
    if state in ("playing", "paused", "stopped"):
        return "playback"
    if state == "muted":
        return "muted"
    if state in ("open", "closed", "shut"):
        for name in ("contact", "position", "lock"):
            if name in caps:
                return None if name == "lock" else name
        return "power" if device.type is DeviceType.WATER_VALVE else None
    if "power" in caps:
        return "power"
    return "playback" if "playback" in caps else None


def _word(capability: str, value: Value, device: Device) -> str | None:
    if capability == "contact":
        return "closed" if value is True else "open"  # contact true means the door or window is shut
    if capability == "position" and isinstance(value, int | float):
        return "open" if value > 0 else "closed"
    if capability == "power" and device.type is DeviceType.WATER_VALVE and isinstance(value, str):
        return "open" if value == "on" else "closed"
    if capability == "muted":
        return "muted" if value is True else "not muted"
    return str(value) if isinstance(value, str) else None


def _show(value: Value, unit: str) -> str:
    if isinstance(value, float):
        value = round(value, 1)
    return f"{value} {unit}".strip() if unit not in ("%",) else f"{value} %"


def _join(names: Sequence[str]) -> str:
    return ", ".join(names)
