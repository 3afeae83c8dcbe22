"""The safe direction of sensitive devices: the changes that only leave the home safer.

Locking a lock, closing a garage door or a water valve, turning an oven off and arming an
alarm. The policy runs such changes without a yes, and a routine may make them; every other
change of a sensitive device needs a person.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sasha.home.inventory import Device, DeviceType

# The values that leave each kind of sensitive device safer than before. A user-marked
# sensitive device of another type has no safe direction: every change of it waits.
_SAFE: dict[DeviceType, dict[str, Any]] = {
    DeviceType.LOCK: {"lock": "locked"},
    DeviceType.GARAGE_DOOR: {"position": 0, "power": "off"},
    DeviceType.WATER_VALVE: {"position": 0, "power": "off"},
    DeviceType.OVEN: {"power": "off"},
    DeviceType.ALARM: {"power": "on"},
}


def safe_direction(device: Device, values: Mapping[str, Any]) -> bool:
    """Tell whether a change only moves a device towards safety (lock, close, oven off, arm)."""
    safe = _SAFE.get(device.type)
    if safe is None or not values:
        return False
    return all(name in safe and value == safe[name] for name, value in values.items())
