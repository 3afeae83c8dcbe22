"""The long tail of the fast path: Home Assistant's English templates matched with hassil.

Home Assistant's sentence templates (`home-assistant-intents`) are matched against slot lists
built from the inventory: device names and aliases (with each device's HA domain as context,
which the templates check) and room names. Only the intents the fast path can act on are
loaded, and what hassil recognised is cached per sentence. A match becomes actions only when it
names its targets without doubt; anything else goes to the planner (questions come from the grammar).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from hassil import Intents, RecognizeResult, recognize_all
from hassil.filter import filter_intents
from hassil.intents import SlotList, TextSlotList
from home_assistant_intents import get_intents

from sasha.home import names
from sasha.home.actions import Action
from sasha.home.inventory import Device, DeviceType, Inventory
from sasha.home.validation import validate
from sasha.home.wording import say_changes
from sasha.understanding import vocabulary

_DOMAIN = {
    DeviceType.LIGHT: "light",
    DeviceType.SWITCH: "switch",
    DeviceType.PLUG: "switch",
    DeviceType.OVEN: "switch",
    DeviceType.FAN: "fan",
    DeviceType.THERMOSTAT: "climate",
    DeviceType.HEATER: "climate",
    DeviceType.COVER: "cover",
    DeviceType.GARAGE_DOOR: "cover",
    DeviceType.LOCK: "lock",
    DeviceType.ALARM: "alarm_control_panel",
    DeviceType.WATER_VALVE: "valve",
    DeviceType.MEDIA_PLAYER: "media_player",
    DeviceType.SENSOR: "sensor",
}
# Sentences hassil has already read, per home; a home hears the same few commands over and over.
_CACHE = 512


@dataclass(frozen=True, slots=True)
class Match:
    """An explicit command resolved to actions, or refused with a reason."""

    intent: str
    actions: tuple[Action, ...]
    summary: str
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class Question:
    """The command names a kind of device the home has several of; the answer picks among `candidates`.

    `words` is the unclear phrase; `text` is the normalised sentence with a mark where that phrase
    stood, or without one when it named no target at all ("pause" with two players).
    """

    message: str
    candidates: tuple[str, ...]
    words: str = ""
    text: str = ""


@functools.cache
def _intents() -> Intents:
    data = get_intents("en")
    if data is None:
        raise RuntimeError("home-assistant-intents has no English sentences")
    # Only the intents the fast path can turn into actions: the others cost matching time for nothing.
    return filter_intents(Intents.from_dict(data), intent_names=set(_INTENTS))


class Templates:
    """The long tail: Home Assistant's English templates, with slot lists from the inventory."""

    def __init__(self, home: Inventory) -> None:
        self._home = home
        # What hassil recognised depends only on the text and this home's slot lists.
        self._cache: dict[str, list[RecognizeResult]] = {}
        names: list[tuple[str, Any, dict[str, Any]]] = []
        taken: set[str] = set()
        for device in home.devices.values():
            context = {"domain": _DOMAIN[device.type]}
            for label in {device.name.lower(), device.id.replace("_", " "), *(a.lower() for a in device.aliases)}:
                names.append((label, device.id, context))
                taken.add(label)
        kinds: dict[str, list[Device]] = {}
        for device in home.devices.values():
            for word in vocabulary.kinds_of(device):  # "the fan" means the fan when the home has only one
                kinds.setdefault(word, []).append(device)
        for word, devices in kinds.items():
            if len(devices) == 1 and word not in taken:
                device = devices[0]
                names.append((word, device.id, {"domain": _DOMAIN[device.type]}))
        areas: list[tuple[str, Any, dict[str, Any]]] = [(r.name.lower(), r.id, {}) for r in home.rooms.values()]
        areas += [(room.id.replace("_", " "), room.id, {}) for room in home.rooms.values()]
        empty = TextSlotList.from_tuples([], allow_template=False)
        self._lists: dict[str, SlotList] = {
            "name": TextSlotList.from_tuples(names, allow_template=False),
            "area": TextSlotList.from_tuples(areas, allow_template=False),
            "floor": empty,
        }

    def match(self, text: str) -> Match | None:
        """Resolve an explicit command, ask about an ambiguous one, or return None for the planner."""
        resolved: dict[tuple[Any, ...], Match] = {}
        by_name = False
        for result in self._recognize(text):
            if _bare(text, result):
                continue  # HA's "[<the>] {name}" turns a device on by its name alone: never act without a verb
            match = self._resolve(result)
            if match is None:
                continue
            named = "name" in result.entities
            if named and not by_name:
                # A device named outright beats reading its name as a room plus a kind.
                resolved.clear()
                by_name = True
            if named or not by_name:
                key = (
                    match.intent,
                    tuple((a.device, tuple(sorted(a.set.items()))) for a in match.actions),
                    match.problem,
                )
                resolved[key] = match
        if len(resolved) == 1:
            return next(iter(resolved.values()))
        return None  # none, or several readings of one sentence: not for the fast path to choose

    def _recognize(self, text: str) -> list[RecognizeResult]:
        key = " ".join(text.lower().split())
        found = self._cache.get(key)
        if found is None:
            found = list(recognize_all(text, _intents(), slot_lists=self._lists))
            if len(self._cache) >= _CACHE:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = found
        return found

    def _targets(self, result: RecognizeResult, wanted: Iterable[str]) -> list[Device]:
        entities = result.entities
        if "name" in entities:
            device = self._home.get(str(entities["name"].value))
            return [device] if device is not None else []
        if "area" not in entities:
            return []
        room = str(entities["area"].value)
        domain = entities["domain"].value if "domain" in entities else None
        devices = self._home.in_room(room)
        if domain is not None:
            devices = [d for d in devices if _DOMAIN[d.type] == domain]
        elif "device_class" in entities:
            devices = [d for d in devices if _DOMAIN[d.type] == "cover"]
        else:
            # "turn off the kitchen" names no kind of device: too broad to do without asking.
            needs = set(wanted)
            if not needs or needs == {"power"}:
                return []
        return [d for d in devices if set(wanted) & set(d.writable)]

    def _resolve(self, result: RecognizeResult) -> Match | None:
        intent = result.intent.name
        values = {k: v.value for k, v in result.entities.items()}
        plan = _INTENTS.get(intent)
        if plan is None:
            return None
        wanted, build = plan
        targets = self._targets(result, wanted)
        if not targets:
            return None
        actions = []
        for device in targets:
            change = build(device, values)
            if change is None:
                return Match(intent, (), "", f"{device.name} cannot do that")
            checked = validate(self._home, device.id, change)
            if not checked.ok:
                return Match(intent, (), "", "; ".join(p.message for p in checked.problems))
            actions.append(Action(device.id, checked.values, "as asked"))
        summary = say_changes([(self._home.devices[a.device], a.set) for a in actions])
        return Match(intent, tuple(actions), summary)


def _bare(text: str, result: RecognizeResult) -> bool:
    """Say whether the sentence is nothing but the names hassil matched (no verb, no value)."""
    said = f" {names.words(text)} "
    for entity in result.entities.values():
        spoken = names.words(str(entity.text))
        if spoken:
            said = said.replace(f" {spoken} ", " ", 1)
    return not (set(said.split()) - names.FILLER)


def _number(values: dict[str, Any], key: str) -> float | None:
    value = values.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _turn(on: bool) -> Any:
    def build(device: Device, values: dict[str, Any]) -> dict[str, Any] | None:
        return vocabulary.switch(device, on)

    return build


def _light(device: Device, values: dict[str, Any]) -> dict[str, Any] | None:
    change: dict[str, Any] = {}
    brightness = _number(values, "brightness")
    if brightness is not None:
        change["brightness"] = round(brightness)
    if "color" in values:
        change["color"] = str(values["color"])
    kelvin = _number(values, "temperature")
    if kelvin is not None:
        change["color_temp"] = round(kelvin)
    if not change or not set(change) <= set(device.capabilities):
        return None
    if "power" in device.capabilities and change.get("brightness", 1) > 0:
        change["power"] = "on"  # setting a level means the light should be on, as in HA
    return change


def _one(capability: str, entity: str, *, power_on: bool = False) -> Any:
    def build(device: Device, values: dict[str, Any]) -> dict[str, Any] | None:
        number = _number(values, entity)
        if number is None or capability not in device.capabilities:
            return None
        change: dict[str, Any] = {capability: number if capability == "target_temperature" else round(number)}
        if power_on and "power" in device.capabilities:
            change["power"] = "on"
        return change

    return build


def _playback(state: str) -> Any:
    def build(device: Device, values: dict[str, Any]) -> dict[str, Any] | None:
        return {"playback": state} if "playback" in device.capabilities else None

    return build


# intent → (capabilities it may touch, how to build the change for one device)
_INTENTS: dict[str, tuple[tuple[str, ...], Any]] = {
    "HassTurnOn": (("power", "position", "playback"), _turn(on=True)),
    "HassTurnOff": (("power", "position", "playback"), _turn(on=False)),
    "HassLightSet": (("brightness", "color", "color_temp"), _light),
    "HassClimateSetTemperature": (("target_temperature",), _one("target_temperature", "temperature")),
    "HassSetPosition": (("position",), _one("position", "position")),
    "HassFanSetSpeed": (("fan_speed",), _one("fan_speed", "percentage", power_on=True)),
    "HassSetVolume": (("volume",), _one("volume", "volume_level")),
    "HassMediaPause": (("playback",), _playback("paused")),
    "HassMediaUnpause": (("playback",), _playback("playing")),
}
