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


_OVEN = """\
rooms: [{id: kitchen, name: Kitchen}]
devices:
  - id: my_oven
    name: My oven
    room: kitchen
    type: thermostat
    protocol: homeassistant
    topic: kitchen/oven
    capabilities: {power: {}}
  - id: back_lock
    name: Back lock
    room: kitchen
    type: lock
    protocol: homeassistant
    topic: kitchen/lock
    capabilities: {lock: {}}
"""


def _announced_oven_and_lock() -> list[tuple[str, bytes]]:
    oven = {"~": "kitchen/oven", "cmd_t": "~/set", "stat_t": "~/state", "dev": {"ids": ["oven"], "name": "Oven"}}
    lock = {"~": "kitchen/lock", "cmd_t": "~/set", "stat_t": "~/state", "dev": {"ids": ["lock"], "name": "Lock"}}
    return [
        ("homeassistant/switch/oven/config", json.dumps(oven).encode()),
        ("homeassistant/lock/lock/config", json.dumps(lock).encode()),
    ]


def _comments_above(text: str, ident: str) -> list[str]:
    lines = text.splitlines()
    index = lines.index(f"  - id: {ident}")
    above = []
    while lines[index - 1].startswith("  #"):
        index -= 1
        above.insert(0, lines[index].strip())
    return above


def test_merge_marks_a_device_sensitive_when_the_announcement_says_it_is() -> None:
    """Write `sensitive: true` and why for the user's oven typed thermostat, and for a lock the file leaves implicit."""
    outcome = build(_announced_oven_and_lock(), (yaml.safe_load(_OVEN), inventory.from_yaml(_OVEN)))
    raw = {d["id"]: d for d in yaml.safe_load(outcome.text)["devices"]}
    assert (raw["my_oven"]["type"], raw["my_oven"]["sensitive"]) == ("thermostat", True)  # the user's type stays
    assert any("heats food" in c for c in _comments_above(outcome.text, "my_oven"))
    assert raw["back_lock"]["sensitive"] is True
    assert any(c.startswith("# sensitive:") for c in _comments_above(outcome.text, "back_lock"))
    assert inventory.from_yaml(outcome.text).devices["my_oven"].sensitive


def test_merge_keeps_the_users_sensitive_false_and_says_what_the_announcement_thinks() -> None:
    """Keep an explicit `sensitive: false` (the user's choice) but name the risk in the comment above it."""
    outcome = build(_z2m(), (yaml.safe_load(MINE), inventory.from_yaml(MINE)))
    raw = {d["id"]: d for d in yaml.safe_load(outcome.text)["devices"]}
    assert raw["hall_lock"]["sensitive"] is False
    [comment] = [c for c in _comments_above(outcome.text, "hall_lock") if "sensitive" in c and "kept your" not in c]
    assert "sensitive: false" in comment
    assert "unlock" in comment
