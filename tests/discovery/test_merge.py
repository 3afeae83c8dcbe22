"""`--merge`: the user's edits survive, new devices are added, vanished ones are listed and kept."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from sasha.discovery.build import build
from sasha.home import inventory

FIXTURES = Path(__file__).parent / "fixtures"

MINE = """\
home: {name: Our flat, timezone: Europe/Berlin}
rooms:
  - {id: lounge, name: Lounge}
  - {id: hall, name: Hall}
devices:
  # my comment
  - id: big_lamp
    name: Big lamp
    aliases: [the big one]
    room: lounge
    type: light
    protocol: zigbee2mqtt
    topic: zigbee2mqtt/living_room/ceiling
    description: The one over the table
    capabilities:
      power: {}
  - id: hall_lock
    name: Hall lock
    room: hall
    type: lock
    protocol: zigbee2mqtt
    topic: zigbee2mqtt/front_door_lock
    sensitive: false
    capabilities: {lock: {}}
  - id: old_plug
    name: Old plug
    room: hall
    type: plug
    protocol: tasmota
    topic: old_plug
    capabilities: {power: {}}
"""


def _z2m() -> list[tuple[str, bytes]]:
    data = json.loads((FIXTURES / "zigbee2mqtt_bridge_devices.json").read_text(encoding="utf-8"))
    return [("zigbee2mqtt/bridge/devices", json.dumps(data).encode())]


def test_merge_keeps_edits_adds_new_devices_and_lists_vanished_ones() -> None:
    """Keep ids, names, aliases, rooms, descriptions and sensitive; take capabilities from the announcement."""
    current = inventory.from_yaml(MINE)
    outcome = build(_z2m(), (yaml.safe_load(MINE), current))
    merged = inventory.from_yaml(outcome.text, "<merged>")

    lamp = merged.get("big_lamp")
    assert lamp is not None
    assert (lamp.name, lamp.aliases, lamp.room, lamp.description) == (
        "Big lamp",
        ("the big one",),
        "lounge",
        "The one over the table",
    )
    assert set(lamp.capabilities) == {"power", "brightness", "color_temp", "color"}  # fresh from the bulb
    lock = merged.get("hall_lock")
    assert lock is not None
    assert (lock.sensitive, lock.room, set(lock.capabilities)) == (False, "hall", {"lock", "battery"})

    old = merged.get("old_plug")
    assert old is not None  # never deleted
    assert outcome.unseen == ["old_plug"]
    assert "kept from your file: not announced this time" in outcome.text

    assert sorted(outcome.updated) == ["big_lamp", "hall_lock"]
    assert sorted(outcome.added) == ["bathroom_climate", "bedroom_blind", "hall_dimmer", "hall_motion", "office_trv"]
    assert merged.home.name == "Our flat"
    assert merged.rooms.keys() == {"lounge", "hall", "unassigned"}
    assert all(merged.devices[i].room == "unassigned" for i in outcome.added)


def test_merge_finds_new_ids_and_names_that_do_not_collide() -> None:
    """Give a new device a free id and name when the user already uses its natural ones."""
    mine = MINE.replace("id: old_plug", "id: hall_dimmer").replace("name: Old plug", "name: Hall dimmer")
    outcome = build(_z2m(), (yaml.safe_load(mine), inventory.from_yaml(mine)))
    merged = inventory.from_yaml(outcome.text)
    assert "hall_dimmer_2" in outcome.added
    assert merged.devices["hall_dimmer_2"].name == "Hall dimmer 2"
    assert merged.devices["hall_dimmer"].protocol.value == "tasmota"  # the user's, untouched


def test_merging_twice_changes_nothing() -> None:
    """Merge the result of a merge again and get the same file."""
    first = build(_z2m(), (yaml.safe_load(MINE), inventory.from_yaml(MINE)))
    second = build(_z2m(), (yaml.safe_load(first.text), inventory.from_yaml(first.text)))
    assert second.added == []
    assert inventory.from_yaml(second.text).devices.keys() == inventory.from_yaml(first.text).devices.keys()
