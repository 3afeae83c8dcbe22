"""The state mirror takes whatever arrives on state topics and keeps working."""

from __future__ import annotations

import logging

import pytest

from sasha.adapters import adapter_for, availability
from sasha.executor import Result
from sasha.home import inventory
from sasha.home.actions import Action
from sasha.home.confirmation import Confirmation
from sasha.home.inventory import Inventory
from sasha.mqtt.connection import Incoming, MqttSettings
from sasha.mqtt.topics import cover
from sasha.state import StateMirror
from tests.conftest import ROOT, Rig, fast

GARBAGE = [
    ("sasha-demo/living_room_lamp", b"not json at all"),
    ("sasha-demo/living_room_lamp", b"\x00\xff\xfe\x80binary"),
    ("sasha-demo/living_room_lamp", b'{"brightness": "' + b"9" * 200_000 + b'"}'),
    ("sasha-demo/living_room_lamp", b'{"brightness": "bright", "power": 7, "color_temp": [1]}'),
    ("sasha-demo/living_room_lamp", b"[]"),
    ("sasha-demo/living_room_lamp", b""),
    ("zigbee2mqtt/bedroom_light", b'{"state": 1, "brightness": null, "color_temp": "warm"}'),
    ("zigbee2mqtt/kitchen_leak", b'{"water_leak": "yes"}'),
    ("sasha-demo/garden_lights/state", b"PERHAPS"),
    ("sasha-demo/office_motion/motion", b"\xff"),
    ("tele/bedroom_climate/SENSOR", b'{"AM2301": {"Temperature": "NaN", "Humidity": {"deep": 1}}}'),
    ("stat/hallway_light/RESULT", b'{"POWER": ["ON"], "Dimmer": "50"}'),
]


async def test_malformed_state_is_logged_and_ignored(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    """Ignore garbage from the broker, log it, and keep mirroring real state."""
    caplog.set_level(logging.WARNING, logger="sasha.state")
    before = rig.mirror.snapshot()
    for topic, payload in GARBAGE:
        assert await rig.link.publish(topic, payload, wait=5)
    # A real state change published after the garbage must still arrive.
    rig.simulator.set_values("bathroom_humidity", {"humidity": 66})
    assert await rig.mirror.wait_for("bathroom_humidity", {"humidity": 66}, timeout=5)
    after = rig.mirror.snapshot()
    after["bathroom_humidity"] = before["bathroom_humidity"]
    assert after == before
    assert rig.mirror.ignored >= len(GARBAGE)
    assert "ignoring" in caplog.text
    # And commands still round-trip.
    await rig.executor.execute([Action("living_room_lamp", {"brightness": 12})])
    assert await rig.mirror.wait_for("living_room_lamp", {"brightness": 12}, timeout=5)


def test_mirror_records_when_each_value_was_seen(home: Inventory) -> None:
    """Stamp every reading with the clock, and tell listeners only about changes."""
    now = [100.0]
    mirror = StateMirror(home, clock=lambda: now[0])
    heard: list[tuple[str, dict[str, object]]] = []
    mirror.add_listener(lambda device, changed: heard.append((device, dict(changed))))
    mirror.handle(Incoming("sasha-demo/living_room_lamp", b'{"power":"on","brightness":40}'))
    now[0] = 160.0
    mirror.handle(Incoming("sasha-demo/living_room_lamp", b'{"power":"on","brightness":41}'))
    power = mirror.get("living_room_lamp", "power")
    brightness = mirror.get("living_room_lamp", "brightness")
    assert power is not None
    assert brightness is not None
    assert (power.value, power.seen) == ("on", 160.0)
    assert (brightness.value, brightness.seen) == (41, 160.0)
    assert heard == [
        ("living_room_lamp", {"power": "on", "brightness": 40}),
        ("living_room_lamp", {"brightness": 41}),
    ]
    assert mirror.get("living_room_lamp", "color_temp") is None
    assert mirror.matches("living_room_lamp", {"brightness": 41})
    assert not mirror.matches("living_room_lamp", {"color_temp": 2700})


def test_a_failing_listener_does_not_stop_the_mirror(home: Inventory) -> None:
    """Log a listener's exception and keep going."""
    mirror = StateMirror(home)

    def broken(device: str, changed: dict[str, object]) -> None:
        raise RuntimeError(device)

    mirror.add_listener(broken)
    mirror.handle(Incoming("sasha-demo/living_room_lamp", b'{"power":"on"}'))
    assert mirror.values("living_room_lamp") == {"power": "on"}


async def test_availability_goes_offline_and_back_through_the_simulator(rig: Rig) -> None:
    """Keep each protocol's availability: offline from the simulator's control topic, then online again."""
    for device_id in ("living_room_ceiling", "hallway_light", "living_room_lamp"):
        assert await rig.mirror.wait_until(lambda d=device_id: rig.mirror.available(d) is True, 5), device_id
    assert rig.mirror.available("kitchen_light") is None  # Home Assistant devices say nothing unless configured
    async with fast(MqttSettings.from_url(rig.broker.url)) as control:
        await control.wait_connected(5)
        control.publish_nowait("sasha-sim/availability/living_room_ceiling", b"offline")
        assert await rig.mirror.wait_until(lambda: rig.mirror.available("living_room_ceiling") is False, 5)
        assert rig.mirror.offline() == {"living_room_ceiling"}
        # An offline bulb hears nothing.
        [sent] = await rig.executor.execute([Action("living_room_ceiling", {"power": "on"})], confirm=0.3)
        assert sent.confirmation is Confirmation.UNCONFIRMED
        assert rig.simulator.values("living_room_ceiling")["power"] == "off"
        control.publish_nowait("sasha-sim/availability/living_room_ceiling", b"online")
        assert await rig.mirror.wait_until(lambda: rig.mirror.available("living_room_ceiling") is True, 5)
    [again] = await rig.executor.execute([Action("living_room_ceiling", {"power": "on"})], confirm=2)
    assert again.confirmation is Confirmation.CONFIRMED


async def test_an_offline_device_can_be_skipped(rig: Rig) -> None:
    """Send nothing to a device that said it is offline when asked to skip it."""
    rig.simulator.set_online("hallway_light", False)
    assert await rig.mirror.wait_until(lambda: rig.mirror.available("hallway_light") is False, 5)
    assert rig.executor.offline([Action("hallway_light", {"power": "on"}), Action("office_light", {})]) == [
        "hallway_light"
    ]
    [outcome] = await rig.executor.execute([Action("hallway_light", {"power": "on"})], skip_offline=True)
    assert (outcome.result, outcome.error) == (Result.SKIPPED, "the device is offline")


def test_availability_of_wrong_words_is_ignored(home: Inventory) -> None:
    """Keep the last known availability when a device says a word it does not use."""
    mirror = StateMirror(home)
    mirror.handle(Incoming("tele/hallway_light/LWT", b"Offline"))
    mirror.handle(Incoming("tele/hallway_light/LWT", b"Maybe"))
    mirror.handle(Incoming("tele/hallway_light/LWT", b"\xff"))
    assert mirror.available("hallway_light") is False
    assert mirror.ignored == 1


def test_availability_adds_a_wildcard_per_protocol_not_a_filter_per_device() -> None:
    """Cover a large home's availability topics with a few wildcards beside the state ones."""
    house = inventory.from_file(ROOT / "tests" / "scenarios" / "homes" / "large_house.yaml")
    state = [t for d in house.devices.values() for t in adapter_for(d).state_topics(d)]
    online = [t for d in house.devices.values() for t in availability.topics(d)]
    assert len(online) > 100
    added = len(cover(state + online)) - len(cover(state))
    assert 0 < added <= 3  # zigbee2mqtt, generic, Tasmota
