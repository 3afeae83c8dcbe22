"""Home Assistant's inventory, as the Sasha integration offers it: entities exposed to Assist → devices.

Pure. The integration publishes, retained on `<base>/inventory`, one JSON object of Home
Assistant's own facts: `floors`, `areas` (with `floor` and `aliases`), `temperature_unit`, and
`entities` (`entity_id`, `name`, `aliases`, `area`, `device_class`, `features` — the entity's
supported features bits — and the `attributes` that describe what it can do). Sasha decides
here what each one becomes; the integration is trusted no more than any other announcement.
"""

from __future__ import annotations

import json
from typing import Any

from sasha import jsonlimit
from sasha.discovery.found import Findings, Found, Hazard, Sensitive, Skip, Skipped, human, number, whole
from sasha.discovery.homeassistant import BINARY_CLASSES, SENSOR_CLASSES, SENSOR_UNITS
from sasha.home.capabilities import CAPABILITIES
from sasha.home.protocols import HASS_DOMAINS

SUFFIX = "inventory"
# A home of a thousand entities is a few hundred KB.
MAX_INVENTORY = 4 * 1024 * 1024
FORMAT = 1

# Home Assistant's supported-features bits Sasha reads.
_FAN_SET_SPEED = 1
_COVER_OPEN_CLOSE, _COVER_SET_POSITION = 1 | 2, 4
_MEDIA = {
    "volume": 4,  # VOLUME_SET
    "muted": 8,  # VOLUME_MUTE
    "power": 128 | 256,  # TURN_ON | TURN_OFF
    "source": 2048,  # SELECT_SOURCE
}
_MEDIA_PAUSE, _MEDIA_PLAY, _MEDIA_STOP = 1, 16384, 4096
_MEDIA_PREVIOUS, _MEDIA_NEXT = 16, 32
_COLOUR_MODES = frozenset({"hs", "xy", "rgb", "rgbw", "rgbww"})


def is_inventory(topic: str) -> bool:
    """Tell whether a topic is where the integration offers Home Assistant's inventory."""
    return topic.endswith(f"-hass/{SUFFIX}")


def inventory(topic: str, payload: bytes) -> Findings:
    """Turn the integration's inventory message into found devices and rooms; never raises on bad input."""
    findings = Findings()
    base = topic[: -len(SUFFIX) - 1]
    try:
        data = _document(payload)
    except Skip as why:
        findings.skipped.append(Skipped(topic, str(why)))
        return findings
    floors = {str(f.get("id")): str(f.get("name")) for f in _items(data, "floors") if _named(f)}
    areas: dict[str, dict[str, Any]] = {}
    for area in _items(data, "areas"):
        if not _named(area):
            continue
        room: dict[str, Any] = {"name": str(area["name"])}
        floor = floors.get(str(area.get("floor")))
        if floor:
            room["floor"] = floor
        aliases = _words(area.get("aliases"))
        if aliases:
            room["aliases"] = aliases
        areas[str(area.get("id"))] = room
    findings.areas = {room["name"]: room for room in areas.values()}
    celsius = data.get("temperature_unit", "°C") == "°C"
    for entity in _items(data, "entities"):
        source = f"Home Assistant {entity.get('entity_id')!s:.80}"
        try:
            found = _entity(base, entity, celsius, source)
        except Skip as why:
            findings.skipped.append(Skipped(source, str(why)))
            continue
        placed = areas.get(str(entity.get("area")))
        found.area = placed["name"] if placed else None
        findings.devices.append(found)
    return findings


def _document(payload: bytes) -> dict[str, Any]:
    if len(payload) > MAX_INVENTORY:
        raise Skip(f"inventory of {len(payload)} bytes is over the {MAX_INVENTORY} byte limit")
    try:
        data = jsonlimit.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise Skip(f"inventory is not JSON: {err}") from None
    if not isinstance(data, dict):
        raise Skip("inventory is not a JSON object")
    if data.get("format") != FORMAT:
        raise Skip(f"inventory format {data.get('format')!r} is not {FORMAT}")
    return data


def _items(data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = data.get(key)
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _named(item: dict[str, Any]) -> bool:
    return isinstance(item.get("id"), str) and isinstance(item.get("name"), str) and bool(item["name"].strip())


def _words(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return sorted({w.strip() for w in value if isinstance(w, str) and w.strip()})[:20]


def _entity(base: str, entity: dict[str, Any], celsius: bool, source: str) -> Found:
    entity_id = entity.get("entity_id")
    if not isinstance(entity_id, str) or "." not in entity_id or "/" in entity_id:
        raise Skip("no usable entity_id")
    kind = entity_id.split(".", 1)[0]
    if kind not in HASS_DOMAINS:
        raise Skip(f"domain {kind} is not one Sasha reaches")
    name = entity.get("name")
    name = human(name) if isinstance(name, str) and name.strip() else human(entity_id.split(".", 1)[1])
    raw_attributes = entity.get("attributes")
    attributes: dict[str, Any] = raw_attributes if isinstance(raw_attributes, dict) else {}
    features = entity.get("features")
    bits = features if isinstance(features, int) and not isinstance(features, bool) else 0
    device_class = entity.get("device_class") if isinstance(entity.get("device_class"), str) else None
    found = Found(name=name, type="switch", protocol="hass", source=source, topic=f"{base}/{entity_id}")
    found.aliases = _words(entity.get("aliases"))
    _PARSERS[kind](found, attributes, bits, device_class, celsius)
    if not found.capabilities:
        raise Skip("it offers nothing Sasha can set or read")
    return found


def _light(found: Found, attributes: dict[str, Any], _bits: int, _class: str | None, _celsius: bool) -> None:
    found.type = "light"
    modes = {m for m in attributes.get("supported_color_modes") or [] if isinstance(m, str)}
    found.capabilities["power"] = {}
    if modes - {"onoff"}:
        found.capabilities["brightness"] = {"min": 1, "max": 100}
    if "color_temp" in modes:
        low = number(attributes.get("min_color_temp_kelvin")) or 2000.0
        high = number(attributes.get("max_color_temp_kelvin")) or 6500.0
        low, high = max(low, 1000.0), min(high, 10000.0)
        if low < high:
            found.capabilities["color_temp"] = {"min": round(low), "max": round(high)}
    if modes & _COLOUR_MODES:
        found.capabilities["color"] = {}


def _switch(found: Found, _attributes: dict[str, Any], _bits: int, device_class: str | None, _celsius: bool) -> None:
    found.type = "plug" if device_class == "outlet" else "switch"
    found.capabilities["power"] = {}


def _runnable(found: Found, _attributes: dict[str, Any], _bits: int, _class: str | None, _celsius: bool) -> None:
    # A scene or script runs when turned on; "on" is what every command form already says.
    found.type = "switch"
    found.capabilities["power"] = {}


def _fan(found: Found, _attributes: dict[str, Any], bits: int, _class: str | None, _celsius: bool) -> None:
    found.type = "fan"
    found.capabilities["power"] = {}
    if bits & _FAN_SET_SPEED:
        found.capabilities["fan_speed"] = {}


def _cover(found: Found, _attributes: dict[str, Any], bits: int, device_class: str | None, _celsius: bool) -> None:
    if not bits & (_COVER_OPEN_CLOSE | _COVER_SET_POSITION):
        raise Skip("a cover that only tilts: Sasha sets covers by position")
    found.type = "garage_door" if device_class in ("garage", "gate") else "cover"
    found.capabilities["position"] = {}
    if not bits & _COVER_SET_POSITION:
        found.notes.append("it only opens and closes: positions between 0 and 100 are refused by Home Assistant")
    hazard = {"garage": Hazard.OPEN_GARAGE, "gate": Hazard.OPEN_GARAGE, "door": Hazard.OPEN_DOOR}.get(str(device_class))
    if hazard is not None:
        found.sensitive = Sensitive(hazard, f"a Home Assistant cover of device class '{device_class}'")


def _lock(found: Found, _attributes: dict[str, Any], _bits: int, _class: str | None, _celsius: bool) -> None:
    found.type = "lock"
    found.capabilities["lock"] = {}
    found.sensitive = Sensitive(Hazard.UNLOCK, "a Home Assistant lock")


def _valve(found: Found, _attributes: dict[str, Any], _bits: int, _class: str | None, _celsius: bool) -> None:
    found.type = "water_valve"
    found.capabilities["power"] = {}
    found.sensitive = Sensitive(Hazard.WATER, "a Home Assistant valve")


def _climate(found: Found, attributes: dict[str, Any], _bits: int, _class: str | None, celsius: bool) -> None:
    if not celsius:
        raise Skip("climate in °F: Sasha's temperatures are °C")
    found.type = "thermostat"
    low = number(attributes.get("min_temp"))
    high = number(attributes.get("max_temp"))
    step = number(attributes.get("target_temp_step")) or 0.5
    target: dict[str, Any] = {"step": whole(step)}
    if low is not None and high is not None and low < high:
        target |= {"min": whole(low), "max": whole(high)}
    found.capabilities["target_temperature"] = target
    modes = [m for m in attributes.get("hvac_modes") or [] if isinstance(m, str)]
    if modes:
        found.capabilities["hvac_mode"] = {"values": list(dict.fromkeys(modes))}
    found.capabilities["temperature"] = {}


def _media(found: Found, attributes: dict[str, Any], bits: int, _class: str | None, _celsius: bool) -> None:
    found.type = "media_player"
    for name, bit in _MEDIA.items():
        if bits & bit:
            found.capabilities[name] = {}
    sources = [s for s in attributes.get("source_list") or [] if isinstance(s, str) and s.strip()]
    if "source" in found.capabilities:
        if sources:
            found.capabilities["source"] = {"values": list(dict.fromkeys(sources))[:50]}
        else:
            del found.capabilities["source"]
    if bits & _MEDIA_PLAY and bits & _MEDIA_PAUSE:
        found.capabilities["playback"] = {}
    if bits & _MEDIA_NEXT and bits & _MEDIA_PREVIOUS:
        found.capabilities["track"] = {}


def _sensor(found: Found, attributes: dict[str, Any], _bits: int, device_class: str | None, _celsius: bool) -> None:
    found.type = "sensor"
    capability = SENSOR_CLASSES.get(str(device_class))
    if capability is None:
        raise Skip(f"a sensor of device class {device_class!r}, which Sasha does not read")
    unit = attributes.get("unit_of_measurement")
    if capability in SENSOR_UNITS and unit != SENSOR_UNITS[capability]:
        raise Skip(f"{capability} in {unit!r}, not {SENSOR_UNITS[capability]}")
    found.capabilities[capability] = {}


def _binary(found: Found, _attributes: dict[str, Any], _bits: int, device_class: str | None, _celsius: bool) -> None:
    found.type = "sensor"
    # A state's "on" or "off" is read by the hass adapter; only the capability is wanted here.
    capability, _inverted = BINARY_CLASSES.get(str(device_class), (None, False))
    if capability is None or capability not in CAPABILITIES:
        raise Skip(f"a binary sensor of device class {device_class!r}, which Sasha does not read")
    found.capabilities[capability] = {}


_PARSERS = {
    "light": _light,
    "switch": _switch,
    "scene": _runnable,
    "script": _runnable,
    "fan": _fan,
    "cover": _cover,
    "lock": _lock,
    "valve": _valve,
    "climate": _climate,
    "media_player": _media,
    "sensor": _sensor,
    "binary_sensor": _binary,
}
