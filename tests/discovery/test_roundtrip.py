"""Round trip: `sasha sim` announces the example home, `sasha discover` reads it back on a real broker."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import yaml

from sasha.adapters import adapter_for
from sasha.discovery.build import build
from sasha.discovery.listen import listen
from sasha.home import inventory
from sasha.home.inventory import Device, Inventory
from sasha.home.protocols import Protocol
from sasha.mqtt.connection import MqttSettings
from sasha.mqtt.mosquitto import Mosquitto
from sasha.sim import announce
from tests.conftest import EXAMPLE, Rig, clean_env, fast, run_sasha, start_sasha
from tests.surfaces.test_daemon import _client

# The example home's devices that cannot announce themselves, and why.
NOT_ANNOUNCED = {
    "living_room_tv": "Home Assistant's MQTT integration has no media players",
}


def _topics(device: Device) -> tuple[set[str], set[str]]:
    adapter = adapter_for(device)
    return set(adapter.command_topics(device)), set(adapter.state_topics(device))


def _ranges(device: Device) -> dict[str, tuple[object, ...]]:
    return {n: (c.min, c.max, c.step, c.values) for n, c in device.capabilities.items()}


def _match(found: Inventory, device: Device) -> Device:
    mine = _topics(device)
    [twin] = [d for d in found.devices.values() if d.protocol is device.protocol and _topics(d)[1] & mine[1]]
    return twin


async def test_discover_reads_back_every_announced_device_of_the_simulated_home(rig: Rig) -> None:
    """Give every announced device the same capabilities, ranges and topics as the original, all three protocols."""
    messages = await listen(MqttSettings.from_url(rig.broker.url), wait=1.0)
    outcome = build(messages)
    found = inventory.from_yaml(outcome.text, "<discovered>")
    announcing = [d for d in rig.home.devices.values() if d.protocol is not Protocol.GENERIC]
    checked = set()
    for device in announcing:
        if device.id in NOT_ANNOUNCED:
            assert not any(
                d.protocol is device.protocol and _topics(d)[1] & _topics(device)[1] for d in found.devices.values()
            )
            continue
        twin = _match(found, device)
        assert _ranges(twin) == _ranges(device), device.id
        assert _topics(twin) == _topics(device), device.id
        checked.add(device.protocol)
    assert checked == {Protocol.HOMEASSISTANT, Protocol.ZIGBEE2MQTT, Protocol.TASMOTA}
    assert len(found) == len(announcing) - len(NOT_ANNOUNCED)
    # Rooms come from Home Assistant's suggested area; the others wait in `unassigned`.
    assert found.devices["kitchen_light"].room == "kitchen"
    assert [s.reason for s in outcome.skipped] == ["the coordinator is the Zigbee radio, not a device"]


def test_the_simulator_says_which_devices_it_cannot_announce(home: Inventory) -> None:
    """List generic devices and the media player as not announced, and nothing else."""
    from sasha.sim import physics

    _, unannounced = announce.announcements(home, physics.initial_state(home))
    ids = {reason.split(":")[0].split(".")[0] for reason in unannounced}
    generic = {d.id for d in home.devices.values() if d.protocol is Protocol.GENERIC}
    assert ids == generic | set(NOT_ANNOUNCED)


async def test_discover_command_prints_yaml_and_writes_nothing_without_out(rig: Rig, tmp_path: Path) -> None:
    """Print the inventory and the summary without --out or --merge; write it with --out."""
    code, out, err = await run_sasha(
        "discover", "--mqtt-url", rig.broker.url, "--wait", "1", cwd=tmp_path, env=clean_env()
    )
    assert code == 0, err
    assert not any(tmp_path.glob("*"))  # noqa: ASYNC240  (a test, after the subprocess ended)
    # Every device that announces itself comes back: not the generic ones, nor the media player.
    announced = [d for d in rig.home.devices.values() if d.protocol is not Protocol.GENERIC]
    expected = len(announced) - len(NOT_ANNOUNCED)
    assert len(inventory.from_yaml(out)) == expected
    assert f"{expected} devices from" in err
    assert "coordinator" in err

    target = tmp_path / "devices.yaml"
    code, out, _ = await run_sasha("discover", "--mqtt-url", rig.broker.url, "--wait", "1", "--out", str(target))
    assert code == 0
    assert len(inventory.from_file(target)) == expected
    code, out, _ = await run_sasha("check", "--devices", str(target))
    assert code == 0, out


async def test_discover_merge_writes_back_and_keeps_a_backup(rig: Rig, tmp_path: Path) -> None:
    """Merge into a file, keeping the user's file as FILE.bak and every device of it."""
    target = tmp_path / "devices.yaml"
    original = (Path(__file__).parents[2] / "devices.yaml").read_text(encoding="utf-8")
    target.write_text(original, encoding="utf-8")
    code, out, err = await run_sasha("discover", "--mqtt-url", rig.broker.url, "--wait", "1", "--merge", str(target))
    assert code == 0, err
    assert (tmp_path / "devices.yaml.bak").read_text(encoding="utf-8") == original
    merged = inventory.from_file(target)
    assert set(merged.devices) == set(rig.home.devices)  # every device matched or kept; none added
    assert merged.devices["living_room_ceiling"].room == "living_room"
    # Announced as a climate entity, the oven stays an oven, and so stays sensitive.
    oven = merged.devices["kitchen_oven"]
    assert (oven.type.value, oven.sensitive) == ("oven", True)
    # Generic devices never announce; only the media player is reported as not seen.
    assert "Not announced this time (kept, not deleted): living_room_tv\n" in out


_WIRED_HOME = """\
rooms: [{id: den, name: Den}, {id: yard, name: Yard}]
devices:
  - id: den_light
    name: Den light
    room: den
    type: light
    protocol: homeassistant
    topic: shellies/den
    light_schema: default
    availability: [{topic: shellies/den/online, payload_available: "true", payload_not_available: "false"}]
    capabilities: {power: {}, brightness: {min: 1, max: 100}, color_temp: {min: 2700, max: 5000}, color: {}}
    wire:
      power: {payload_on: "on", payload_off: "off"}
      brightness: {scale: 100}
  - id: den_lock
    name: Den lock
    room: den
    type: lock
    protocol: homeassistant
    topic: locks/den
    capabilities: {lock: {}}
    wire: {lock: {payload_on: CLOSE, payload_off: OPEN, state_on: closed, state_off: open}}
  - id: den_climate
    name: Den climate
    room: den
    type: thermostat
    protocol: homeassistant
    topic: hvac/den
    capabilities:
      target_temperature: {min: 16, max: 28, step: 0.5}
      hvac_mode: {values: ["off", heat, cool]}
      temperature: {}
      humidity: {}
  - id: den_door
    name: Den door
    room: den
    type: sensor
    protocol: homeassistant
    topic: doors/den
    capabilities: {contact: {}, battery: {}}
  - id: yard_gate
    name: Yard gate
    room: yard
    type: garage_door
    protocol: homeassistant
    topic: gates/yard
    capabilities: {position: {}}
    wire: {position: {scale: 255}}
  - id: yard_trv
    name: Yard radiator
    room: yard
    type: thermostat
    protocol: zigbee2mqtt
    topic: zigbee2mqtt/yard_trv
    capabilities: {target_temperature: {min: 5, max: 30, step: 0.5}, temperature: {}}
    wire: {target_temperature: {key: occupied_heating_setpoint}, temperature: {key: local_temperature}}
"""


def test_wire_settings_survive_announce_and_discover() -> None:
    """Read back default-schema lights, words, scales, climate modes and zigbee2mqtt keys from the announcements."""
    from sasha.sim import physics

    home = inventory.from_yaml(_WIRED_HOME)
    messages, unannounced = announce.announcements(home, physics.initial_state(home))
    assert unannounced == []
    found = inventory.from_yaml(build([(m.topic, m.payload) for m in messages]).text)
    assert len(found) == len(home)
    for device in home.devices.values():
        twin = _match(found, device)
        assert _ranges(twin) == _ranges(device), device.id
        assert _topics(twin) == _topics(device), device.id
        # Only Home Assistant's suggested_area names a room; zigbee2mqtt devices wait in `unassigned`.
        assert twin.room == (device.room if device.protocol is Protocol.HOMEASSISTANT else "unassigned")
        # The same values travel the same way: the twin's commands are the original's.
        values = {n: v for n, v in physics.initial_values(device).items() if device.capabilities[n].writable}
        mine = [(m.topic, m.payload) for m in adapter_for(device).encode_command(device, values)]
        theirs = [(m.topic, m.payload) for m in adapter_for(twin).encode_command(twin, values)]
        assert theirs == mine, device.id
        assert twin.availability == (device.availability if device.protocol is Protocol.HOMEASSISTANT else None)
    assert found.devices["yard_gate"].sensitive


async def test_a_discovered_oven_waits_for_a_yes(broker: Mosquitto, tmp_path: Path) -> None:
    """Run `sasha sim` and `sasha discover` as processes: the oven is an oven, sensitive, and "turn on" waits."""
    sim = await start_sasha("sim", "--devices", str(EXAMPLE), "--mqtt-url", broker.url)
    try:
        settings = MqttSettings.from_url(broker.url)
        async with asyncio.timeout(30):
            while not any("kitchen_oven" in topic for topic, _ in await listen(settings, wait=0.2)):
                pass  # the simulator is still starting
        target = tmp_path / "devices.yaml"
        code, _, err = await run_sasha("discover", "--mqtt-url", broker.url, "--wait", "1", "--out", str(target))
        assert code == 0, err
        text = target.read_text(encoding="utf-8")
        [oven] = [d for d in yaml.safe_load(text)["devices"] if d["topic"] == "sasha-demo/kitchen_oven"]
        assert (oven["type"], oven["sensitive"]) == ("oven", True)  # written out, not left to the type
        assert f"  # sensitive: it heats food (its name says 'oven')\n  - id: {oven['id']}\n" in text
        code, out, _ = await run_sasha("check", "--devices", str(target))
        assert code == 0, out

        common = ["--devices", str(target), "--mqtt-url", broker.url, "--state-dir", str(tmp_path)]
        code, out, err = await run_sasha("ask", "turn on the oven", "--json", *common)
        assert code == 3, out + err
        reply = json.loads(out)
        assert reply["status"] == "needs_confirmation"
        assert reply["usage"]["model_calls"] == 0
        # The discovered file drives the real simulated oven once somebody says yes.
        code, out, err = await run_sasha("ask", "turn on the oven", "--yes", "--json", *common)
        assert code == 0, out + err
        assert json.loads(out)["status"] == "done"
    finally:
        sim.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            await sim.communicate()


async def test_discover_writes_home_assistants_own_entities(broker: Mosquitto, tmp_path: Path) -> None:
    """Read the integration's retained inventory on `sasha-hass/inventory` and write its entities as `hass` devices."""
    body = {
        "format": 1,
        "areas": [{"id": "hall", "name": "Hall", "aliases": ["entrance"]}],
        "entities": [
            {"entity_id": "lock.front_door", "name": "Front Door", "area": "hall"},
            {"entity_id": "light.porch", "name": "Porch", "attributes": {"supported_color_modes": ["onoff"]}},
        ],
    }
    async with fast(MqttSettings.from_url(broker.url)) as link:
        await link.wait_connected(5)
        await link.publish("sasha-hass/inventory", json.dumps(body), retain=True)
    target = tmp_path / "devices.yaml"
    code, _, err = await run_sasha("discover", "--mqtt-url", broker.url, "--wait", "1", "--out", str(target))
    assert code == 0, err
    home = inventory.from_file(target)
    assert {d.id: (d.protocol, d.topic, d.room) for d in home.devices.values()} == {
        "front_door": (Protocol.HASS, "sasha-hass/lock.front_door", "hall"),
        "porch": (Protocol.HASS, "sasha-hass/light.porch", "unassigned"),
    }
    assert home.devices["front_door"].sensitive
    assert home.rooms["hall"].aliases == ("entrance",)


async def test_run_hass_only_without_an_inventory_says_so(broker: Mosquitto, tmp_path: Path) -> None:
    """Exit 1 from `sasha run --hass only` (no devices.yaml needed) when no inventory is offered, saying where."""
    common = ["--mqtt-url", broker.url, "--state-dir", str(tmp_path), "--hass", "only"]
    code, _, err = await run_sasha("run", *common, cwd=tmp_path)
    assert code == 1
    assert "no Home Assistant inventory on sasha-hass/inventory" in err


async def test_discovered_availability_says_a_device_is_offline(broker: Mosquitto, tmp_path: Path) -> None:
    """Run `sasha sim --offline`, `sasha discover` and `sasha ask`: the written availability reaches the reply."""
    wired = tmp_path / "wired.yaml"
    wired.write_text(_WIRED_HOME, encoding="utf-8")
    sim = await start_sasha("sim", "--devices", str(wired), "--mqtt-url", broker.url, "--offline", "den_light")
    try:
        settings = MqttSettings.from_url(broker.url)
        async with asyncio.timeout(30):
            while not any("den_light" in topic for topic, _ in await listen(settings, wait=0.2)):
                pass  # the simulator is still starting
        target = tmp_path / "devices.yaml"
        code, _, err = await run_sasha("discover", "--mqtt-url", broker.url, "--wait", "1", "--out", str(target))
        assert code == 0, err
        [light] = [d for d in yaml.safe_load(target.read_text(encoding="utf-8"))["devices"] if d["name"] == "Den light"]
        assert light["availability"] == [
            {"topic": "shellies/den/online", "payload_available": "true", "payload_not_available": "false"}
        ]
        common = [
            "--devices",
            str(target),
            "--mqtt-url",
            broker.url,
            "--state-dir",
            str(tmp_path),
            "--confirm-wait",
            "0.5",
        ]
        code, out, err = await run_sasha("ask", "turn on the den light", "--json", *common)
        reply = json.loads(out)
        assert reply["message"].startswith("The Den light is offline; I sent the command anyway."), out + err
        assert [a["confirmation"] for a in reply["actions"]] == ["unconfirmed"]
    finally:
        sim.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            await sim.communicate()


def _hass_inventory(*lights: str) -> str:
    """Return an inventory from the Sasha integration with one on/off light per name, in the Hall."""
    entities = [
        {
            "entity_id": f"light.{name}",
            "name": name.title(),
            "area": "hall",
            "attributes": {"supported_color_modes": ["onoff"]},
        }
        for name in lights
    ]
    return json.dumps({"format": 1, "areas": [{"id": "hall", "name": "Hall"}], "entities": entities})


async def test_run_hass_never_says_online_with_an_inventory_that_changed_while_it_started_over(
    broker: Mosquitto, tmp_path: Path
) -> None:
    """Offer two inventories back to back to `sasha run --hass only`: it comes back online once, with the last.

    The first change makes it start over; the second arrives while it does. Saying online with the
    first would let a client's request meet a daemon that is about to go again, and that does
    not know the devices the second brought.
    """
    async with fast(MqttSettings.from_url(broker.url)) as link:
        await link.wait_connected(5)
        await link.publish("sasha-hass/inventory", _hass_inventory("porch"), retain=True)
    args = ("run", "--hass", "only", "--open", "--mqtt-url", broker.url, "--state-dir", str(tmp_path))
    process = await start_sasha(*args, "--confirm-wait", "0.2")
    said: list[bytes] = []
    try:
        async with _client(broker.url) as client:
            await client.subscribe("sasha/status", qos=1)
            await client.subscribe("sasha/response", qos=1)
            messages = aiter(client.messages)
            try:
                async with asyncio.timeout(30):
                    while said[-1:] != [b"online"]:
                        if (message := await anext(messages)).topic.matches("sasha/status"):
                            said.append(bytes(message.payload))  # type: ignore[arg-type]
                    await client.publish("sasha-hass/inventory", _hass_inventory("porch", "den"), qos=1, retain=True)
                    await client.publish(
                        "sasha-hass/inventory", _hass_inventory("porch", "den", "attic"), qos=1, retain=True
                    )
                    while said.count(b"online") < 2:
                        if (message := await anext(messages)).topic.matches("sasha/status"):
                            said.append(bytes(message.payload))  # type: ignore[arg-type]
                    request = {"id": "attic", "text": "turn on the attic light"}
                    await client.publish("sasha/request", json.dumps(request), qos=1)
                    while True:
                        message = await anext(messages)
                        if message.topic.matches("sasha/status"):
                            said.append(bytes(message.payload))  # type: ignore[arg-type]
                        elif json.loads(message.payload).get("id") == "attic":  # type: ignore[arg-type]
                            reply = json.loads(message.payload)  # type: ignore[arg-type]
                            break
            except TimeoutError:
                raise AssertionError(f"no reply to the request; Sasha said {said}") from None
        assert reply["status"] == "done", reply
        assert [a["device"] for a in reply["actions"]] == ["attic"]
    finally:
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(15):
            _, err = await process.communicate()
    # Online with the porch; then offline, and online again only with the attic.
    assert said[said.index(b"online") + 1 :] == [b"offline", b"online"], said
    assert err.decode().count("Home Assistant's inventory changed") == 2, err.decode()[-3000:]
