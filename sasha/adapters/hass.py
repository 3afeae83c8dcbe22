"""Home Assistant's own entities, reached through the Sasha integration (protocol `hass`).

A device's topic is `<base>/<entity id>`. The integration mirrors the entity's state on
`<topic>/state` as `{"state": ..., "attributes": {...}}` (retained), carries out each `<topic>/set` message
`{"service": ..., "data": {...}, "call": ...}` as that service of the entity's own domain, and
answers on `<topic>/result` with `{"call": ..., "ok": true}` or `{"call": ..., "ok": false,
"error": ...}`. The vocabulary of each side is Home Assistant's: brightness 0-255 in the state
and `brightness_pct` in commands, kelvin, `rgb_color`, volume 0-1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sasha import adapters
from sasha.adapters import _convert
from sasha.errors import DecodeError
from sasha.home.capabilities import Value
from sasha.home.inventory import Device

# Home Assistant's states that carry no value: the entity is there but says nothing.
_NO_VALUE = frozenset({"unavailable", "unknown", ""})
_BRIGHTNESS_TOP = 255
# Power words of domains whose state is not plain on/off.
_POWER_ON = {
    "media_player": frozenset({"on", "playing", "paused", "idle", "buffering"}),
    "valve": frozenset({"open"}),
    "climate": frozenset({"heat", "cool", "heat_cool", "auto", "dry", "fan_only"}),
}
_POWER_OFF = {"media_player": frozenset({"off", "standby"}), "valve": frozenset({"closed"})}
_PLAYBACK = {"playing": "playing", "paused": "paused", "idle": "stopped", "on": "stopped", "off": "stopped"}
_PLAYBACK_SERVICE = {"playing": "media_play", "paused": "media_pause", "stopped": "media_stop"}
_TRACK_SERVICE = {"next": "media_next_track", "previous": "media_previous_track"}
# Binary sensors that say "on" for open; Sasha's contact is true when closed.
_OPENING = "contact"


@dataclass(frozen=True, slots=True)
class Call:
    """One service call of the entity's domain, as a command message carries it."""

    service: str
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class CallResult:
    """What the integration reports about one call."""

    call: str
    ok: bool
    error: str = ""


def entity_id(device: Device) -> str:
    """Return the Home Assistant entity id a device stands for (the last level of its topic)."""
    return device.topic.rsplit("/", 1)[-1]


def domain(device: Device) -> str:
    """Return the entity's domain (`light` of `light.kitchen`)."""
    return entity_id(device).split(".", 1)[0]


def result_topic(device: Device) -> str:
    """Return the topic the integration reports each call's outcome on."""
    return f"{device.topic}/result"


def calls(device: Device, values: Mapping[str, Value]) -> list[Call]:
    """Turn validated capability values into service calls, power on first and power off last."""
    kind = domain(device)
    if kind == "light":
        return _light(values)
    if kind == "climate":
        return _climate(values)
    if kind == "media_player":
        return _media(values)
    if kind == "fan":
        return _fan(values)
    result: list[Call] = []
    if "lock" in values:
        result.append(Call("lock" if values["lock"] == "locked" else "unlock", {}))
    if "position" in values:
        position = int(values["position"])
        if position == 100:
            result.append(Call("open_cover", {}))
        elif position == 0:
            result.append(Call("close_cover", {}))
        else:
            result.append(Call("set_cover_position", {"position": position}))
    if "power" in values:
        on = values["power"] == "on"
        if kind == "valve":
            result.append(Call("open_valve" if on else "close_valve", {}))
        else:
            result.append(Call("turn_on" if on else "turn_off", {}))
    return result


def _light(values: Mapping[str, Value]) -> list[Call]:
    if values.get("power") == "off" or values.get("brightness") == 0:
        return [Call("turn_off", {})]
    data: dict[str, Any] = {}
    if "brightness" in values:
        data["brightness_pct"] = values["brightness"]
    if "color_temp" in values:
        data["color_temp_kelvin"] = values["color_temp"]
    if "color" in values:
        data["rgb_color"] = list(_convert.hex_to_rgb(str(values["color"])))
    return [Call("turn_on", data)]


def _fan(values: Mapping[str, Value]) -> list[Call]:
    if values.get("power") == "off":
        return [Call("turn_off", {})]
    if "fan_speed" in values:
        return [Call("set_percentage", {"percentage": values["fan_speed"]})]
    return [Call("turn_on", {})]


def _climate(values: Mapping[str, Value]) -> list[Call]:
    result: list[Call] = []
    if values.get("power") == "on":
        result.append(Call("turn_on", {}))
    if "hvac_mode" in values:
        result.append(Call("set_hvac_mode", {"hvac_mode": values["hvac_mode"]}))
    if "target_temperature" in values:
        result.append(Call("set_temperature", {"temperature": values["target_temperature"]}))
    if values.get("power") == "off":
        result.append(Call("turn_off", {}))
    return result


def _media(values: Mapping[str, Value]) -> list[Call]:
    result: list[Call] = []
    if values.get("power") == "on":
        result.append(Call("turn_on", {}))
    if "source" in values:
        result.append(Call("select_source", {"source": values["source"]}))
    if "volume" in values:
        result.append(Call("volume_set", {"volume_level": round(float(values["volume"]) / 100, 2)}))
    if "muted" in values:
        result.append(Call("volume_mute", {"is_volume_muted": bool(values["muted"])}))
    if "playback" in values:
        result.append(Call(_PLAYBACK_SERVICE[str(values["playback"])], {}))
    if "track" in values:
        result.append(Call(_TRACK_SERVICE[str(values["track"])], {}))
    if values.get("power") == "off":
        result.append(Call("turn_off", {}))
    return result


def command(device: Device, call: Call, call_id: str = "") -> adapters.Message:
    """Return the message that asks the integration for one call; `call_id` comes back in its result."""
    body: dict[str, Any] = {"service": call.service, "data": dict(call.data)}
    if call_id:
        body["call"] = call_id
    return adapters.Message(f"{device.topic}/set", _convert.dump(body))


def decode_result(payload: bytes) -> CallResult:
    """Read the integration's report of one call (raises DecodeError)."""
    data = _convert.json_object(payload)
    call, ok, error = data.get("call"), data.get("ok"), data.get("error", "")
    if not isinstance(call, str) or not isinstance(ok, bool) or not isinstance(error, str):
        raise DecodeError("a result needs a string 'call', a boolean 'ok' and a string 'error'")
    return CallResult(call[:64], ok, error[:300])


def _power(kind: str, state: str) -> str | None:
    if state in _POWER_ON.get(kind, ("on",)):
        return "on"
    if state in _POWER_OFF.get(kind, ("off",)):
        return "off"
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _rounded(value: float) -> int | float:
    return int(value) if value.is_integer() else value


def decode(device: Device, state: str, attributes: Mapping[str, Any]) -> dict[str, Value]:
    """Read capability values from an entity's state and attributes; what it does not report is left out."""
    kind = domain(device)
    caps = device.capabilities
    values: dict[str, Value] = {}
    if state in _NO_VALUE:
        return values
    if "power" in caps and kind != "scene":
        power = _power(kind, state)
        if power is not None:
            values["power"] = power
    if kind in ("sensor", "binary_sensor"):
        values |= _reading(device, state)
    if "lock" in caps and state in ("locked", "unlocked"):
        values["lock"] = state
    if "hvac_mode" in caps and state in device.capabilities["hvac_mode"].values:
        values["hvac_mode"] = state
    if "playback" in caps and state in _PLAYBACK:
        values["playback"] = _PLAYBACK[state]
    for name, value in _attributes(device, state, attributes).items():
        if name in caps:
            values[name] = value
    return values


def _reading(device: Device, state: str) -> dict[str, Value]:
    name = next(iter(device.capabilities))
    if domain(device) == "binary_sensor":
        if state not in ("on", "off"):
            return {}
        on = state == "on"
        return {name: not on if name == _OPENING else on}
    try:
        number = float(state)
    except ValueError:
        return {}
    return {name: _rounded(number)}


def _attributes(device: Device, state: str, attributes: Mapping[str, Any]) -> dict[str, Value]:
    values: dict[str, Value] = {}
    brightness = _number(attributes.get("brightness"))
    if brightness is not None and state == "on":
        values["brightness"] = _convert.scale_to_percent(brightness, _BRIGHTNESS_TOP)
    kelvin = _number(attributes.get("color_temp_kelvin"))
    if kelvin is not None:
        values["color_temp"] = round(kelvin)
    rgb = attributes.get("rgb_color")
    if isinstance(rgb, list | tuple) and len(rgb) == 3:
        values["color"] = _convert.rgb_to_hex(*rgb)
    for name, key in (("fan_speed", "percentage"), ("position", "current_position")):
        number = _number(attributes.get(key))
        if number is not None:
            values[name] = round(number)
    if "position" not in values and domain(device) == "cover" and state in ("open", "closed"):
        values["position"] = 100 if state == "open" else 0
    for name, key in (("target_temperature", "temperature"), ("temperature", "current_temperature")):
        number = _number(attributes.get(key))
        if number is not None:
            values[name] = _rounded(number)
    volume = _number(attributes.get("volume_level"))
    if volume is not None:
        values["volume"] = round(volume * 100)
    if isinstance(attributes.get("is_volume_muted"), bool):
        values["muted"] = attributes["is_volume_muted"]
    if isinstance(attributes.get("source"), str):
        values["source"] = attributes["source"]
    return values


class HassAdapter:
    """Speak to Home Assistant's entities through the Sasha integration: service calls out, states in."""

    def command_topics(self, device: Device) -> list[str]:
        """Return `<topic>/set`."""
        return [f"{device.topic}/set"]

    def state_topics(self, device: Device) -> list[str]:
        """Return `<topic>/state`."""
        return [f"{device.topic}/state"]

    def encode_command(self, device: Device, values: Mapping[str, Value]) -> list[adapters.Message]:
        """Turn values into one message per service call (without a call id)."""
        return [command(device, call) for call in calls(device, values)]

    def decode_state(self, device: Device, topic: str, payload: bytes) -> dict[str, Value]:
        """Read an entity's mirrored state; an empty payload (the entity left) says nothing."""
        if not payload:
            return {}
        data = _convert.json_object(payload)
        state, attributes = data.get("state"), data.get("attributes", {})
        if not isinstance(state, str) or not isinstance(attributes, dict):
            raise DecodeError("an entity's state needs a string 'state' and an object 'attributes'")
        return decode(device, state, attributes)

    def decode_command(self, device: Device, topic: str, payload: bytes) -> dict[str, Value]:
        """Read the values a service call asks for, as the integration would carry it out."""
        data = _convert.json_object(payload)
        service, body = data.get("service"), data.get("data", {})
        if not isinstance(service, str) or not isinstance(body, dict):
            raise DecodeError("a call needs a string 'service' and an object 'data'")
        return _requested(domain(device), service, body)

    def encode_state(self, device: Device, values: Mapping[str, Value]) -> list[adapters.Message]:
        """Report the values as Home Assistant's state and attributes, retained."""
        state, attributes = _as_state(device, values)
        body = {"state": state, "attributes": attributes}
        return [adapters.Message(f"{device.topic}/state", _convert.dump(body), retain=True)]


def _requested(kind: str, service: str, data: Mapping[str, Any]) -> dict[str, Value]:
    simple: dict[str, dict[str, Value]] = {
        "turn_off": {"power": "off"},
        "lock": {"lock": "locked"},
        "unlock": {"lock": "unlocked"},
        "open_cover": {"position": 100},
        "close_cover": {"position": 0},
        "open_valve": {"power": "on"},
        "close_valve": {"power": "off"},
        "media_play": {"playback": "playing"},
        "media_pause": {"playback": "paused"},
        "media_stop": {"playback": "stopped"},
        "media_next_track": {"track": "next"},
        "media_previous_track": {"track": "previous"},
    }
    if service in simple:
        return dict(simple[service])
    values: dict[str, Value] = {}
    if service == "turn_on":
        values["power"] = "on"
        for name, key in (("brightness", "brightness_pct"), ("color_temp", "color_temp_kelvin")):
            if isinstance(data.get(key), int):
                values[name] = data[key]
        rgb = data.get("rgb_color")
        if isinstance(rgb, list) and len(rgb) == 3:
            values["color"] = _convert.rgb_to_hex(*rgb)
    elif service in ("set_cover_position", "set_percentage"):
        name, key = ("position", "position") if service == "set_cover_position" else ("fan_speed", "percentage")
        values[name] = int(data.get(key, 0))
        if kind == "fan":
            values["power"] = "on"
    elif service == "set_hvac_mode" and isinstance(data.get("hvac_mode"), str):
        values["hvac_mode"] = data["hvac_mode"]
    elif service == "set_temperature" and _number(data.get("temperature")) is not None:
        values["target_temperature"] = _rounded(float(data["temperature"]))
    elif service == "volume_set" and _number(data.get("volume_level")) is not None:
        values["volume"] = round(float(data["volume_level"]) * 100)
    elif service == "volume_mute" and isinstance(data.get("is_volume_muted"), bool):
        values["muted"] = data["is_volume_muted"]
    elif service == "select_source" and isinstance(data.get("source"), str):
        values["source"] = data["source"]
    else:
        raise DecodeError(f"service {kind}.{service} with {dict(data)!r} is not one Sasha sends")
    return values


def _as_state(device: Device, values: Mapping[str, Value]) -> tuple[str, dict[str, Any]]:
    kind = domain(device)
    attributes: dict[str, Any] = {}
    power = values.get("power")
    state = str(power) if power is not None else "unknown"
    if kind == "lock" and "lock" in values:
        state = str(values["lock"])
    elif kind == "cover" and "position" in values:
        state = "closed" if values["position"] == 0 else "open"
        attributes["current_position"] = values["position"]
    elif kind == "valve" and power is not None:
        state = "open" if power == "on" else "closed"
    elif kind == "climate" and "hvac_mode" in values:
        state = "off" if power == "off" else str(values["hvac_mode"])
    elif kind == "media_player" and power != "off" and "playback" in values:
        state = {"playing": "playing", "paused": "paused", "stopped": "idle"}[str(values["playback"])]
    elif kind in ("sensor", "binary_sensor") and values:
        name, value = next(iter(values.items()))
        if isinstance(value, bool):
            state = "on" if (not value if name == _OPENING else value) else "off"
        else:
            state = str(value)
    if "brightness" in values and power != "off":
        attributes["brightness"] = _convert.percent_to_scale(float(values["brightness"]), _BRIGHTNESS_TOP)
    if "color_temp" in values:
        attributes["color_temp_kelvin"] = values["color_temp"]
    if "color" in values:
        attributes["rgb_color"] = list(_convert.hex_to_rgb(str(values["color"])))
    renamed = {
        "fan_speed": "percentage",
        "target_temperature": "temperature",
        "temperature": "current_temperature",
        "muted": "is_volume_muted",
        "source": "source",
    }
    for name, key in renamed.items():
        if name in values and kind not in ("sensor", "binary_sensor"):
            attributes[key] = values[name]
    if "volume" in values:
        attributes["volume_level"] = float(values["volume"]) / 100
    return state, attributes
