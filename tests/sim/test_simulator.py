"""The simulated home: physics as pure functions, and the simulator's inputs over MQTT."""

from __future__ import annotations

import json
import random

import pytest

from sasha.home.inventory import Inventory
from sasha.sim import physics
from sasha.sim.simulator import Simulator
from tests.conftest import Rig


def _run(home: Inventory, state: physics.State, seconds: float, steps: int, seed: int = 1) -> physics.State:
    rng = random.Random(seed)
    for _ in range(steps):
        physics.apply(state, physics.step(home, state, seconds, rng))
    return state


def test_initial_state_is_valid_for_every_device(home: Inventory) -> None:
    """Start each device inside its own ranges and choices."""
    from sasha.home.validation import validate

    for device in home.devices.values():
        values = physics.initial_values(device)
        assert set(values) == {n for n, c in device.capabilities.items() if not c.info.write_only}
        writable = {k: v for k, v in values.items() if device.capabilities[k].writable}
        if writable:
            assert validate(home, device.id, writable).ok, device.id


def test_room_warms_towards_the_thermostat(home: Inventory) -> None:
    """Heat a room towards its target when the thermostat heats, and no further."""
    state = physics.initial_state(home)
    state["living_room_thermostat"].update({"hvac_mode": "heat", "target_temperature": 23})
    state["living_room_thermostat"]["temperature"] = 18.0
    state["living_room_air"]["temperature"] = 18.0
    _run(home, state, 60, 120)  # two hours
    assert 22.5 <= float(state["living_room_thermostat"]["temperature"]) <= 23.0
    assert state["living_room_air"]["temperature"] == state["living_room_thermostat"]["temperature"]


def test_heater_warms_the_bedroom_only_when_on(home: Inventory) -> None:
    """Warm the bedroom with the heater on; let it drift to ambient with it off."""
    on = physics.initial_state(home)
    on["bedroom_heater"].update({"power": "on", "target_temperature": 24})
    off = physics.initial_state(home)
    _run(home, on, 60, 60)
    _run(home, off, 60, 60)
    assert float(on["bedroom_climate"]["temperature"]) > 22
    assert float(off["bedroom_climate"]["temperature"]) < 20.5


def test_bathroom_fan_clears_humidity(home: Inventory) -> None:
    """Bring humidity down faster with the extractor fan on."""
    humid = physics.initial_state(home)
    humid["bathroom_humidity"]["humidity"] = 80.0
    venting = physics.initial_state(home)
    venting["bathroom_humidity"]["humidity"] = 80.0
    venting["bathroom_fan"]["power"] = "on"
    _run(home, humid, 60, 20)
    _run(home, venting, 60, 20)
    assert float(venting["bathroom_humidity"]["humidity"]) < float(humid["bathroom_humidity"]["humidity"]) - 10


def test_motion_comes_and_goes(home: Inventory) -> None:
    """Flip motion both ways over a simulated day."""
    state = physics.initial_state(home)
    rng = random.Random(3)
    seen = set()
    for _ in range(24 * 60):
        physics.apply(state, physics.step(home, state, 60, rng))
        seen.add(state["office_motion"]["motion"])
    assert seen == {True, False}


def test_plugs_count_energy_when_on(home: Inventory) -> None:
    """Draw power and count energy only while a plug is on."""
    state = physics.initial_state(home)
    state["kitchen_kettle_plug"]["power"] = "on"
    start = float(state["kitchen_kettle_plug"]["energy"])
    _run(home, state, 60, 6)
    assert state["kitchen_kettle_plug"]["power_usage"] == 2000.0
    assert float(state["kitchen_kettle_plug"]["energy"]) == pytest.approx(start + 0.2, abs=1e-3)
    assert state["office_plug"]["power_usage"] == 0.0


def test_same_seed_same_home(home: Inventory) -> None:
    """Replay the same physics with the same seed."""
    first = _run(home, physics.initial_state(home), 30, 50, seed=9)
    second = _run(home, physics.initial_state(home), 30, 50, seed=9)
    assert first == second


async def test_set_values_checks_its_input(rig: Rig) -> None:
    """Refuse unknown devices, capabilities and values of the wrong type."""
    assert rig.simulator.set_values("nope", {"power": "on"}) == ["no device 'nope'"]
    assert "has no capability 'warp'" in rig.simulator.set_values("living_room_lamp", {"warp": 1})[0]
    assert rig.simulator.set_values("bathroom_humidity", {"humidity": "wet"})
    assert rig.simulator.set_values("living_room_lamp", {"brightness": 300})
    assert rig.simulator.set_values("bathroom_humidity", {"humidity": 61}) == []


async def test_initial_overrides(home: Inventory, rig: Rig) -> None:
    """Start from given values, and refuse an impossible start."""
    simulator = Simulator(home, rig.sim_link, initial={"living_room_lamp": {"power": "on", "brightness": 5}})
    assert simulator.values("living_room_lamp")["brightness"] == 5
    with pytest.raises(ValueError, match="brightness"):
        Simulator(home, rig.sim_link, initial={"living_room_lamp": {"brightness": 0}})


async def test_control_topic_sets_sensors(rig: Rig) -> None:
    """Take `sasha-sim/set/<device>` JSON, and ignore junk sent there."""
    await rig.link.publish("sasha-sim/set/office_motion", b"{not json", wait=5)
    await rig.link.publish("sasha-sim/set/office_motion", b"[1]", wait=5)
    await rig.link.publish("sasha-sim/set/office_motion", json.dumps({"motion": True, "illuminance": 12}), wait=5)
    assert await rig.mirror.wait_for("office_motion", {"motion": True, "illuminance": 12}, timeout=5)


async def test_devices_ignore_commands_they_cannot_take(rig: Rig) -> None:
    """Drop a raw out-of-range or garbled command the way a real device would."""
    await rig.link.publish("sasha-demo/living_room_lamp/set", b'{"brightness": 900, "power": "on"}', wait=5)
    await rig.link.publish("cmnd/hallway_light/POWER", b"SIDEWAYS", wait=5)
    await rig.link.publish("zigbee2mqtt/bedroom_light/set", b"garbage", wait=5)
    assert await rig.mirror.wait_for("living_room_lamp", {"power": "on"}, timeout=5)
    assert rig.simulator.values("living_room_lamp")["brightness"] == 80
    assert rig.simulator.values("hallway_light")["power"] == "off"


async def test_advance_publishes_sensor_changes(rig: Rig) -> None:
    """Publish what the physics changed when time moves."""
    rig.simulator.set_values("bedroom_heater", {"power": "on", "target_temperature": 26})
    rig.simulator.advance(1800)
    reading = rig.simulator.values("bedroom_climate")["temperature"]
    assert float(reading) > 21
    assert await rig.mirror.wait_for("bedroom_climate", {"temperature": reading}, timeout=5)


async def test_tasmota_devices_answer_on_stat_result_and_power(rig: Rig) -> None:
    """Answer a command on stat/<topic>/RESULT (and stat/<topic>/POWER) like the firmware, not only tele/STATE."""
    import asyncio

    from sasha.mqtt.connection import Incoming, MqttSettings
    from tests.conftest import fast

    got: dict[str, bytes] = {}
    both = asyncio.Event()

    def keep(message: Incoming) -> None:
        got[message.topic] = message.payload
        if {"stat/hallway_light/RESULT", "stat/hallway_light/POWER"} <= got.keys():
            both.set()

    async with fast(MqttSettings.from_url(rig.broker.url)) as listener:
        await listener.subscribe(["stat/hallway_light/#"], keep)
        await listener.wait_connected(5)
        await rig.link.publish("cmnd/hallway_light/POWER", b"ON", wait=5)
        async with asyncio.timeout(10):
            await both.wait()
    assert got["stat/hallway_light/POWER"] == b"ON"
    assert json.loads(got["stat/hallway_light/RESULT"])["POWER"] == "ON"


async def test_simulator_announces_again_when_home_assistant_comes_online(rig: Rig) -> None:
    """Publish the discovery configs again on Home Assistant's birth message."""
    import asyncio

    from sasha.mqtt.connection import Incoming, MqttSettings
    from tests.conftest import fast

    fresh = asyncio.Event()

    def keep(message: Incoming) -> None:
        if not message.retain:  # retained copies are the old announcement; a live one is new
            fresh.set()

    async with fast(MqttSettings.from_url(rig.broker.url)) as listener:
        await listener.subscribe(["homeassistant/light/sasha_sim/kitchen_light/config"], keep)
        await listener.wait_connected(5)
        await rig.link.publish("homeassistant/status", b"online", wait=5)
        async with asyncio.timeout(10):
            await fresh.wait()
