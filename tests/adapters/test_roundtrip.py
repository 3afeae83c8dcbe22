"""Executor → broker → simulator → state topic → state mirror, for every device of the example home."""

from __future__ import annotations

import json

import pytest

from sasha.executor import Result
from sasha.home import inventory
from sasha.home.actions import Action
from sasha.home.capabilities import Value
from sasha.home.inventory import Capability, Device, DeviceType
from sasha.home.protocols import Protocol
from sasha.mqtt.connection import MqttSettings
from tests.conftest import EXAMPLE, Rig, fast

HOME = inventory.from_file(EXAMPLE)


def _new_value(capability: Capability, current: Value | None) -> Value:
    """Pick a valid value that differs from the current one, so a round trip proves something."""
    info = capability.info
    if isinstance(current, bool) or info.kind.value == "boolean":
        return not current
    if info.words or capability.values:
        choices = info.words or capability.values
        return next(c for c in choices if c != current)
    if capability.name == "color":
        return "#12ab34" if current != "#12ab34" else "#ff0000"
    low, high = capability.min or 0, capability.max or 100
    value = low + (high - low) * 0.37
    if capability.step:
        value = round(value / capability.step) * capability.step
    return round(value) if info.kind.value == "integer" else value


def _writable(device: Device) -> bool:
    return bool(device.writable)


@pytest.mark.parametrize("device_id", [d.id for d in HOME.devices.values() if _writable(d)])
async def test_command_round_trip(rig: Rig, device_id: str) -> None:
    """Publish a change of every writable capability and see the device report it back."""
    device = rig.home.devices[device_id]
    before = rig.simulator.values(device_id)
    # track is a one-off command with no state to report back; test_track_reaches_the_player covers it.
    wanted = {n: _new_value(c, before.get(n)) for n, c in device.writable.items() if not c.info.write_only}
    [outcome] = await rig.executor.execute([Action(device_id, wanted, "test")])
    assert outcome.result is Result.PUBLISHED, outcome.error
    assert not outcome.held
    assert await rig.mirror.wait_for(device_id, outcome.action.set, timeout=5), (
        wanted,
        rig.mirror.values(device_id),
    )
    # The simulated device itself holds the new values, not just the mirror.
    now = rig.simulator.values(device_id)
    for name, value in outcome.action.set.items():
        assert now[name] == value or name == "color_temp", (name, value, now[name])


@pytest.mark.parametrize("device_id", [d.id for d in HOME.devices.values() if "track" in d.capabilities])
async def test_track_reaches_the_player(rig: Rig, device_id: str) -> None:
    """Send next and previous track over the device's protocol; the player skips and plays, reporting no track."""
    for word in ("next", "previous"):
        [outcome] = await rig.executor.execute([Action(device_id, {"track": word}, "test")])
        assert outcome.result is Result.PUBLISHED, outcome.error
    assert await rig.mirror.wait_for(device_id, {"playback": "playing"}, timeout=5)
    assert rig.simulator.tracks == [(device_id, "next"), (device_id, "previous")]
    assert "track" not in rig.mirror.values(device_id)
    assert not rig.executor.peek_undo() or all("track" not in a.set for a in rig.executor.peek_undo())


@pytest.mark.parametrize("device_id", [d.id for d in HOME.devices.values() if d.type is DeviceType.SENSOR])
async def test_sensor_round_trip(rig: Rig, device_id: str) -> None:
    """Set a sensor through the simulator's control topic and see the mirror read it."""
    device = rig.home.devices[device_id]
    wanted: dict[str, Value] = {}
    for name, capability in device.capabilities.items():
        current = rig.simulator.values(device_id)[name]
        wanted[name] = (not current) if isinstance(current, bool) else 42
        assert not capability.writable
    await rig.link.publish(f"sasha-sim/set/{device_id}", json.dumps(wanted), wait=2)
    assert await rig.mirror.wait_for(device_id, wanted, timeout=5), rig.mirror.values(device_id)


def test_the_round_trips_cover_every_protocol_and_type() -> None:
    """Make sure the parametrised round trips above span all protocols and device types."""
    # `hass` devices are Home Assistant's own entities: their round trip runs against a real Home
    # Assistant in integrations/homeassistant/tests/test_hub.py, their wire format in test_hass.py.
    assert {d.protocol for d in HOME.devices.values()} == set(Protocol) - {Protocol.HASS}
    assert {d.type for d in HOME.devices.values()} == set(DeviceType)


async def test_state_survives_a_restart_of_the_assistant(rig: Rig) -> None:
    """A new mirror on a new connection gets every device's state from retained messages."""
    from sasha.state import StateMirror

    await rig.executor.execute([Action("bedroom_light", {"power": "on", "brightness": 55})])
    assert await rig.mirror.wait_for("bedroom_light", {"brightness": 55}, timeout=5)
    fresh = StateMirror(rig.home)
    async with fast(MqttSettings.from_url(rig.broker.url)) as link:
        await fresh.attach(link)
        assert await fresh.wait_for("bedroom_light", {"power": "on", "brightness": 55}, timeout=5)
        for device_id in rig.home.devices:
            assert await fresh.wait_for(device_id, rig.simulator.values(device_id), timeout=5), device_id
