"""zigbee2mqtt: the retained `<base>/bridge/devices` list, each device's `exposes` → capabilities.

An expose is either generic (`binary`, `numeric`, `enum`, ...) or specific (`light`, `switch`,
`cover`, `lock`, `climate`, `fan`) with its generic `features`. `access` is a bit field:
1 published in the state, 2 settable, 4 readable on request.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sasha.discovery.found import (
    MAX_DEVICE_LIST,
    Findings,
    Found,
    Hazard,
    Sensitive,
    Skip,
    Skipped,
    human,
    nice_kelvin,
    number,
    whole,
)
from sasha.home.capabilities import CAPABILITIES

_SET = 2
# The property Sasha's zigbee2mqtt adapter reads for each capability unless the inventory says otherwise.
_DEFAULT_KEYS = {
    "power": "state",
    "lock": "state",
    "target_temperature": "current_heating_setpoint",
    "hvac_mode": "system_mode",
    "power_usage": "power",
    "motion": "occupancy",
    "occupancy": "presence",
    "leak": "water_leak",
}
# Properties → capabilities, including other names devices use for the same thing.
_NUMERIC = {
    "current_heating_setpoint": "target_temperature",
    "occupied_heating_setpoint": "target_temperature",
    "local_temperature": "temperature",
    "temperature": "temperature",
    "humidity": "humidity",
    "illuminance": "illuminance",
    "illuminance_lux": "illuminance",
    "co2": "co2",
    "power": "power_usage",
    "energy": "energy",
    "battery": "battery",
    "position": "position",
    "fan_speed": "fan_speed",
    "volume": "volume",
}
_BINARY = {
    "occupancy": "motion",
    "presence": "occupancy",
    "contact": "contact",
    "water_leak": "leak",
    "smoke": "smoke",
}
_SENSOR_UNITS = {"temperature": "°C", "power_usage": "W", "energy": "kWh"}
_PERCENT = frozenset({"position", "fan_speed", "volume"})
_TYPE_ORDER = ("light", "climate", "lock", "cover", "fan", "switch")


def bridge_devices(topic: str, payload: bytes) -> Findings:
    """Turn one `<base>/bridge/devices` message into devices and skipped reasons."""
    findings = Findings()
    base = topic[: -len("/bridge/devices")]
    if len(payload) > MAX_DEVICE_LIST:
        findings.skipped.append(Skipped(topic, f"device list of {len(payload)} bytes is over {MAX_DEVICE_LIST}"))
        return findings
    try:
        devices = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        findings.skipped.append(Skipped(topic, "device list is not JSON"))
        return findings
    if not isinstance(devices, list):
        findings.skipped.append(Skipped(topic, "device list is not a JSON list"))
        return findings
    for index, entry in enumerate(devices):
        name = entry.get("friendly_name") if isinstance(entry, dict) else None
        source = f"zigbee2mqtt {topic} '{name}'" if isinstance(name, str) else f"zigbee2mqtt {topic} #{index + 1}"
        try:
            findings.devices.append(_device(base, entry, source))
        except Skip as err:
            findings.skipped.append(Skipped(source, str(err)))
    return findings


def _device(base: str, entry: Any, source: str) -> Found:
    if not isinstance(entry, dict):
        raise Skip("device entry is not a JSON object")
    if entry.get("type") == "Coordinator":
        raise Skip("the coordinator is the Zigbee radio, not a device")
    name = entry.get("friendly_name")
    if not isinstance(name, str) or not name or "+" in name or "#" in name:
        raise Skip("no usable friendly_name")
    if entry.get("disabled"):
        raise Skip("disabled in zigbee2mqtt")
    definition = entry.get("definition")
    if entry.get("supported") is False or not isinstance(definition, dict):
        raise Skip("not supported by zigbee2mqtt (no definition)")
    exposes = definition.get("exposes")
    if not isinstance(exposes, list):
        raise Skip("definition has no exposes")
    description = str(definition.get("description") or "")
    found = Found(
        name=human(name.rsplit("/", 1)[-1]),
        type="sensor",
        protocol="zigbee2mqtt",
        source=source + (f": {definition.get('vendor')} {definition.get('model')}" if definition.get("model") else ""),
        topic=f"{base}/{name}",
        description=str(entry.get("description") or ""),
    )
    kinds = []
    for expose in exposes:
        if not isinstance(expose, dict):
            continue
        kind = str(expose.get("type"))
        if kind in _TYPE_ORDER:
            kinds.append(kind)
            for feature in _features(expose, found):
                _feature(feature, found, specific=kind)
        else:
            _feature(expose, found, specific=None)
    if not found.capabilities:
        raise Skip("no exposes Sasha can use")
    if kinds:
        first = min(kinds, key=_TYPE_ORDER.index)
        found.type = {"climate": "thermostat"}.get(first, first)
    if found.type == "lock":
        found.sensitive = Sensitive(Hazard.UNLOCK, "zigbee2mqtt exposes a lock")
    text = f"{description} {definition.get('model', '')}".lower()
    if found.type == "switch" and ("plug" in text or "socket" in text or "outlet" in text):
        found.type = "plug"
    # The definition says what the device is ("Water valve", "Garage door opener"): `safety` reads it.
    found.hints += [("zigbee2mqtt's description of it", description), ("its model", str(definition.get("model", "")))]
    return found


def _features(expose: dict[str, Any], found: Found) -> Iterator[dict[str, Any]]:
    for feature in expose.get("features") or ():
        if not isinstance(feature, dict):
            continue
        if feature.get("endpoint"):
            # Multi-endpoint devices (a double switch) need one device per endpoint; Sasha has one topic each.
            found.notes.append(f"endpoint '{feature.get('endpoint')}' ({feature.get('property')}) left out")
            continue
        yield feature


def _feature(feature: dict[str, Any], found: Found, *, specific: str | None) -> None:
    prop = feature.get("property")
    kind = feature.get("type")
    if not isinstance(prop, str):
        return
    access = feature.get("access")
    writable = isinstance(access, int) and bool(access & _SET)
    capability: str | None = None
    spec: dict[str, Any] = {}
    if kind == "binary" and specific in ("light", "switch", "fan") and prop in ("state", "fan_state"):
        if str(feature.get("value_on")).upper() != "ON":
            found.notes.append(f"{prop} left out: it switches with {feature.get('value_on')!r}, not ON")
            return
        capability = "power"
    elif kind == "binary" and specific == "lock" and prop == "state":
        capability = "lock"
    elif kind == "binary" and prop in _BINARY:
        if feature.get("value_on") is not True:
            found.notes.append(f"{prop} left out: it reports {feature.get('value_on')!r}, not true/false")
            return
        capability = _BINARY[prop]
    elif kind == "numeric" and specific == "light" and prop == "brightness":
        capability, spec = "brightness", {"min": 1, "max": 100}
    elif kind == "numeric" and specific == "light" and prop == "color_temp":
        low, high = number(feature.get("value_min")), number(feature.get("value_max"))
        if low is None or high is None or low >= high:
            found.notes.append("colour temperature left out: no mired range")
            return
        capability, spec = "color_temp", {"min": nice_kelvin(high), "max": nice_kelvin(low)}
    elif kind == "composite" and specific == "light" and prop == "color":
        capability = "color"  # zigbee2mqtt takes {"hex": ...} for xy and hs lights alike
    elif kind == "enum" and prop == "system_mode":
        values = feature.get("values")
        if not isinstance(values, list) or not values:
            return
        capability, spec = "hvac_mode", {"values": [str(v) for v in values]}
    elif kind == "numeric" and prop in _NUMERIC:
        capability = _NUMERIC[prop]
        numeric = _numeric_spec(capability, feature, found)
        if numeric is None:
            return
        spec = numeric
    if capability is None:
        return
    if capability in found.capabilities:
        found.notes.append(f"{prop} left out: {capability} already comes from another property")
        return
    if CAPABILITIES[capability].writable and not writable:
        found.notes.append(f"{prop} left out: zigbee2mqtt says it cannot be set")
        return
    found.capabilities[capability] = spec
    if _DEFAULT_KEYS.get(capability, capability) != prop and not (
        capability == "illuminance" and prop == "illuminance_lux"
    ):
        found.wire[capability] = {"key": prop}


def _numeric_spec(capability: str, feature: dict[str, Any], found: Found) -> dict[str, Any] | None:
    unit = feature.get("unit")
    expected = _SENSOR_UNITS.get(capability)
    if expected is not None and unit is not None and unit != expected and capability != "target_temperature":
        found.notes.append(f"{feature.get('property')} left out: {capability} in {unit}, Sasha's is in {expected}")
        return None
    low, high = number(feature.get("value_min")), number(feature.get("value_max"))
    if capability in _PERCENT:
        if (low is not None and low != 0) or (high is not None and high != 100):
            found.notes.append(f"{feature.get('property')} left out: range {low}..{high} is not a percentage")
            return None
        return {}
    if capability == "target_temperature":
        step = number(feature.get("value_step"))
        spec: dict[str, Any] = {}
        if low is not None:
            spec["min"] = whole(low)
        if high is not None:
            spec["max"] = whole(high)
        if step is not None:
            spec["step"] = whole(step)
        return spec
    return {}
