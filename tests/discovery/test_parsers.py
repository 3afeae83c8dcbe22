"""Announcements written from each project's documented format → inventory entries, and odd ones skipped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sasha.adapters import adapter_for
from sasha.discovery import homeassistant
from sasha.discovery.build import build
from sasha.home import inventory
from sasha.home.inventory import Device, Inventory

FIXTURES = Path(__file__).parent / "fixtures"


def _messages(name: str) -> list[tuple[str, bytes]]:
    data = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    if isinstance(data, list):
        return [("zigbee2mqtt/bridge/devices", json.dumps(data).encode())]
    return [(topic, json.dumps(body).encode()) for topic, body in data.items()]


def _home(*names: str) -> tuple[Inventory, Any]:
    messages = [m for name in names for m in _messages(name)]
    outcome = build(messages)
    return inventory.from_yaml(outcome.text, "<discovered>"), outcome


def _by_topic(home: Inventory, topic: str) -> Device:
    return next(d for d in home.devices.values() if d.topic == topic)


def _caps(device: Device) -> dict[str, tuple[Any, ...]]:
    return {n: (c.min, c.max, c.step, c.values) for n, c in device.capabilities.items()}


def test_expand_turns_abbreviations_and_the_base_topic_into_full_keys() -> None:
    """Expand `cmd_t`, `stat_t`, `dev.sa` and `~` the way Home Assistant does."""
    expanded = homeassistant.expand(
        {"~": "a/b", "cmd_t": "~/set", "stat_t": "state/~", "dev": {"ids": ["x"], "sa": "Den"}, "bri_scl": 100}
    )
    assert expanded["command_topic"] == "a/b/set"
    assert expanded["state_topic"] == "state/a/b"
    assert expanded["device"] == {"identifiers": ["x"], "suggested_area": "Den"}
    assert expanded["brightness_scale"] == 100


def test_zigbee2mqtt_exposes_become_capabilities() -> None:
    """Map a colour bulb, a dimmer, a blind, a thermostat, a lock and two sensors; skip the coordinator."""
    home, outcome = _home("zigbee2mqtt_bridge_devices.json")
    bulb = _by_topic(home, "zigbee2mqtt/living_room/ceiling")
    assert bulb.name == "Ceiling"
    assert bulb.type.value == "light"
    assert _caps(bulb) == {
        "power": (None, None, None, ()),
        "brightness": (1, 100, None, ()),
        "color_temp": (2000, 6550, None, ()),  # 153 mireds is 6536 K
        "color": (None, None, None, ()),
    }
    assert set(_by_topic(home, "zigbee2mqtt/hall_dimmer").capabilities) == {"power", "brightness"}
    blind = _by_topic(home, "zigbee2mqtt/bedroom_blind")
    assert (blind.type.value, set(blind.capabilities)) == ("cover", {"position", "battery"})
    trv = _by_topic(home, "zigbee2mqtt/office_trv")
    assert trv.type.value == "thermostat"
    assert _caps(trv)["target_temperature"] == (5, 32, 0.5, ())
    assert trv.capabilities["hvac_mode"].values == ("heat",)
    # This thermostat names its values its own way: the inventory says so, and the adapter follows.
    assert trv.wire["target_temperature"].key == "occupied_heating_setpoint"
    assert trv.wire["temperature"].key == "local_temperature"
    [message] = adapter_for(trv).encode_command(trv, {"target_temperature": 21.5})
    assert json.loads(message.payload) == {"occupied_heating_setpoint": 21.5}
    lock = _by_topic(home, "zigbee2mqtt/front_door_lock")
    assert (lock.type.value, lock.sensitive, set(lock.capabilities)) == ("lock", True, {"lock", "battery"})
    climate = _by_topic(home, "zigbee2mqtt/bathroom_climate")
    assert set(climate.capabilities) == {"temperature", "humidity", "battery"}
    motion = _by_topic(home, "zigbee2mqtt/hall_motion")
    assert set(motion.capabilities) == {"motion", "illuminance", "battery"}
    reasons = {s.source.split("'")[1]: s.reason for s in outcome.skipped}
    assert "coordinator" in reasons["Coordinator"]
    assert "not supported" in reasons["0x00158d000a0a0009"]
    assert all(d.room == "unassigned" for d in home.devices.values())


def test_home_assistant_configs_become_capabilities() -> None:
    """Map both light schemas, climate per-field topics, payloads, scales, a cover, a lock, a fan and a valve."""
    home, _ = _home("homeassistant_configs.json")
    kitchen = home.get("kitchen_ceiling")
    assert kitchen is not None
    assert (kitchen.room, kitchen.light_schema, kitchen.topic) == ("kitchen", "json", "esphome/kitchen/light/ceiling")
    assert _caps(kitchen)["color_temp"] == (2700, 6550, None, ())
    assert "color" in kitchen.capabilities
    [message] = adapter_for(kitchen).encode_command(kitchen, {"power": "on", "brightness": 50})
    assert (message.topic, json.loads(message.payload)) == (
        "esphome/kitchen/light/ceiling/command",
        {"state": "ON", "brightness": 50},  # brightness_scale 100
    )

    hall = home.get("hall_light")
    assert hall is not None
    assert (hall.room, hall.light_schema) == ("hallway", "default")
    assert _caps(hall)["color_temp"] == (2500, 5000, None, ())
    sent = adapter_for(hall).encode_command(hall, {"power": "on", "brightness": 40, "color_temp": 4000})
    assert [(m.topic, m.payload) for m in sent] == [
        ("shellies/hall/light/0/command", b"on"),
        ("shellies/hall/light/0/brightness/set", b"40"),
        ("shellies/hall/light/0/temp/set", b"250"),
    ]
    assert adapter_for(hall).decode_state(hall, "shellies/hall/light/0/status", b"off") == {"power": "off"}

    pump = home.get("office_heat_pump")
    assert pump is not None
    assert _caps(pump) == {
        "target_temperature": (16, 30, 0.5, ()),
        "temperature": (None, None, None, ()),
        "hvac_mode": (None, None, None, ("off", "heat", "cool", "auto")),
    }
    assert set(adapter_for(pump).command_topics(pump)) == {"hvac/office/target/set", "hvac/office/mode/set"}
    assert set(adapter_for(pump).state_topics(pump)) == {
        "hvac/office/target",
        "hvac/office/current",
        "hvac/office/mode",
    }

    plug = home.get("dishwasher_plug")
    assert plug is not None
    assert (plug.type.value, set(plug.capabilities)) == ("plug", {"power", "power_usage"})
    assert adapter_for(plug).encode_command(plug, {"power": "on"})[0].payload == b"1"
    assert adapter_for(plug).decode_state(plug, "plugs/1/telemetry", b'{"power": 12.5, "voltage": 230}') == {
        "power_usage": 12.5
    }

    garage = home.get("garage_door")
    assert garage is not None
    assert (garage.type.value, garage.sensitive) == ("garage_door", True)
    assert adapter_for(garage).encode_command(garage, {"position": 100})[0].payload == b"255"

    back = home.get("back_door_lock")
    assert back is not None
    assert adapter_for(back).encode_command(back, {"lock": "locked"})[0].payload == b"CLOSE"
    assert adapter_for(back).decode_state(back, "locks/back/state", b"open") == {"lock": "unlocked"}

    fan = home.get("bath_fan")
    assert fan is not None
    assert adapter_for(fan).encode_command(fan, {"fan_speed": 100})[-1].payload == b"3"

    patio = home.get("patio_door")
    assert patio is not None
    # HA's door is "on" (here "open") when open; Sasha's contact is true when closed.
    assert adapter_for(patio).decode_state(patio, "zwave/patio/door", b"closed") == {"contact": True}

    tap = home.get("garden_tap")
    assert tap is not None
    assert (tap.type.value, tap.sensitive, tap.room) == ("water_valve", True, "garden")
    assert adapter_for(tap).encode_command(tap, {"power": "on"})[0].payload == b"OPEN"
    assert adapter_for(tap).decode_state(tap, "garden/tap/state", b"closed") == {"power": "off"}


def test_home_assistant_leaves_out_what_sasha_cannot_send_with_a_comment() -> None:
    """Note the fan modes the heat pump has, in the comment above it."""
    _, outcome = _home("homeassistant_configs.json")
    text = outcome.text
    assert "# left out: fan modes left out" in text
    assert "# from Home Assistant discovery homeassistant/climate/hvac/office/config" in text


def test_tasmota_relay_dimmer_and_sensor() -> None:
    """Map a plug with energy metering, a dimmer and a temperature/humidity sensor."""
    home, _ = _home("tasmota_discovery.json")
    plug = _by_topic(home, "tasmota_A1B2C3")
    assert (plug.name, plug.type.value, set(plug.capabilities)) == (
        "Coffee plug",
        "plug",
        {"power", "power_usage", "energy"},
    )
    dimmer = _by_topic(home, "stairs")
    assert (dimmer.type.value, _caps(dimmer)) == (
        "light",
        {"power": (None, None, None, ()), "brightness": (1, 100, None, ())},
    )
    attic = _by_topic(home, "attic")
    assert (attic.type.value, set(attic.capabilities)) == ("sensor", {"temperature", "humidity"})


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("homeassistant/light/x/config", b"{not json", "not JSON"),
        ("homeassistant/light/x/config", b"[1, 2]", "not a JSON object"),
        ("homeassistant/switch/x/config", b'{"name": "no topics"}', "no command_topic"),
        ("homeassistant/siren/x/config", b'{"cmd_t": "a/b"}', "component 'siren'"),
        ("homeassistant/media_player/x/config", b'{"cmd_t": "a/b"}', "no media players"),
        ("homeassistant/light/x/config", b'{"cmd_t": "a/#"}', "is not a topic"),
        ("homeassistant/light/x/config", b'{"schema": "template", "cmd_t": "a"}', "template"),
        (
            "homeassistant/sensor/x/config",
            b'{"stat_t": "a", "dev_cla": "temperature", "val_tpl": "{{ value | int }}"}',
            "value template",
        ),
        ("homeassistant/light/x/config", b'{"cmd_t": "' + b"a" * 70_000 + b'"}', "over"),
        ("homeassistant/light/x/config", b"\xff\xfe", "not JSON"),
        ("homeassistant/light/x/config", b"[" * 100_000, "over"),
        ("zigbee2mqtt/bridge/devices", b'{"devices": []}', "not a JSON list"),
        ("zigbee2mqtt/bridge/devices", b'[{"friendly_name": "x", "definition": {"exposes": "no"}}]', "no exposes"),
        ("zigbee2mqtt/bridge/devices", b'["junk"]', "not a JSON object"),
        ("tasmota/discovery/AA/config", b'{"t": "x", "ft": "%topic%/%prefix%/", "rl": [1]}', "full topic"),
        ("tasmota/discovery/AA/config", b'{"rl": [1]}', "no usable topic"),
        ("tasmota/discovery/AA/config", b'{"t": "x", "rl": [0]}', "no relays"),
        ("somewhere/else", b"{}", "not a discovery topic"),
    ],
)
def test_odd_announcements_are_skipped_with_a_reason(topic: str, payload: bytes, reason: str) -> None:
    """Skip bad JSON, missing topics, unknown components and huge payloads, naming why, never crashing."""
    outcome = build([(topic, payload)])
    assert outcome.entries == []
    assert any(reason in s.reason for s in outcome.skipped), outcome.skipped
    inventory.from_yaml(outcome.text)  # an empty home still loads


def test_an_empty_retained_config_removes_nothing_and_says_nothing() -> None:
    """Treat an empty config (Home Assistant's removal) as no entity."""
    outcome = build([("homeassistant/light/x/config", b"")])
    assert outcome.entries == []
    assert outcome.skipped == []


def test_ha_entities_of_a_zigbee2mqtt_device_are_not_counted_twice() -> None:
    """Skip Home Assistant configs whose topics belong to a device zigbee2mqtt already listed."""
    z2m = _messages("zigbee2mqtt_bridge_devices.json")
    ha_config = {
        "name": None,
        "cmd_t": "zigbee2mqtt/hall_dimmer/set",
        "stat_t": "zigbee2mqtt/hall_dimmer",
        "schema": "json",
        "dev": {"ids": ["zigbee2mqtt_0x84fd27fffe0a0003"], "name": "hall_dimmer"},
    }
    outcome = build([*z2m, ("homeassistant/light/0x84fd27fffe0a0003/light/config", json.dumps(ha_config).encode())])
    assert sum(1 for e in outcome.entries if e.data["topic"] == "zigbee2mqtt/hall_dimmer") == 1
    assert any("already found through zigbee2mqtt" in s.reason for s in outcome.skipped)


def test_two_devices_with_the_same_name_get_distinct_ids_and_names() -> None:
    """Suffix ids and names so the file passes `sasha check`."""
    config = {"cmd_t": "a/1/set", "dev": {"ids": ["one"], "name": "Lamp"}}
    other = {"cmd_t": "a/2/set", "dev": {"ids": ["two"], "name": "Lamp"}}
    outcome = build(
        [
            ("homeassistant/switch/one/config", json.dumps(config).encode()),
            ("homeassistant/switch/two/config", json.dumps(other).encode()),
        ]
    )
    home = inventory.from_yaml(outcome.text)
    assert sorted(home.devices) == ["lamp", "lamp_2"]
    assert sorted(d.name for d in home.devices.values()) == ["Lamp", "Lamp 2"]


def test_an_announcement_the_inventory_would_refuse_is_skipped_with_its_reason() -> None:
    """Skip a climate whose minimum is above its maximum, quoting the inventory's own reason."""
    config = {"temp_cmd_t": "a/t/set", "min_temp": 30, "max_temp": 10, "dev": {"ids": ["c"], "name": "Odd"}}
    outcome = build([("homeassistant/climate/c/config", json.dumps(config).encode())])
    assert outcome.entries == []
    assert any("target_temperature.min 30 is above target_temperature.max 10" in s.reason for s in outcome.skipped)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 100_000) | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=12,
)
_KEYS = st.sampled_from(
    [
        "~",
        "cmd_t",
        "stat_t",
        "schema",
        "sup_clrm",
        "brightness",
        "bri_scl",
        "min_mirs",
        "max_mirs",
        "bri_cmd_t",
        "clr_temp_cmd_t",
        "rgb_cmd_t",
        "pl_on",
        "pl_off",
        "val_tpl",
        "dev_cla",
        "unit_of_meas",
        "temp_cmd_t",
        "min_temp",
        "max_temp",
        "temp_step",
        "mode_cmd_t",
        "modes",
        "set_pos_t",
        "pos_open",
        "pos_clsd",
        "pct_cmd_t",
        "spd_rng_max",
        "dev",
        "options",
        "name",
    ]
)


@given(
    component=st.sampled_from([*sorted(homeassistant.COMPONENTS), "device", "siren"]),
    config=st.dictionaries(_KEYS, _JSON | st.sampled_from(["a/b", "~/set", "ON", 0, 255, ["rgb"]]), max_size=10),
    exposes=st.lists(
        st.dictionaries(
            st.sampled_from(
                ["type", "property", "access", "value_min", "value_max", "features", "value_on", "values", "unit"]
            ),
            _JSON,
        ),
        max_size=4,
    ),
    tasmota=st.dictionaries(
        st.sampled_from(["t", "dn", "rl", "lt_st", "ft", "tp", "fn"]), _JSON | st.just("x"), max_size=6
    ),
)
def test_any_announcement_gives_a_file_that_loads(
    component: str, config: dict[str, Any], exposes: list[Any], tasmota: dict[str, Any]
) -> None:
    """Never crash and never write a file `sasha check` refuses, whatever the broker holds."""
    z2m = [{"friendly_name": "d", "definition": {"exposes": exposes}}]
    messages = [
        (f"homeassistant/{component}/n/o/config", json.dumps(config).encode()),
        ("zigbee2mqtt/bridge/devices", json.dumps(z2m).encode()),
        ("tasmota/discovery/AA/config", json.dumps(tasmota).encode()),
    ]
    outcome = build(messages)
    inventory.from_yaml(outcome.text)


def test_home_assistant_availability_is_kept() -> None:
    """Write `availability_topic` and the `availability` list (with `~` and a JSON key) into the file."""
    configs = {
        "homeassistant/switch/shelly1/relay/config": {
            "~": "shellies/shelly1",
            "name": "Porch light",
            "cmd_t": "~/relay/0/command",
            "stat_t": "~/relay/0",
            "avty_t": "~/online",
            "pl_avail": "true",
            "pl_not_avail": "false",
            "uniq_id": "shelly1_relay",
        },
        "homeassistant/light/bridge/lamp/config": {
            "name": "Desk lamp",
            "cmd_t": "bridge/lamp/set",
            "stat_t": "bridge/lamp",
            "schema": "json",
            "avty": [{"t": "bridge/state", "val_tpl": "{{ value_json.state }}"}, {"topic": "bridge/lamp/availability"}],
            "uniq_id": "lamp",
        },
    }
    outcome = build([(topic, json.dumps(body).encode()) for topic, body in configs.items()])
    home = inventory.from_yaml(outcome.text, "<discovered>")
    porch = home.find("Porch light")[0]
    assert porch.availability == (inventory.Availability("shellies/shelly1/online", "true", "false"),)
    lamp = home.find("Desk lamp")[0]
    assert lamp.availability == (
        inventory.Availability("bridge/state", key="state"),
        inventory.Availability("bridge/lamp/availability"),
    )
