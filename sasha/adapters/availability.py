"""Availability: the topics on which devices (or their bridges) say whether they are reachable.

Pure, both sides like the adapters. Defaults per protocol: zigbee2mqtt `<topic>/availability`
(JSON `{"state": "online"}`, or the legacy plain `online`/`offline`), Tasmota's last will
`tele/<topic>/LWT` (`Online`/`Offline`), generic `<topic>/availability` (`online`/`offline`,
plain or as zigbee2mqtt's JSON); Home Assistant devices have none unless the inventory's
`availability` names them (discovery's `availability_topic` / `availability` list). A device's
`availability` list replaces its protocol's default.
"""

from __future__ import annotations

import json

from sasha import jsonlimit
from sasha.adapters import Message
from sasha.adapters._convert import text
from sasha.errors import DecodeError
from sasha.home.inventory import Availability, Device
from sasha.home.protocols import Protocol


def specs(device: Device) -> tuple[Availability, ...]:
    """Return the availability topics of a device, with their words."""
    if device.availability is not None:
        return device.availability
    if device.protocol is Protocol.TASMOTA:
        return (Availability(f"tele/{device.topic}/LWT", "Online", "Offline"),)
    if device.protocol in (Protocol.ZIGBEE2MQTT, Protocol.GENERIC):
        return (Availability(f"{device.topic}/availability", key="state"),)
    return ()


def topics(device: Device) -> list[str]:
    """Return the topics a device's availability arrives on."""
    return [spec.topic for spec in specs(device)]


def decode(device: Device, topic: str, payload: bytes) -> bool | None:
    """Read one availability message: True online, False offline, None for a word it does not use.

    Raises DecodeError for a payload that is not UTF-8 text or too big.
    """
    for spec in specs(device):
        if spec.topic == topic:
            word = _word(spec, text(payload))
            if word is None:
                return None
            # Home Assistant compares its payloads exactly; Tasmota and zigbee2mqtt vary the case.
            if word == spec.payload_available or word.lower() == spec.payload_available.lower():
                return True
            if word == spec.payload_not_available or word.lower() == spec.payload_not_available.lower():
                return False
            return None
    raise DecodeError(f"{topic} is not an availability topic of '{device.id}'")


def _word(spec: Availability, raw: str) -> str | None:
    if spec.key is None or not raw.startswith("{"):
        return raw  # zigbee2mqtt's legacy format, Tasmota and most HA devices: the word itself
    try:
        data = jsonlimit.loads(raw)
    except (json.JSONDecodeError, ValueError) as err:
        raise DecodeError(f"availability is not JSON: {err}") from None
    value = data.get(spec.key) if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def encode(device: Device, online: bool) -> list[Message]:
    """Return the retained messages a device (the simulator's) publishes to say it is online or offline."""
    messages = []
    for spec in specs(device):
        word = spec.payload_available if online else spec.payload_not_available
        payload = json.dumps({spec.key: word}) if spec.key is not None else word
        messages.append(Message(spec.topic, payload.encode(), retain=True))
    return messages
