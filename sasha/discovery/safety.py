"""Which found devices must wait for a yes: by the kind announced, then by the words used for them.

A device that can unlock, open a garage door, a gate or a door, turn on the water, disarm an
alarm or heat food is written `sensitive: true`, with a comment saying why. The announced kind
decides first (a lock, a valve, a garage cover: the parsers mark those), then the name, then
the other words the announcement uses (a model, zigbee2mqtt's description). A word counts
unless a harmless thing follows it: "Garage light" is a light in the garage, but "Hob plug"
powers the hob. Wrongly marking a device only costs a yes; missing one costs the home.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from sasha.discovery.found import Found, Hazard, Sensitive
from sasha.home.capabilities import CAPABILITIES
from sasha.home.inventory import SENSITIVE_TYPES, DeviceType


@dataclass(frozen=True, slots=True)
class _Rule:
    """Words (or two-word phrases) that name a hazard, and what a device of a found type then really is."""

    hazard: Hazard
    words: frozenset[str]
    becomes: Mapping[str, DeviceType]
    not_after: frozenset[str] = frozenset()  # words that, earlier in the text, mean another thing


_OVEN = DeviceType.OVEN
# Tried in this order: "Gate lock" unlocks, "Garage door" opens a garage.
_RULES = (
    _Rule(
        Hazard.HEAT_FOOD,
        frozenset({"oven", "ovens", "stove", "stoves", "stovetop", "cooker", "cooktop", "hob", "hobs", "range"}),
        {"switch": _OVEN, "plug": _OVEN, "thermostat": _OVEN, "heater": _OVEN},
    ),
    _Rule(Hazard.UNLOCK, frozenset({"lock", "locks", "deadbolt"}), {}, frozenset({"child"})),
    _Rule(Hazard.OPEN_GARAGE, frozenset({"garage", "gate", "gates"}), {"cover": DeviceType.GARAGE_DOOR}),
    _Rule(
        Hazard.WATER,
        frozenset(
            {"valve", "valves", "stopcock", "shutoff", "water main", "water mains", "main water", "water supply"}
        ),
        # The inventory's water valve is power, "on" meaning open: what a relay on a valve does.
        {"switch": DeviceType.WATER_VALVE, "plug": DeviceType.WATER_VALVE},
        # A radiator's valve lets heating water through, not the home's supply.
        frozenset({"radiator", "thermostatic", "trv", "heating"}),
    ),
    _Rule(Hazard.DISARM, frozenset({"alarm", "alarms"}), {}),
    _Rule(Hazard.OPEN_DOOR, frozenset({"door", "doors"}), {}),
)
# Things named after a sensitive one that cannot themselves unlock, open or heat: "Oven light",
# "Range hood", "Garage door sensor", "Valve position".
_HARMLESS = frozenset(
    {
        "light",
        "lights",
        "lamp",
        "lamps",
        "bulb",
        "bulbs",
        "led",
        "leds",
        "strip",
        "hood",
        "extender",
        "fan",
        "fans",
        "sensor",
        "sensors",
        "detector",
        "clock",
        "blind",
        "blinds",
        "curtain",
        "curtains",
        "shade",
        "shades",
        "camera",
        "speaker",
        "display",
        "thermometer",
        "bell",
        "chime",
        "fridge",
        "freezer",
        "heater",
        "radiator",
        "position",
        "status",
        "battery",
    }
)
# What each type the inventory already holds sensitive can do (home/inventory.py SENSITIVE_TYPES).
TYPE_HAZARDS: Mapping[str, Hazard] = {
    DeviceType.LOCK: Hazard.UNLOCK,
    DeviceType.GARAGE_DOOR: Hazard.OPEN_GARAGE,
    DeviceType.WATER_VALVE: Hazard.WATER,
    DeviceType.ALARM: Hazard.DISARM,
    DeviceType.OVEN: Hazard.HEAT_FOOD,
}
# Lights and media players cannot unlock, open or heat whatever they are called.
_NEVER_BY_WORDS = frozenset({DeviceType.LIGHT, DeviceType.MEDIA_PLAYER})


def judge(found: Found) -> None:
    """Decide whether a found device is sensitive and why; give it the type its words say (an oven)."""
    if found.sensitive is None and _actuates(found):
        found.sensitive = _by_words(found)
    if found.sensitive is None and found.type in SENSITIVE_TYPES:
        found.sensitive = Sensitive(TYPE_HAZARDS[found.type], f"announced as a {found.type.replace('_', ' ')}")


def _actuates(found: Found) -> bool:
    if found.type in _NEVER_BY_WORDS:
        return False
    return any(CAPABILITIES[name].writable for name in found.capabilities if name in CAPABILITIES)


def _by_words(found: Found) -> Sensitive | None:
    for whose, text in [("its name", found.name), *found.hints]:
        for rule in _RULES:
            word = _word(text, rule)
            if word is not None:
                becomes = rule.becomes.get(found.type)
                if becomes is not None:
                    found.type = becomes.value  # Found speaks the file's words, plain strings
                return Sensitive(rule.hazard, f"{whose} says '{word}'")
    return None


def _word(text: str, rule: _Rule) -> str | None:
    # The first word of `text` that names the rule's hazard, unless what follows it is harmless.
    words = re.findall(r"[a-z0-9]+", text.lower())
    for start in range(len(words)):
        for size in (2, 1):
            phrase = " ".join(words[start : start + size])
            if start + size > len(words) or phrase not in rule.words:
                continue
            if _HARMLESS.isdisjoint(words[start + size :]) and rule.not_after.isdisjoint(words[:start]):
                return phrase
    return None
