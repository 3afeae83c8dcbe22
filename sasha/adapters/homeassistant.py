"""Home Assistant MQTT entities: JSON-schema and default-schema lights, plain words, per-field topics.

Lights use HA's MQTT JSON schema on `command_topic`/`state_topic` unless the inventory says
`light_schema: default`. Other devices (and default-schema lights) put their main capability
(power, else lock) on those topics as plain words, and every other capability on its own pair
of topics, `<topic>/<field>/set` and `<topic>/<field>`, the way HA's MQTT climate, fan and cover
entities split theirs. A device's `wire` entries override any of that per capability: the
topics, the words for on and off, the device's number for 100 %, and a JSON key on a shared
state topic (HA's `{{ value_json.<key> }}` value template).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sasha import adapters
from sasha.adapters import _convert
from sasha.errors import DecodeError
from sasha.home.capabilities import Value, ValueKind
from sasha.home.inventory import Device, DeviceType, Wire

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
_NO_WIRE = Wire()
# The words HA uses when a config names none (switch/light/fan/valve as power, lock, binary sensors).
_WORDS = {
    "power": ("ON", "OFF", "ON", "OFF"),
    "lock": ("LOCK", "UNLOCK", "LOCKED", "UNLOCKED"),
}
_BINARY_WORDS = ("ON", "OFF", "ON", "OFF")


def _wire(device: Device, capability: str) -> Wire:
    return device.wire.get(capability, _NO_WIRE)


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
    return device.type is DeviceType.LIGHT and device.light_schema != "default"


def field_name(capability: str) -> str:
    """Return HA's name for a capability's per-field topics (`<topic>/<name>/set`)."""
    return _FIELDS.get(capability, capability)


_field = field_name


def _on_main_topics(device: Device, capability: str) -> bool:
    if _json_light(device):
        return capability in _LIGHT_JSON
    return capability == _main(device)


def field_command_topic(device: Device, capability: str) -> str:
    """Return the topic a capability off the main topics is commanded on."""
    return _wire(device, capability).command_topic or f"{device.topic}/{_field(capability)}/set"


def field_state_topic(device: Device, capability: str) -> str:
    """Return the topic a capability off the main topics reports on."""
    return _wire(device, capability).state_topic or f"{device.topic}/{_field(capability)}"


def main_topics(device: Device) -> tuple[str, str]:
    """Return the (command, state) topics of the main capability or of a JSON light."""
    return _command_topic(device), _state_topic(device)


def words(device: Device, capability: str) -> tuple[str, str, str, str]:
    """Return (command on, command off, state on, state off) for a two-word capability."""
    wire = _wire(device, capability)
    on, off, state_on, state_off = _WORDS.get(capability, _BINARY_WORDS)
    on, off = wire.payload_on or on, wire.payload_off or off
    # HA's switch reports with its command words unless state_on/state_off say otherwise.
    default_on, default_off = (state_on, state_off) if capability == "lock" else (on, off)
    return on, off, wire.state_on or default_on, wire.state_off or default_off


def _scale(device: Device, capability: str) -> float | None:
    scale = _wire(device, capability).scale
    if scale is None and capability == "brightness" and device.type is DeviceType.LIGHT:
        return _BRIGHTNESS_TOP  # HA's brightness_scale default, in both light schemas
    return scale


class HomeAssistantAdapter:
    """Drive devices exposed the way Home Assistant's MQTT integration expects."""

    def command_topics(self, device: Device) -> list[str]:
        """Return command_topic and the per-field command topics."""
        topics = [_command_topic(device)] if _json_light(device) or _main(device) else []
        for name, cap in device.capabilities.items():
            topic = field_command_topic(device, name)
            if cap.writable and not _on_main_topics(device, name) and topic not in topics:
                topics.append(topic)
        return topics

    def state_topics(self, device: Device) -> list[str]:
        """Return state_topic and the per-field state topics."""
        topics = [_state_topic(device)] if _json_light(device) or _main(device) else []
        for name, cap in device.capabilities.items():
            topic = field_state_topic(device, name)
            # A write-only capability (`track`) has a command topic and nothing to report.
            if not _on_main_topics(device, name) and not cap.info.write_only and topic not in topics:
                topics.append(topic)
        return topics

    def encode_command(self, device: Device, values: Mapping[str, Value]) -> list[adapters.Message]:
        """Translate values into HA MQTT command messages."""
        messages = []
        if _json_light(device):
            light = {k: v for k, v in values.items() if k in _LIGHT_JSON}
            if light:
                wire = _light_to_wire(light, _scale(device, "brightness") or _BRIGHTNESS_TOP)
                messages.append(adapters.Message(_command_topic(device), _convert.dump(wire)))
        for name, value in values.items():
            if not _on_main_topics(device, name):
                payload = _plain(device, name, value)
                messages.append(adapters.Message(field_command_topic(device, name), payload))
            elif not _json_light(device):
                on, off, _, _ = words(device, name)
                word = on if value in ("on", "locked") else off
                messages.append(adapters.Message(_command_topic(device), word.encode()))
        return messages

    def decode_state(self, device: Device, topic: str, payload: bytes) -> dict[str, Value]:
        """Read a state message from whichever of the device's state topics it came on."""
        values: dict[str, Value] = {}
        matched = False
        main = _main(device)
        if topic == _state_topic(device) and (_json_light(device) or main):
            matched = True
            if _json_light(device):
                data = _convert.json_object(payload)
                values.update(_light_from_wire(data, _scale(device, "brightness") or _BRIGHTNESS_TOP))
            elif main is not None:
                values.update(_two_words(device, main, _raw(device, main, payload)))
        for name in device.capabilities:
            if _on_main_topics(device, name) or topic != field_state_topic(device, name):
                continue
            matched = True
            values.update(_per_field(device, name, _raw(device, name, payload)))
        if not matched:
            raise DecodeError(f"topic {topic!r} does not belong to device '{device.id}'")
        return values

    def decode_command(self, device: Device, topic: str, payload: bytes) -> dict[str, Value]:
        """Read a command message as the device would."""
        main = _main(device)
        if topic == _command_topic(device) and (_json_light(device) or main):
            if _json_light(device):
                data = _convert.json_object(payload)
                return _light_from_wire(data, _scale(device, "brightness") or _BRIGHTNESS_TOP)
            word = _convert.text(payload)
            if main is not None:
                on, off, _, _ = words(device, main)
                if word.upper() in (on.upper(), off.upper()):
                    yes = word.upper() == on.upper()
                    return {main: ("on" if yes else "off") if main == "power" else ("locked" if yes else "unlocked")}
            raise DecodeError(f"unexpected command {word[:20]!r}")
        for name, cap in device.capabilities.items():
            if cap.writable and not _on_main_topics(device, name) and topic == field_command_topic(device, name):
                return _per_field(device, name, _convert.text(payload))
        raise DecodeError(f"topic {topic!r} does not belong to device '{device.id}'")

    def encode_state(self, device: Device, values: Mapping[str, Value]) -> list[adapters.Message]:
        """Publish each state topic, retained; values with a JSON key share one object per topic."""
        messages = []
        objects: dict[str, dict[str, Any]] = {}
        if _json_light(device):
            light = {k: v for k, v in values.items() if k in _LIGHT_JSON}
            wire = _light_to_wire(light, _scale(device, "brightness") or _BRIGHTNESS_TOP)
            messages.append(adapters.Message(_state_topic(device), _convert.dump(wire), retain=True))
        for name, value in values.items():
            if not _on_main_topics(device, name):
                topic, text = field_state_topic(device, name), _plain(device, name, value).decode()
            elif not _json_light(device):
                _, _, state_on, state_off = words(device, name)
                topic, text = _state_topic(device), state_on if value in ("on", "locked") else state_off
            else:
                continue
            key = _wire(device, name).key
            if key is None:
                messages.append(adapters.Message(topic, text.encode(), retain=True))
            else:
                objects.setdefault(topic, {})[key] = _json_value(text)
        messages += [adapters.Message(t, _convert.dump(data), retain=True) for t, data in objects.items()]
        return messages


def _json_value(text: str) -> Any:
    """Return a value for a JSON state object: numbers as numbers, words as strings."""
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and "." not in text else number


def _raw(device: Device, name: str, payload: bytes) -> str:
    """Return the text of one value: the payload, or the value under the capability's JSON key."""
    key = _wire(device, name).key
    if key is None:
        return _convert.text(payload)
    data = _convert.json_object(payload)
    if key not in data:
        return ""
    value = data[key]
    if isinstance(value, bool):
        return "ON" if value else "OFF"
    return value if isinstance(value, str) else json.dumps(value)


def _two_words(device: Device, name: str, word: str) -> dict[str, Value]:
    if not word:
        return {}
    _, _, state_on, state_off = words(device, name)
    upper = word.upper()
    if upper == state_on.upper():
        return {name: "on" if name == "power" else "locked"}
    if upper == state_off.upper():
        return {name: "off" if name == "power" else "unlocked"}
    # HA's lock also reports locking/jammed/...; those say nothing about the bolt yet.
    if name == "lock":
        return {}
    raise DecodeError(f"unexpected {name} state {word[:20]!r}")


def _plain(device: Device, name: str, value: Value) -> bytes:
    if isinstance(value, bool):
        _, _, state_on, state_off = words(device, name)
        return (state_on if value else state_off).encode()
    if name == "color_temp" and isinstance(value, int | float):
        return str(_convert.kelvin_to_mireds(value)).encode()
    if name == "color" and device.type is DeviceType.LIGHT:
        return ",".join(str(c) for c in _convert.hex_to_rgb(str(value))).encode()  # HA's rgb topics
    scale = _scale(device, name)
    if scale is not None and isinstance(value, int | float):
        return str(_convert.percent_to_scale(float(value), round(scale))).encode()
    return str(value).encode()


def _per_field(device: Device, name: str, raw: str) -> dict[str, Value]:
    if not raw:
        return {}
    kind = device.capabilities[name].info.kind
    if kind in (ValueKind.SENSOR_BOOL, ValueKind.BOOLEAN):
        _, _, state_on, state_off = words(device, name)
        if raw.upper() not in (state_on.upper(), state_off.upper()):
            raise DecodeError(f"{name} payload must be {state_on} or {state_off}, got {raw[:20]!r}")
        return {name: raw.upper() == state_on.upper()}
    if kind is ValueKind.COLOR:
        return {name: _color(raw)}
    if kind in (ValueKind.INTEGER, ValueKind.NUMBER, ValueKind.SENSOR_NUMBER):
        value = _convert.number(raw.encode())
        if name == "color_temp":
            return {name: _convert.mireds_to_kelvin(value)} if value > 0 else {}
        scale = _scale(device, name)
        return {name: _convert.scale_to_percent(value, round(scale)) if scale is not None else value}
    return {name: raw.lower()}


def _color(raw: str) -> str:
    if "," in raw:
        parts = raw.split(",")
        try:
            channels = [int(p) for p in parts]
        except ValueError:
            raise DecodeError(f"colour {raw[:30]!r} is not r,g,b") from None
        if len(channels) != 3:
            raise DecodeError(f"colour {raw[:30]!r} is not r,g,b")
        return _convert.rgb_to_hex(*channels)
    return "#" + raw.lstrip("#")[:6].lower()


def _light_to_wire(values: Mapping[str, Value], top: float) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if "power" in values:
        data["state"] = str(values["power"]).upper()
    if "brightness" in values:
        data["brightness"] = _convert.percent_to_scale(float(values["brightness"]), round(top))
    if "color_temp" in values:
        data["color_temp"] = _convert.kelvin_to_mireds(float(values["color_temp"]))
    if "color" in values:
        red, green, blue = _convert.hex_to_rgb(str(values["color"]))
        data["color"] = {"r": red, "g": green, "b": blue}
    return data


def _light_from_wire(data: dict[str, Any], top: float) -> dict[str, Value]:
    values: dict[str, Value] = {}
    state = data.get("state")
    if isinstance(state, str) and state.upper() in ("ON", "OFF"):
        values["power"] = state.lower()
    brightness = data.get("brightness")
    if isinstance(brightness, int | float) and not isinstance(brightness, bool):
        values["brightness"] = _convert.scale_to_percent(brightness, round(top))
    mireds = data.get("color_temp")
    if isinstance(mireds, int | float) and not isinstance(mireds, bool) and mireds > 0:
        values["color_temp"] = _convert.mireds_to_kelvin(mireds)
    color = data.get("color")
    if isinstance(color, dict) and {"r", "g", "b"} <= color.keys():
        values["color"] = _convert.rgb_to_hex(color["r"], color["g"], color["b"])
    return values
