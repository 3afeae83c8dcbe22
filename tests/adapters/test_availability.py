"""Availability topics and words per protocol, both sides, without a broker."""

from __future__ import annotations

import pytest

from sasha.adapters import availability
from sasha.errors import DecodeError
from sasha.home import inventory
from sasha.home.inventory import Inventory

_HA = """
rooms: [{id: hall, name: Hall}]
devices:
  - id: hall_light
    name: Hall light
    room: hall
    type: light
    protocol: homeassistant
    topic: shellies/hall
    availability:
      - {topic: shellies/hall/online, payload_available: "true", payload_not_available: "false"}
      - {topic: zigbee2mqtt/bridge/state, key: state}
    capabilities: {power: {}}
  - id: plain
    name: Plain
    room: hall
    type: switch
    protocol: homeassistant
    capabilities: {power: {}}
"""


def test_each_protocol_has_its_default_topic(home: Inventory) -> None:
    """zigbee2mqtt and generic on `<topic>/availability`, Tasmota on its LWT; HA only when the inventory says."""
    assert availability.topics(home.devices["living_room_ceiling"]) == ["zigbee2mqtt/living_room_ceiling/availability"]
    assert availability.topics(home.devices["living_room_lamp"]) == ["sasha-demo/living_room_lamp/availability"]
    assert availability.topics(home.devices["hallway_light"]) == ["tele/hallway_light/LWT"]
    assert availability.topics(home.devices["kitchen_light"]) == []


@pytest.mark.parametrize(
    ("device", "topic", "payload", "online"),
    [
        ("living_room_ceiling", "zigbee2mqtt/living_room_ceiling/availability", b'{"state":"online"}', True),
        ("living_room_ceiling", "zigbee2mqtt/living_room_ceiling/availability", b'{"state":"offline"}', False),
        ("living_room_ceiling", "zigbee2mqtt/living_room_ceiling/availability", b"offline", False),  # legacy
        ("living_room_ceiling", "zigbee2mqtt/living_room_ceiling/availability", b"online", True),
        ("hallway_light", "tele/hallway_light/LWT", b"Online", True),
        ("hallway_light", "tele/hallway_light/LWT", b"Offline", False),
        ("living_room_lamp", "sasha-demo/living_room_lamp/availability", b"offline", False),
        ("living_room_lamp", "sasha-demo/living_room_lamp/availability", b"rebooting", None),
        ("living_room_lamp", "sasha-demo/living_room_lamp/availability", b'{"state": 3}', None),
    ],
)
def test_words_are_read(home: Inventory, device: str, topic: str, payload: bytes, online: bool | None) -> None:
    """Read online, offline, and nothing from a word the device does not use."""
    assert availability.decode(home.devices[device], topic, payload) is online


def test_home_assistant_words_and_keys_come_from_the_inventory() -> None:
    """Use the inventory's payloads and JSON key, and say the same words on the device side."""
    device = inventory.from_yaml(_HA).devices["hall_light"]
    assert availability.decode(device, "shellies/hall/online", b"false") is False
    assert availability.decode(device, "zigbee2mqtt/bridge/state", b'{"state": "online"}') is True
    said = availability.encode(device, False)
    assert [(m.topic, m.payload, m.retain) for m in said] == [
        ("shellies/hall/online", b"false", True),
        ("zigbee2mqtt/bridge/state", b'{"state": "offline"}', True),
    ]
    assert availability.topics(inventory.from_yaml(_HA).devices["plain"]) == []


def test_junk_is_a_decode_error(home: Inventory) -> None:
    """Refuse a payload that is not UTF-8 or a topic the device does not use."""
    ceiling = home.devices["living_room_ceiling"]
    with pytest.raises(DecodeError):
        availability.decode(ceiling, "zigbee2mqtt/living_room_ceiling/availability", b"\xff\xfe")
    with pytest.raises(DecodeError):
        availability.decode(ceiling, "zigbee2mqtt/other/availability", b"online")


def test_the_inventory_refuses_a_bad_availability_topic() -> None:
    """Report a wildcard availability topic and identical words as located problems."""
    text = _HA.replace("shellies/hall/online", "shellies/+/online").replace('"false"', '"true"')
    with pytest.raises(inventory.InventoryError) as caught:
        inventory.from_yaml(text)
    message = str(caught.value)
    assert "availability topic 'shellies/+/online' is not a valid MQTT topic" in message
    assert "payload_available and payload_not_available are the same" in message
