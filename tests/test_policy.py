"""The policy: the safe direction of sensitive devices runs at once, the other waits; `both` holds both."""

from __future__ import annotations

from typing import Any

import pytest

from sasha.home import inventory
from sasha.home.actions import Action
from sasha.home.inventory import Inventory
from sasha.home.safety import safe_direction
from sasha.policy import Approvers, ConfirmMode, needs_confirmation, sensitive_devices

MARKED = """\
rooms: [{id: hall, name: Hall}]
devices:
  - {id: heater_plug, name: Heater plug, room: hall, type: plug, sensitive: true, capabilities: {power: {}}}
  - {id: valve, name: Valve, room: hall, type: water_valve, capabilities: {position: {}}}
"""


@pytest.mark.parametrize(
    ("device", "values", "safe"),
    [
        ("front_door", {"lock": "locked"}, True),
        ("front_door", {"lock": "unlocked"}, False),
        ("garage_door", {"position": 0}, True),
        ("garage_door", {"position": 100}, False),
        ("garage_door", {"position": 30}, False),
        ("main_water_valve", {"power": "off"}, True),
        ("main_water_valve", {"power": "on"}, False),
        ("kitchen_oven", {"power": "off"}, True),
        ("kitchen_oven", {"power": "on"}, False),
        ("kitchen_oven", {"power": "off", "target_temperature": 200}, False),
        ("kitchen_oven", {"target_temperature": 100}, False),
        ("house_alarm", {"power": "on"}, True),
        ("house_alarm", {"power": "off"}, False),
        ("front_door", {}, False),
        ("living_room_lamp", {"power": "off"}, False),
    ],
)
def test_safe_direction(home: Inventory, device: str, values: dict[str, Any], safe: bool) -> None:
    """Call locking, closing, oven off and arming safe; anything else, or anything mixed, is not."""
    assert safe_direction(home.devices[device], values) is safe


@pytest.mark.parametrize(
    ("mode", "lock", "unlock", "lamp"),
    [
        (ConfirmMode.NEVER, False, True, False),
        (ConfirmMode.SENSITIVE, False, True, False),
        (ConfirmMode.BOTH, True, True, False),
        (ConfirmMode.ALWAYS, True, True, True),
    ],
)
def test_which_plans_wait(home: Inventory, mode: ConfirmMode, lock: bool, unlock: bool, lamp: bool) -> None:
    """Hold unlocking in every mode, locking only with `both` or `always`, a lamp only with `always`."""
    assert needs_confirmation(home, [Action("front_door", {"lock": "locked"})], mode) is lock
    assert needs_confirmation(home, [Action("front_door", {"lock": "unlocked"})], mode) is unlock
    assert needs_confirmation(home, [Action("living_room_lamp", {"power": "on"})], mode) is lamp
    assert needs_confirmation(home, [], mode) is False


def test_a_plan_waits_for_its_unsafe_part_and_names_only_that(home: Inventory) -> None:
    """Name only the devices moved towards danger when a plan mixes both directions."""
    plan = [Action("front_door", {"lock": "locked"}), Action("garage_door", {"position": 100})]
    assert needs_confirmation(home, plan, ConfirmMode.SENSITIVE)
    assert sensitive_devices(home, plan) == ["garage_door"]
    assert sensitive_devices(home, plan, ConfirmMode.BOTH) == ["front_door", "garage_door"]


def test_a_device_marked_sensitive_has_no_safe_direction() -> None:
    """Hold every change of a user-marked sensitive device; a valve with a position closes at 0."""
    home = inventory.from_yaml(MARKED, "home.yaml")
    assert needs_confirmation(home, [Action("heater_plug", {"power": "off"})], ConfirmMode.SENSITIVE)
    assert not needs_confirmation(home, [Action("valve", {"position": 0})], ConfirmMode.SENSITIVE)
    assert needs_confirmation(home, [Action("valve", {"position": 10})], ConfirmMode.SENSITIVE)


def test_who_may_approve_is_the_owners_or_the_devices_own_list() -> None:
    """Let owners approve, a device's own list replace them, nobody else; the anonymous sender of --open may."""
    approvers = Approvers.of(["owner"], {"front_door": ["carol"]})
    assert approvers.may_approve("owner", ["garage_door"])
    assert not approvers.may_approve("alice", ["garage_door"])
    assert approvers.may_approve("carol", ["front_door"])
    assert not approvers.may_approve("owner", ["front_door"])
    # Both devices at once: only who may approve each of them.
    assert approvers.allowed(["front_door", "garage_door"]) == frozenset()
    assert approvers.may_approve("alice", [])  # nothing sensitive moves
    assert approvers.may_approve(None, ["front_door"])
    assert not Approvers().may_approve("owner", ["front_door"])  # no owners configured: nobody over MQTT
