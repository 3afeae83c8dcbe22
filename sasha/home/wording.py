"""Changes of devices said in words, for replies: "Front door lock locked", "Blinds 30 % open"."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sasha.home.inventory import Device, DeviceType

# Words that already say the whole change; other values are shown with their capability.
_WORDS: dict[str, dict[Any, str]] = {
    "lock": {"locked": "locked", "unlocked": "unlocked"},
    "playback": {"playing": "playing", "paused": "paused", "stopped": "stopped"},
    "muted": {True: "muted", False: "unmuted"},
    "track": {"next": "next track", "previous": "previous track"},
}
_PERCENT = {"brightness": "brightness", "fan_speed": "fan speed", "volume": "volume"}


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def say_value(device: Device, capability: str, value: Any) -> str:
    """Say one capability's new value: "on", "armed", "closed", "brightness 30 %", "21 °C"."""
    if capability == "power":
        if device.type is DeviceType.ALARM:
            return "armed" if value == "on" else "disarmed"
        return str(value)
    if capability in _WORDS and value in _WORDS[capability]:
        return _WORDS[capability][value]
    if capability == "position":
        return "closed" if value == 0 else "open" if value == 100 else f"{_number(value)} % open"
    if capability in _PERCENT:
        return f"{_PERCENT[capability]} {_number(value)} %"
    if capability == "target_temperature":
        return f"set to {_number(value)} °C"
    if capability == "color_temp":
        return f"{_number(value)} K"
    if capability == "hvac_mode":
        return f"mode {value}"
    return f"{capability.replace('_', ' ')} {value}"


def _said(device: Device, values: Mapping[str, Any]) -> str:
    # Power first: "on, brightness 30 %" rather than "brightness 30 %, on".
    names = sorted(values, key=lambda name: name != "power")
    return ", ".join(say_value(device, name, values[name]) for name in names)


def say_changes(changes: Sequence[tuple[Device, Mapping[str, Any]]]) -> str:
    """Say changes of devices, grouping devices told the same: "Bedroom light and Bedside lamp off; Oven off"."""
    groups: dict[str, list[str]] = {}
    for device, values in changes:
        groups.setdefault(_said(device, values), []).append(device.name)
    return "; ".join(f"{_names(names)} {said}" for said, names in groups.items())


def _names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
