"""Cheap local relevance: which devices a request names, by room, name or alias.

A request that names rooms or devices is planned over those rooms' devices only (plus the
sensors anywhere in the home whose readings bear on the goal): a small prompt is what a slow
local model can answer in seconds. A vague goal names nothing and keeps the whole home (or,
in a large home, the selection call).
"""

from __future__ import annotations

from sasha.home import names
from sasha.home.inventory import Device, Inventory

# Words of a goal → the sensor readings that tell whether (and how much) it is needed.
_SENSOR_WORDS: dict[str, tuple[str, ...]] = {
    "temperature": (
        "cold", "chilly", "freezing", "warm", "warmer", "hot", "heat", "heating", "heatwave", "cool", "cooler",
        "temperature", "degrees", "cosy", "cozy",
    ),
    "humidity": ("humid", "humidity", "steam", "steamy", "damp", "muggy", "dry", "mould", "mold"),
    "illuminance": ("dark", "darker", "bright", "brighter", "light", "lights", "dim", "sunny", "sun"),
    "co2": ("stuffy", "air", "fresh", "ventilate", "co2"),
    "power_usage": ("energy", "power", "electricity", "save", "saving", "bill", "consumption"),
    "energy": ("energy", "electricity", "save", "saving", "bill", "consumption"),
    "contact": ("open", "opened", "closed", "door", "doors", "window", "windows", "leaving", "away", "secure"),
    "motion": ("someone", "anyone", "nobody", "motion", "movement", "presence", "home", "away", "leaving"),
    "occupancy": ("someone", "anyone", "nobody", "occupied", "presence", "home", "away", "leaving"),
}  # fmt: skip


def mentioned(inventory: Inventory, text: str) -> list[Device]:
    """Return the devices of the rooms and floors the text names, and the devices it names, in inventory order.

    Rooms are named by id, name or alias ("the lounge"), floors by their name ("upstairs"),
    devices by id, name or alias, each as whole words in the same normal form the fast path uses.
    """
    said = names.normal(text)
    rooms = {room.id for label, room in inventory.room_labels().items() if names.contains(said, label)}
    rooms.update(r.id for floor, on in inventory.floors.items() if names.contains(said, floor) for r in on)
    chosen = {d.id for d in inventory.devices.values() if d.room in rooms}
    for device in inventory.devices.values():
        if any(names.contains(said, label) for label in (device.name, device.id, *device.aliases)):
            chosen.add(device.id)
    return [d for d in inventory.devices.values() if d.id in chosen]


def sensors_for(inventory: Inventory, text: str) -> list[Device]:
    """Return the read-only devices whose readings bear on the goal (humidity for "too humid"…)."""
    said = set(names.normal(text).split())
    readings = {name for name, words in _SENSOR_WORDS.items() if said.intersection(words)}
    return [d for d in inventory.devices.values() if not d.writable and readings.intersection(d.capabilities)]


def focus(inventory: Inventory, text: str) -> list[Device]:
    """Return what a request that names rooms or devices is about; [] for a vague goal.

    That is every device of the named rooms and of the rooms of the named devices, plus the
    sensors elsewhere that bear on the goal when those rooms cannot read it themselves ("warm
    up the kitchen" in a kitchen without a thermometer), in inventory order.
    """
    named = mentioned(inventory, text)
    if not named:
        return []
    rooms = {d.room for d in named}
    chosen = {d.id for d in inventory.devices.values() if d.room in rooms}
    # What the room itself reads: its sensors and thermostats (an oven's temperature is not the room's).
    read_here = {
        c
        for d in inventory.devices.values()
        if d.id in chosen and (not d.writable or d.type.value == "thermostat")
        for c in d.capabilities
    }
    for sensor in sensors_for(inventory, text):
        if not read_here.issuperset(_readings(sensor, text)):
            chosen.add(sensor.id)
    return [d for d in inventory.devices.values() if d.id in chosen]


def _readings(sensor: Device, text: str) -> set[str]:
    """Return the readings of `sensor` that bear on the goal."""
    said = set(names.normal(text).split())
    return {name for name in sensor.capabilities if said.intersection(_SENSOR_WORDS.get(name, ()))}
