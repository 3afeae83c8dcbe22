"""Synthetic homes of any size, for benchmarks and tests of large-home behaviour."""

from __future__ import annotations

import random
from typing import Any

from sasha.home import inventory
from sasha.home.inventory import Inventory

_ROOM_KINDS = ["living room", "bedroom", "kitchen", "bathroom", "office", "hallway", "guest room", "garage"]
# (type, protocol, capabilities) templates, roughly in the mix of a real home.
_TEMPLATES: list[tuple[str, str, dict[str, Any]]] = [
    ("light", "zigbee2mqtt", {"power": {}, "brightness": {"min": 1, "max": 100}, "color_temp": {}}),
    ("light", "generic", {"power": {}, "brightness": {"min": 1, "max": 100}}),
    ("light", "tasmota", {"power": {}, "brightness": {}, "color": {}}),
    ("plug", "homeassistant", {"power": {}, "power_usage": {}, "energy": {}}),
    ("sensor", "zigbee2mqtt", {"temperature": {}, "humidity": {}}),
    ("sensor", "homeassistant", {"motion": {}, "illuminance": {}, "battery": {}}),
    (
        "thermostat",
        "generic",
        {"target_temperature": {"min": 5, "max": 30, "step": 0.5}, "hvac_mode": {}, "temperature": {}},
    ),
    ("cover", "zigbee2mqtt", {"position": {}}),
    ("fan", "homeassistant", {"power": {}, "fan_speed": {}}),
    ("media_player", "generic", {"power": {}, "volume": {}, "playback": {}}),
]


def home_data(devices: int, *, seed: int = 0) -> dict[str, Any]:
    """Return inventory data for a home with `devices` devices spread over rooms of ~8."""
    rng = random.Random(seed)  # noqa: S311  (test data)
    room_count = max(1, devices // 8)
    rooms = []
    for index in range(room_count):
        kind = _ROOM_KINDS[index % len(_ROOM_KINDS)]
        number = index // len(_ROOM_KINDS) + 1
        rooms.append({"id": f"{kind.replace(' ', '_')}_{number}", "name": f"{kind.capitalize()} {number}"})
    items = []
    for index in range(devices):
        room = rooms[index % room_count]
        kind, protocol, capabilities = _TEMPLATES[rng.randrange(len(_TEMPLATES))]
        items.append(
            {
                "id": f"{room['id']}_{kind}_{index}",
                "name": f"{room['name']} {kind.replace('_', ' ')} {index}",
                "room": room["id"],
                "type": kind,
                "protocol": protocol,
                "capabilities": capabilities,
            }
        )
    return {
        "home": {"name": f"Synthetic home of {devices}", "base_topic": "synthetic"},
        "rooms": rooms,
        "devices": items,
    }


def home(devices: int, *, seed: int = 0) -> Inventory:
    """Return a checked synthetic home."""
    return inventory.from_dict(home_data(devices, seed=seed))
