"""Devices that can unlock, open, disarm or heat food are written `sensitive: true`, with a comment saying why."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from sasha.discovery import safety
from sasha.discovery.build import build
from sasha.home import inventory
from sasha.home.inventory import SENSITIVE_TYPES
from tests.conftest import EXAMPLE
from tests.test_layout import IO_LIBRARIES, imported

# --- announcements in each project's own format ----------------------------------------


def _ha(component: str, name: str, **config: Any) -> tuple[str, bytes]:
    """Return one Home Assistant discovery config for a device of its own."""
    obj = name.lower().replace(" ", "_")
    body = {"~": f"ha/{obj}", "name": None, "dev": {"ids": [f"ha_{obj}"], "name": name}} | config
    return f"homeassistant/{component}/{obj}/config", json.dumps(body).encode()


def _ha_switch(name: str, **config: Any) -> tuple[str, bytes]:
    return _ha("switch", name, cmd_t="~/set", stat_t="~/state", **config)


def _ha_cover(name: str, **config: Any) -> tuple[str, bytes]:
    return _ha("cover", name, set_pos_t="~/position/set", pos_t="~/position", **config)


def _z2m(name: str, kind: str, description: str = "Smart device") -> tuple[str, bytes]:
    """Return a zigbee2mqtt device list holding one device with one specific expose."""
    features = {
        "switch": [{"type": "binary", "property": "state", "access": 7, "value_on": "ON", "value_off": "OFF"}],
        "lock": [{"type": "binary", "property": "state", "access": 7, "value_on": "LOCK", "value_off": "UNLOCK"}],
        "cover": [{"type": "numeric", "property": "position", "access": 7, "value_min": 0, "value_max": 100}],
        "climate": [
            {"type": "numeric", "property": "current_heating_setpoint", "access": 7, "value_min": 50, "value_max": 250}
        ],
        "fan": [{"type": "binary", "property": "state", "access": 7, "value_on": "ON", "value_off": "OFF"}],
    }[kind]
    entry = {
        "friendly_name": name,
        "type": "Router",
        "supported": True,
        "definition": {
            "model": "X1",
            "vendor": "Acme",
            "description": description,
            "exposes": [{"type": kind, "features": features}],
        },
    }
    return "zigbee2mqtt/bridge/devices", json.dumps([entry]).encode()


def _tasmota(name: str, relay: int = 1, *, power: bool = False) -> list[tuple[str, bytes]]:
    """Return a Tasmota config (and sensors) message for one device with one relay of a kind."""
    mac = name.upper().replace(" ", "")[:12]
    topic = name.lower().replace(" ", "_")
    config = {"dn": name, "t": topic, "rl": [relay, 0, 0, 0, 0, 0, 0, 0], "md": "Sonoff Basic"}
    sensors = {"sn": {"ENERGY": {"Power": 0}}} if power else {"sn": {}}
    root = f"tasmota/discovery/{mac}"
    return [(f"{root}/config", json.dumps(config).encode()), (f"{root}/sensors", json.dumps(sensors).encode())]


# --- reading the written file ----------------------------------------------------------


def _written(messages: list[tuple[str, bytes]]) -> tuple[str, dict[str, Any]]:
    """Build the file; return its text and its one device entry as written (raw YAML)."""
    text = build(messages).text
    inventory.from_yaml(text)  # `sasha check` takes it
    [raw] = yaml.safe_load(text)["devices"]
    return text, raw


def _comments(text: str, ident: str) -> list[str]:
    """Return the comment lines right above a device entry."""
    lines = text.splitlines()
    index = lines.index(f"  - id: {ident}")
    above = []
    while lines[index - 1].startswith("  #"):
        index -= 1
        above.insert(0, lines[index].strip())
    return above


SENSITIVE = [
    # (announcement, the type written, words of the comment)
    pytest.param(_ha("lock", "Back door", cmd_t="~/set", stat_t="~/state"), "lock", "unlock", id="ha-lock"),
    pytest.param(_ha_cover("Garage", dev_cla="garage"), "garage_door", "open", id="ha-garage-door"),
    pytest.param(_ha_cover("Driveway", dev_cla="gate"), "garage_door", "gate", id="ha-gate"),
    pytest.param(_ha_cover("Entrance", dev_cla="door"), "cover", "door", id="ha-door-cover"),
    pytest.param(_ha("valve", "Main water", cmd_t="~/set", stat_t="~/state"), "water_valve", "water", id="ha-valve"),
    pytest.param(_ha_switch("House alarm"), "switch", "disarm", id="ha-alarm-switch"),
    pytest.param(_ha_switch("Kitchen oven"), "oven", "heats food", id="ha-oven-switch"),
    pytest.param(
        _ha("climate", "Kitchen oven", temp_cmd_t="~/t/set", min_temp=50, max_temp=250),
        "oven",
        "heats food",
        id="ha-oven-climate",
    ),
    pytest.param(_ha_switch("Stove"), "oven", "heats food", id="ha-stove"),
    pytest.param(_ha_switch("Hob plug", dev_cla="outlet"), "oven", "heats food", id="ha-hob-plug"),
    pytest.param(_ha_switch("Water main"), "water_valve", "water", id="ha-water-main-switch"),
    pytest.param(_ha_switch("Gate opener"), "switch", "gate", id="ha-gate-switch"),
    pytest.param(_z2m("front_door", "lock"), "lock", "unlock", id="z2m-lock"),
    pytest.param(_z2m("garage", "cover", "Garage door opener"), "garage_door", "open", id="z2m-garage-door"),
    pytest.param(_z2m("driveway_gate", "cover", "Curtain motor"), "garage_door", "gate", id="z2m-gate"),
    pytest.param(_z2m("main_water", "switch", "Water valve"), "water_valve", "water", id="z2m-valve"),
    pytest.param(_z2m("house_alarm", "switch", "Siren"), "switch", "disarm", id="z2m-alarm"),
    pytest.param(_z2m("kitchen_oven", "switch"), "oven", "heats food", id="z2m-oven-switch"),
    pytest.param(_z2m("Kitchen oven", "climate"), "oven", "heats food", id="z2m-oven-climate"),
    pytest.param(_z2m("stove", "switch"), "oven", "heats food", id="z2m-stove"),
    pytest.param(_z2m("hob_plug", "switch", "Smart plug"), "oven", "heats food", id="z2m-hob-plug"),
]
SENSITIVE_TASMOTA = [
    pytest.param(_tasmota("Front door lock"), "switch", "unlock", id="tasmota-lock"),
    pytest.param(_tasmota("Garage door"), "switch", "open", id="tasmota-garage-relay"),
    pytest.param(_tasmota("Gate", relay=3), "garage_door", "gate", id="tasmota-gate-shutter"),
    pytest.param(_tasmota("Water valve"), "water_valve", "water", id="tasmota-valve"),
    pytest.param(_tasmota("House alarm"), "switch", "disarm", id="tasmota-alarm"),
    pytest.param(_tasmota("Kitchen oven"), "oven", "heats food", id="tasmota-oven"),
    pytest.param(_tasmota("Stove"), "oven", "heats food", id="tasmota-stove"),
    pytest.param(_tasmota("Hob plug", power=True), "oven", "heats food", id="tasmota-hob-plug"),
]


@pytest.mark.parametrize(("message", "kind", "why"), SENSITIVE)
def test_a_device_that_can_unlock_open_disarm_or_heat_is_written_sensitive(
    message: tuple[str, bytes], kind: str, why: str
) -> None:
    """Write `sensitive: true` out, and a comment saying why, for Home Assistant and zigbee2mqtt announcements."""
    text, raw = _written([message])
    assert raw["type"] == kind
    assert raw["sensitive"] is True
    [comment] = [c for c in _comments(text, raw["id"]) if c.startswith("# sensitive:")]
    assert why in comment
    assert inventory.from_yaml(text).devices[raw["id"]].sensitive


@pytest.mark.parametrize(("messages", "kind", "why"), SENSITIVE_TASMOTA)
def test_a_tasmota_device_that_can_unlock_open_disarm_or_heat_is_written_sensitive(
    messages: list[tuple[str, bytes]], kind: str, why: str
) -> None:
    """Write `sensitive: true` out, and a comment saying why, for Tasmota's own discovery."""
    text, raw = _written(messages)
    assert raw["type"] == kind
    assert raw["sensitive"] is True
    [comment] = [c for c in _comments(text, raw["id"]) if c.startswith("# sensitive:")]
    assert why in comment


@pytest.mark.parametrize(
    "messages",
    [
        pytest.param([_ha_switch("Garage light")], id="ha-garage-light"),
        pytest.param([_ha_switch("Coffee plug", dev_cla="outlet")], id="ha-plug"),
        pytest.param([_ha_cover("Living room blinds")], id="ha-blinds"),
        pytest.param([_ha_cover("Patio door blind")], id="ha-door-blind"),
        pytest.param([_ha("light", "Oven light", cmd_t="~/set", schema="json")], id="ha-oven-light"),
        pytest.param([_ha_switch("Door bell")], id="ha-door-bell"),
        pytest.param(
            [_ha("binary_sensor", "Front door sensor", stat_t="~/state", dev_cla="door")], id="ha-door-sensor"
        ),
        pytest.param([_ha("climate", "Office heat pump", temp_cmd_t="~/t/set")], id="ha-heat-pump"),
        pytest.param([_z2m("range_hood", "fan", "Extractor fan")], id="z2m-range-hood"),
        pytest.param([_z2m("office_trv", "climate", "Thermostatic radiator valve")], id="z2m-radiator-valve"),
        pytest.param([_z2m("bedroom_blind", "cover", "Roller blind")], id="z2m-blind"),
        pytest.param([_z2m("desk_plug", "switch", "Smart plug")], id="z2m-plug"),
        pytest.param(_tasmota("Garage light"), id="tasmota-garage-light"),
        pytest.param(_tasmota("Coffee plug", power=True), id="tasmota-plug"),
        pytest.param(_tasmota("Bedroom blinds", relay=3), id="tasmota-blinds"),
    ],
)
def test_ordinary_devices_are_not_marked_sensitive(messages: list[tuple[str, bytes]]) -> None:
    """Leave `sensitive` and its comment out for lights, plugs, blinds, fans and thermostats, whatever the room."""
    text, raw = _written(messages)
    assert "sensitive" not in raw
    assert not [c for c in _comments(text, raw["id"]) if "sensitive" in c]
    assert not inventory.from_yaml(text).devices[raw["id"]].sensitive


def test_an_alarm_panel_is_never_written_without_sensitive() -> None:
    """Skip Home Assistant's alarm_control_panel (arm modes) rather than write a panel that disarms freely."""
    outcome = build([_ha("alarm_control_panel", "House alarm", cmd_t="~/set", stat_t="~/state")])
    assert outcome.entries == []
    assert any("arm modes" in s.reason for s in outcome.skipped)


def test_every_sensitive_device_of_the_simulated_home_is_written_sensitive() -> None:
    """Write the example home's oven, valves and lock `sensitive: true` with a comment; nothing else."""
    from sasha.sim import announce, physics

    home = inventory.from_file(EXAMPLE)
    messages, _ = announce.announcements(home, physics.initial_state(home))
    text = build([(m.topic, m.payload) for m in messages]).text
    raw = {d["id"]: d for d in yaml.safe_load(text)["devices"]}
    marked = {ident for ident, d in raw.items() if d.get("sensitive")}
    assert marked == {"oven", "main_water_valve", "garden_irrigation", "front_door"}
    assert raw["oven"]["type"] == "oven"
    for ident in marked:
        assert any(c.startswith("# sensitive:") for c in _comments(text, ident)), ident


def test_every_sensitive_type_says_what_it_can_do() -> None:
    """Give each type the inventory holds sensitive a hazard for the comment, so none is written without a why."""
    assert set(safety.TYPE_HAZARDS) == set(SENSITIVE_TYPES)


def test_the_safety_rules_are_pure() -> None:
    """Import no I/O library, like the rest of discovery but `listen` (tests/test_layout.py does not list it yet)."""
    source = Path(safety.__file__).read_text(encoding="utf-8")
    assert not [m for m in imported(source) if m.split(".")[0] in IO_LIBRARIES]
