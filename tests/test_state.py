"""The state mirror takes whatever arrives on state topics and keeps working."""

from __future__ import annotations

import logging

import pytest

from sasha.home.actions import Action
from sasha.home.inventory import Inventory
from sasha.mqtt.connection import Incoming
from sasha.state import StateMirror
from tests.conftest import Rig

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
