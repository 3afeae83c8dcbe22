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

from sasha.home import names
from sasha.home.capabilities import Value
from sasha.home.inventory import Device, DeviceType, Inventory, Room
from sasha.home.readings import Reading
from sasha.understanding import grammar, vocabulary

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
# "what is the temperature", "how warm is it": no place said; `here` or every room.
_ASK_ANYWHERE = re.compile(
    rf"^(?:(?:what is|tell me|how is|hows|show me) (?P<cap>{_CAP})(?: level)?"
    r"|how (?P<adj>warm|hot|cold|cool|humid) is it)$"
)
_ANYTHING = re.compile(
    r"^(?:is|are) (?:there )?(?:anything|something|any device|any devices) (?P<st>on|open|unlocked|playing)"
    r"(?: (?:in |on |at )?(?P<p>.+))?$"
)
_PLAYING = re.compile(r"^(?:what is|whats) (?:playing|on)(?: (?:on|in) (?P<t>.+))?$")
_BATTERIES = re.compile(
    r"^(?:(?:what are|what is|how are|show me|tell me|check) )?(?:battery levels?|batteries)"
    r"(?: (?:of|in|on) (?P<t>.+))?$"
    r"|^(?:which|what|are any|is any|any) (?:batteries|battery|devices?) (?:are |is )?"
    r"(?:low|running low)(?: on battery)?$"
)
LOW_BATTERY = 20
"""A battery at or below this many percent is called low."""
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

    def __init__(
        self,
        home: Inventory,
        readings: Readings,
        *,
        clock: Callable[[], float] = time.time,
        names: grammar.Vocabulary | None = None,
    ) -> None:
        """`names` is the home's vocabulary when the caller has built it already (a large home's takes a while)."""
        self._home = home
        self._words = names or grammar.Vocabulary(home)
        # "outside" reads the rooms whose names say they are outdoors.
        self._outdoors = tuple(r for r in home.rooms.values() if _outdoor(r))
        self._readings = readings
        self._clock = clock

    def answer(self, said: str, here: Room | None = None) -> Answer | Ask | None:
        """Answer a normalised question, ask which device it means, or return None (not a question read here).

        `here` is the room the question comes from: "what is the temperature" then means there.
        """
        if found := _ASK_ANYWHERE.match(said):
            capability = _READINGS[found.group("cap")] if found.group("cap") else _ADJECTIVES[found.group("adj")]
            if here is not None:
                return self._reading(grammar.label(here.name), capability)
            return self._everywhere(capability, said)
        if found := _ANYTHING.match(said):
            return self._anything(found.group("st"), found.group("p"))
        if found := _PLAYING.match(said):
            return self._playing(found.group("t"))
        if found := _BATTERIES.match(said):
            return self._batteries(found.group("t"), low=found.group("t") is None and "low" in said)
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

    def _everywhere(self, capability: str, said: str) -> Answer | Ask:
        """Give a reading room by room, or ask which room when the home has too many to list."""
        label = capability.replace("_", " ")
        rooms: dict[str, list[str]] = {}
        sensors: list[Device] = []
        for device in self._home.devices.values():
            reading = self._readings(device.id, capability) if capability in device.capabilities else None
            if reading is None:
                continue
            sensors.append(device)
            room = self._home.rooms[device.room].name if device.room in self._home.rooms else device.room
            unit = device.capabilities[capability].info.unit
            rooms.setdefault(room, []).append(_show(reading.value, unit) + self._stamp(reading))
        if not rooms:
            return Answer(f"I have no reading for the {label} anywhere in this home.")
        if len(rooms) > _ROOMS_LISTED:
            # The answer ("in the kitchen", a sensor's name) completes the question with one sensor.
            text = f"{said} {'in' if said.startswith('how') else 'of'} {grammar.TARGET}"
            example = next(iter(rooms)).lower()
            # One sensor per room to choose from: "in the study" then names exactly one.
            per_room: dict[str, Device] = {}
            for device in sorted(sensors, key=lambda d: d.type is not DeviceType.SENSOR):
                per_room.setdefault(device.room, device)
            return Ask(
                f"The {label} where? I have readings in {len(rooms)} rooms: say one (“in the {example}”).",
                tuple(d.id for d in per_room.values()),
                f"{label} sensor",
                text,
            )
        parts = [f"{room} {', '.join(values)}" for room, values in rooms.items()]
        return Answer(f"The {label}: {'; '.join(parts)}.", tuple(d.id for d in sensors))

    def _anything(self, state: str, place: str | None) -> Answer | None:
        """Say which devices of a place (or the home) are on, open, unlocked or playing."""
        pool = self._in(place)
        if pool is None:
            return None
        devices, where = pool
        holding: list[str] = []
        for device in devices:
            if state == "on" and "power" not in device.writable and "playback" not in device.capabilities:
                continue  # sensors are neither on nor off
            found = self._state(device, state)
            if found is not None and found[0]:
                holding.append(device.name + (f" (as of {found[2]})" if found[2] else ""))
        if not holding:
            return Answer(f"No, nothing{where} is {state} that I know of.", tuple(d.id for d in devices))
        return Answer(f"Yes: {_join(holding)}.", tuple(d.id for d in devices))

    def _playing(self, words: str | None) -> Answer | None:
        """Say what the players (or the one named) are playing."""
        players = [d for d in self._home.devices.values() if "playback" in d.capabilities]
        if words is not None:
            target = self._words.target(words)
            if not isinstance(target, grammar.Target) or not target.devices:
                return None
            players = [d for d in target.devices if "playback" in d.capabilities]
        if not players:
            return Answer("There is no player in this home that I know of.")
        playing = []
        for device in players:
            reading = self._readings(device.id, "playback")
            if reading is not None and reading.value == "playing":
                source = self._readings(device.id, "source") if "source" in device.capabilities else None
                playing.append(device.name + (f" ({source.value})" if source is not None else ""))
        if not playing:
            return Answer("Nothing is playing that I know of.", tuple(d.id for d in players))
        return Answer(f"Playing: {_join(playing)}.", tuple(d.id for d in players))

    def _batteries(self, words: str | None, *, low: bool) -> Answer | None:
        """List battery levels, lowest first, or only the low ones."""
        pool = self._in(words) if words is not None else (list(self._home.devices.values()), "")
        if pool is None:
            named = self._words.devices.get(words or "")
            if not named or len(named) != 1:
                return None
            pool = (named, "")
        devices, where = pool
        levels: list[tuple[float, str]] = []
        for device in devices:
            reading = self._readings(device.id, "battery") if "battery" in device.capabilities else None
            if reading is not None and isinstance(reading.value, int | float):
                shown = f"{device.name} {_show(reading.value, '%')}{self._stamp(reading)}"
                levels.append((float(reading.value), shown))
        if not levels:
            return Answer(f"I have no battery reading{where}.")
        levels.sort()
        if low:
            lows = [shown for value, shown in levels if value <= LOW_BATTERY]
            if not lows:
                return Answer(f"No battery is low; the lowest: {levels[0][1]}.")
            return Answer(f"Low: {_join(lows)}.")
        return Answer(f"Battery levels{where}: {_join([shown for _, shown in levels])}.")

    def _in(self, words: str | None) -> tuple[list[Device], str] | None:
        """Return a place's devices and how to say where (the whole home when no place is said)."""
        if words is None:
            return list(self._home.devices.values()), ""
        if words in _OUTSIDE:
            return [d for r in self._outdoors for d in self._home.in_room(r.id)], " outside"
        return self._words.devices_at(words)

    def _reading(self, words: str, capability: str) -> Answer | None:
        if words in _OUTSIDE:
            if not self._outdoors:
                return Answer(
                    f"I have no reading for the {capability.replace('_', ' ')} outside: no room here is outdoors."
                )
            place: tuple[tuple[Room, ...], str | None] | None = (self._outdoors, None)
        else:
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


_ROOMS_LISTED = 8
_OUTSIDE = frozenset({"outside", "outdoors", "out there"})


def _outdoor(room: Room) -> bool:
    """Tell whether a room is outdoors by its words ("Garden", "Front yard", "patio")."""
    said = {w for n in (room.id, room.name, *room.aliases) for w in names.words(n).split()}
    return bool(said & vocabulary.OUTDOOR_WORDS)


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
