"""Tasmota's own discovery: `tasmota/discovery/<mac>/config` and `.../sensors` → devices.

Fields relied on, from the config message: `dn` device name (else `fn[0]`, else `hn`), `t` the
MQTT topic, `ft` full topic and `tp` prefixes (only the default `%prefix%/%topic%/` with
cmnd/stat/tele is driven), `rl` relay kinds (0 none, 1 relay, 2 light, 3 shutter), `lt_st` light
subtype (1 dimmer, 2 colour temperature, 3 RGB, 4 RGBW, 5 RGB + colour temperature). From the
sensors message: `sn`, the same sections as a `tele/<topic>/SENSOR` report.
"""

from __future__ import annotations

import json
from typing import Any

from sasha.adapters.tasmota import ENERGY_KEYS, SENSOR_KEYS
from sasha.discovery.found import MAX_CONFIG, Findings, Found, Skip, Skipped, human

ROOT = "tasmota/discovery"
_FULL_TOPIC = "%prefix%/%topic%/"
_PREFIXES = ["cmnd", "stat", "tele"]
_RELAY, _LIGHT, _SHUTTER = 1, 2, 3
# Tasmota's CT command takes 153..500 mireds: 2000..6500 K is that range in round kelvin, inside it.
_CT_RANGE = {"min": 2000, "max": 6500}


def announcements(messages: list[tuple[str, bytes]]) -> Findings:
    """Turn Tasmota config and sensors messages into devices and skipped reasons."""
    findings = Findings()
    configs: dict[str, tuple[str, dict[str, Any]]] = {}
    sensors: dict[str, dict[str, Any]] = {}
    for topic, payload in messages:
        parts = topic.split("/")
        if len(parts) != 4 or parts[-1] not in ("config", "sensors"):
            findings.skipped.append(Skipped(topic, "not a Tasmota discovery topic"))
            continue
        if not payload:
            continue  # removed
        try:
            data = _object(payload)
        except Skip as err:
            findings.skipped.append(Skipped(topic, str(err)))
            continue
        if parts[-1] == "config":
            configs[parts[2]] = (topic, data)
        else:
            sensors[parts[2]] = data
    for mac, (topic, config) in configs.items():
        try:
            findings.devices.append(_device(topic, config, sensors.get(mac, {})))
        except Skip as err:
            findings.skipped.append(Skipped(topic, str(err)))
    return findings


def _object(payload: bytes) -> dict[str, Any]:
    if len(payload) > MAX_CONFIG:
        raise Skip(f"message of {len(payload)} bytes is over {MAX_CONFIG}")
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise Skip("message is not JSON") from None
    if not isinstance(data, dict):
        raise Skip("message is not a JSON object")
    return data


def _device(topic: str, config: dict[str, Any], sensors: dict[str, Any]) -> Found:
    device_topic = config.get("t")
    if not isinstance(device_topic, str) or not device_topic or any(c in device_topic for c in "+#/"):
        raise Skip("no usable topic (t)")
    if config.get("ft", _FULL_TOPIC) != _FULL_TOPIC or config.get("tp", _PREFIXES) != _PREFIXES:
        raise Skip(f"full topic {config.get('ft')!r}: Sasha drives the default {_FULL_TOPIC}")
    names = config.get("fn")
    name = config.get("dn") or (names[0] if isinstance(names, list) and names and names[0] else None)
    name = name or config.get("hn") or device_topic
    found = Found(
        name=human(str(name)),
        type="sensor",
        protocol="tasmota",
        source=f"Tasmota discovery {topic}" + (f": {config.get('md')}" if config.get("md") else ""),
        topic=device_topic,
    )
    if config.get("md"):
        found.hints.append(("its Tasmota model", str(config["md"])))
    relays = config.get("rl")
    relays = [r for r in relays if isinstance(r, int)] if isinstance(relays, list) else []
    used = [r for r in relays if r]
    if used:
        kind = used[0]
        if kind == _LIGHT:
            found.type = "light"
            found.capabilities["power"] = {}
            _light(config.get("lt_st"), found)
        elif kind == _SHUTTER:
            found.type = "cover"
            found.capabilities["position"] = {}
        elif kind == _RELAY:
            found.type = "switch"
            found.capabilities["power"] = {}
        if len(used) > 1:
            found.notes.append(
                f"{len(used) - 1} more relay(s) left out: Sasha's Tasmota adapter drives POWER and Shutter1 only"
            )
    readings = sensors.get("sn")
    if isinstance(readings, dict):
        _readings(readings, found)
    if not found.capabilities:
        raise Skip("no relays, lights, shutters or sensors Sasha reads")
    if found.type == "switch" and "power_usage" in found.capabilities:
        found.type = "plug"  # a relay that measures what it powers
    return found


def _light(subtype: Any, found: Found) -> None:
    if not isinstance(subtype, int) or subtype < 1:
        return
    found.capabilities["brightness"] = {"min": 1, "max": 100}
    if subtype in (2, 5):
        found.capabilities["color_temp"] = dict(_CT_RANGE)
    if subtype >= 3:
        found.capabilities["color"] = {}


def _readings(readings: dict[str, Any], found: Found) -> None:
    fahrenheit = str(readings.get("TempUnit", "C")).upper() == "F"
    for section, values in readings.items():
        if not isinstance(values, dict):
            continue
        table = ENERGY_KEYS if section == "ENERGY" else SENSOR_KEYS
        for key, capability in table.items():
            if key not in values or capability in found.capabilities:
                continue
            if capability == "temperature" and fahrenheit:
                found.notes.append(f"{section} temperature left out: the device reports °F (TempUnit F)")
                continue
            found.capabilities[capability] = {}
