"""Home Assistant MQTT entities: JSON-schema lights, plain ON/OFF and LOCK/UNLOCK, per-field topics.

Lights use HA's MQTT JSON schema on `command_topic`/`state_topic`. Other devices put
their main capability (power, else lock) on those topics as plain words, and every other
capability on its own pair of topics, `<topic>/<field>/set` and `<topic>/<field>`, the way
HA's MQTT climate, fan and cover entities split theirs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sasha import adapters
from sasha.adapters import _convert
from sasha.errors import DecodeError
from sasha.home.capabilities import Value, ValueKind
from sasha.home.inventory import Device, DeviceType

# HA's names for the per-field topics of climate, fan and media entities; `muted` travels as
# ON/OFF on `<topic>/muted[/set]`, `track` as next/previous on `<topic>/track/set` only.
_FIELDS = {
    "target_temperature": "temperature",
    "hvac_mode": "mode",
    "fan_speed": "percentage",
    "power_usage": "power",
    # HA climate reports the room's reading on current_temperature; "temperature" is the target.
    "temperature": "current_temperature",
}
_LIGHT_JSON = frozenset({"power", "brightness", "color_temp", "color"})
_BRIGHTNESS_TOP = 255


def _command_topic(device: Device) -> str:
    return device.command_topic or f"{device.topic}/set"


def _state_topic(device: Device) -> str:
    return device.state_topic or f"{device.topic}/state"


def _main(device: Device) -> str | None:
    """Return the capability carried on command_topic/state_topic as a plain word."""
    for name in ("power", "lock"):
        if name in device.capabilities:
            return name
    return None


def _json_light(device: Device) -> bool:
    return device.type is DeviceType.LIGHT


def _field(capability: str) -> str:
    return _FIELDS.get(capability, capability)


def _on_main_topics(device: Device, capability: str) -> bool:
    if _json_light(device):
        return capability in _LIGHT_JSON
    return capability == _main(device)


class HomeAssistantAdapter:
    """Drive devices exposed the way Home Assistant's MQTT integration expects."""

    def command_topics(self, device: Device) -> list[str]:
        """Return command_topic and the per-field command topics."""
        topics = [_command_topic(device)] if _json_light(device) or _main(device) else []
        topics += [
            f"{device.topic}/{_field(name)}/set"
            for name, cap in device.capabilities.items()
            if cap.writable and not _on_main_topics(device, name)
        ]
        return topics

    def state_topics(self, device: Device) -> list[str]:
        """Return state_topic and the per-field state topics."""
        topics = [_state_topic(device)] if _json_light(device) or _main(device) else []
        topics += [
            f"{device.topic}/{_field(n)}"
            for n, cap in device.capabilities.items()
            if not _on_main_topics(device, n) and not cap.info.write_only
        ]
        return topics

    def encode_command(self, device: Device, values: Mapping[str, Value]) -> list[adapters.Message]:
        """Translate values into HA MQTT command messages."""
        messages = []
        if _json_light(device):
            light = {k: v for k, v in values.items() if k in _LIGHT_JSON}
            if light:
                messages.append(adapters.Message(_command_topic(device), _convert.dump(_light_to_wire(light))))
        for name, value in values.items():
            if not _on_main_topics(device, name):
                messages.append(adapters.Message(f"{device.topic}/{_field(name)}/set", _plain(name, value)))
            elif not _json_light(device):
                messages.append(adapters.Message(_command_topic(device), _main_command(name, value)))
        return messages

    def decode_state(self, device: Device, topic: str, payload: bytes) -> dict[str, Value]:
        """Read a state message from whichever of the device's state topics it came on."""
        if topic == _state_topic(device):
            if _json_light(device):
                return _light_from_wire(_convert.json_object(payload))
            main = _main(device)
            word = _convert.text(payload).upper()
            if main == "power" and word in ("ON", "OFF"):
                return {"power": word.lower()}
            if main == "lock" and word in ("LOCKED", "UNLOCKED"):
                return {"lock": word.lower()}
            raise DecodeError(f"unexpected {main} state {word[:20]!r}")
        return _per_field(device, topic, payload, suffix="")

    def decode_command(self, device: Device, topic: str, payload: bytes) -> dict[str, Value]:
        """Read a command message as the device would."""
        if topic == _command_topic(device):
            if _json_light(device):
                return _light_from_wire(_convert.json_object(payload))
            word = _convert.text(payload).upper()
            if word in ("ON", "OFF"):
                return {"power": word.lower()}
            if word in ("LOCK", "UNLOCK"):
                return {"lock": "locked" if word == "LOCK" else "unlocked"}
            raise DecodeError(f"unexpected command {word[:20]!r}")
        return _per_field(device, topic, payload, suffix="/set")

    def encode_state(self, device: Device, values: Mapping[str, Value]) -> list[adapters.Message]:
        """Publish each state topic, retained."""
        messages = []
        if _json_light(device):
            light = {k: v for k, v in values.items() if k in _LIGHT_JSON}
            messages.append(adapters.Message(_state_topic(device), _convert.dump(_light_to_wire(light)), retain=True))
        for name, value in values.items():
            if not _on_main_topics(device, name):
                messages.append(adapters.Message(f"{device.topic}/{_field(name)}", _plain(name, value), retain=True))
            elif not _json_light(device):
                word = str(value).upper()
                messages.append(adapters.Message(_state_topic(device), word.encode(), retain=True))
        return messages


def _main_command(name: str, value: Value) -> bytes:
    if name == "lock":
        return b"LOCK" if value == "locked" else b"UNLOCK"
    return str(value).upper().encode()


def _plain(name: str, value: Value) -> bytes:
    if isinstance(value, bool):
        return b"ON" if value else b"OFF"  # HA binary_sensor defaults
    if name == "color_temp" and isinstance(value, int | float):
        return str(_convert.kelvin_to_mireds(value)).encode()
    return str(value).encode()


def _per_field(device: Device, topic: str, payload: bytes, *, suffix: str) -> dict[str, Value]:
    for name, cap in device.capabilities.items():
        if _on_main_topics(device, name) or topic != f"{device.topic}/{_field(name)}{suffix}":
            continue
        kind = cap.info.kind
        if kind in (ValueKind.SENSOR_BOOL, ValueKind.BOOLEAN):
            word = _convert.text(payload).upper()
            if word not in ("ON", "OFF"):
                raise DecodeError(f"{name} payload must be ON or OFF, got {word[:20]!r}")
            return {name: word == "ON"}
        if kind in (ValueKind.INTEGER, ValueKind.NUMBER, ValueKind.SENSOR_NUMBER):
            value = _convert.number(payload)
            return {name: _convert.mireds_to_kelvin(value) if name == "color_temp" and value > 0 else value}
        return {name: _convert.text(payload).lower()}
    raise DecodeError(f"topic {topic!r} does not belong to device '{device.id}'")


def _light_to_wire(values: Mapping[str, Value]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if "power" in values:
        data["state"] = str(values["power"]).upper()
    if "brightness" in values:
        data["brightness"] = _convert.percent_to_scale(float(values["brightness"]), _BRIGHTNESS_TOP)
    if "color_temp" in values:
        data["color_temp"] = _convert.kelvin_to_mireds(float(values["color_temp"]))
    if "color" in values:
        red, green, blue = _convert.hex_to_rgb(str(values["color"]))
        data["color"] = {"r": red, "g": green, "b": blue}
    return data


def _light_from_wire(data: dict[str, Any]) -> dict[str, Value]:
    values: dict[str, Value] = {}
    state = data.get("state")
    if isinstance(state, str) and state.upper() in ("ON", "OFF"):
        values["power"] = state.lower()
    brightness = data.get("brightness")
    if isinstance(brightness, int | float) and not isinstance(brightness, bool):
        values["brightness"] = _convert.scale_to_percent(brightness, _BRIGHTNESS_TOP)
    mireds = data.get("color_temp")
    if isinstance(mireds, int | float) and not isinstance(mireds, bool) and mireds > 0:
        values["color_temp"] = _convert.mireds_to_kelvin(mireds)
    color = data.get("color")
    if isinstance(color, dict) and {"r", "g", "b"} <= color.keys():
        values["color"] = _convert.rgb_to_hex(color["r"], color["g"], color["b"])
    return values
