"""zigbee2mqtt: `<topic>/set` and `<topic>` in zigbee2mqtt's own vocabulary and units."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sasha import adapters
from sasha.adapters import _convert
from sasha.errors import DecodeError
from sasha.home.capabilities import Value
from sasha.home.inventory import Device

# Capabilities whose zigbee2mqtt key differs from Sasha's name and carries no unit change.
_KEYS = {
    "target_temperature": "current_heating_setpoint",
    "hvac_mode": "system_mode",
    "power_usage": "power",
    "motion": "occupancy",  # PIR sensors report movement as "occupancy"
    "occupancy": "presence",  # mmWave presence sensors
    "leak": "water_leak",
}
_SPECIAL = frozenset({"power", "lock", "brightness", "color_temp", "color"})
_BRIGHTNESS_TOP = 254


def _key(capability: str, device: Device | None = None) -> str:
    # A device's own property name (from its exposes) beats the usual one.
    wire = device.wire.get(capability) if device is not None else None
    if wire is not None and wire.key:
        return wire.key
    return "state" if capability in ("power", "lock") else _KEYS.get(capability, capability)


def property_name(device: Device, capability: str) -> str:
    """Return the zigbee2mqtt property a device's capability travels under."""
    return _key(capability, device)


class Zigbee2MqttAdapter:
    """Speak zigbee2mqtt's JSON: ON/OFF, brightness 0-254, mireds, {"hex": ...}."""

    def command_topics(self, device: Device) -> list[str]:
        """Return `<topic>/set`."""
        return [f"{device.topic}/set"]

    def state_topics(self, device: Device) -> list[str]:
        """Return `<topic>`."""
        return [device.topic]

    def encode_command(self, device: Device, values: Mapping[str, Value]) -> list[adapters.Message]:
        """Translate values into one zigbee2mqtt set payload."""
        return [adapters.Message(f"{device.topic}/set", _convert.dump(_to_wire(values, device)))]

    def decode_state(self, device: Device, topic: str, payload: bytes) -> dict[str, Value]:
        """Read a zigbee2mqtt state payload."""
        data = _convert.json_object(payload)
        values = _from_wire(device, data)
        # zigbee2mqtt reports a lock's position as lock_state; "state" is the last command.
        lock_state = data.get("lock_state")
        if "lock" in device.capabilities and isinstance(lock_state, str):
            values["lock"] = lock_state.lower()
        return values

    def decode_command(self, device: Device, topic: str, payload: bytes) -> dict[str, Value]:
        """Read a zigbee2mqtt set payload as the device would."""
        return _from_wire(device, _convert.json_object(payload))

    def encode_state(self, device: Device, values: Mapping[str, Value]) -> list[adapters.Message]:
        """Report the state as zigbee2mqtt does, retained."""
        data = _to_wire(values, device)
        if "lock" in values:
            data["lock_state"] = str(values["lock"])
        return [adapters.Message(device.topic, _convert.dump(data), retain=True)]


def _to_wire(values: Mapping[str, Value], device: Device) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, value in values.items():
        if name == "power":
            data[_key(name, device)] = str(value).upper()
        elif name == "lock":
            data[_key(name, device)] = "LOCK" if value == "locked" else "UNLOCK"
        elif name == "brightness":
            data["brightness"] = _convert.percent_to_scale(float(value), _BRIGHTNESS_TOP)
        elif name == "color_temp":
            data["color_temp"] = _convert.kelvin_to_mireds(float(value))
        elif name == "color":
            data["color"] = {"hex": value}
        else:
            data[_key(name, device)] = value
    return data


def _from_wire(device: Device, data: dict[str, Any]) -> dict[str, Value]:
    values: dict[str, Value] = {}
    caps = device.capabilities
    state = data.get(_key("lock" if "lock" in caps else "power", device))
    if isinstance(state, str):
        word = state.upper()
        if "lock" in caps and word in ("LOCK", "UNLOCK"):
            values["lock"] = "locked" if word == "LOCK" else "unlocked"
        elif "power" in caps and word in ("ON", "OFF"):
            values["power"] = word.lower()
    if "brightness" in caps and _is_number(data.get("brightness")):
        values["brightness"] = _convert.scale_to_percent(data["brightness"], _BRIGHTNESS_TOP)
    if "color_temp" in caps and _is_number(data.get("color_temp")) and data["color_temp"] > 0:
        values["color_temp"] = _convert.mireds_to_kelvin(data["color_temp"])
    if "color" in caps and isinstance(data.get("color"), dict):
        values["color"] = _color(data["color"])
    for name in caps:
        if name in _SPECIAL:
            continue
        key = _key(name, device)
        if name == "illuminance" and key not in data:
            key = "illuminance_lux"  # older zigbee2mqtt releases
        if key in data:
            values[name] = data[key]
    return values


def _color(color: dict[str, Any]) -> str:
    if isinstance(color.get("hex"), str):
        return str(color["hex"]).lower()
    if {"r", "g", "b"} <= color.keys():
        return _convert.rgb_to_hex(color["r"], color["g"], color["b"])
    raise DecodeError("colour must carry 'hex' or 'r', 'g', 'b'")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
