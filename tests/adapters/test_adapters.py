"""Protocol adapters: exact wire formats, unit conversions and round trips, without a broker."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sasha.adapters import Message, _convert, adapter_for
from sasha.errors import DecodeError
from sasha.home import inventory
from sasha.home.capabilities import Value, ValueKind, same_value
from sasha.home.inventory import Capability, Device
from tests.conftest import EXAMPLE

HOME = inventory.from_file(EXAMPLE)


def _encode(device_id: str, values: dict[str, Value]) -> list[tuple[str, Any]]:
    device = HOME.devices[device_id]
    out = []
    for message in adapter_for(device).encode_command(device, values):
        try:
            payload: Any = json.loads(message.payload)
        except json.JSONDecodeError:
            payload = message.payload.decode()
        out.append((message.topic, payload))
    return out


def test_generic_command() -> None:
    """Send `<topic>/set` with JSON of capability values."""
    assert _encode("living_room_lamp", {"power": "on", "brightness": 30}) == [
        ("sasha-demo/living_room_lamp/set", {"power": "on", "brightness": 30})
    ]


def test_zigbee2mqtt_command() -> None:
    """Send zigbee2mqtt's vocabulary: ON, 0-254, mireds, {"hex": ...}."""
    assert _encode(
        "living_room_ceiling", {"power": "on", "brightness": 100, "color_temp": 2700, "color": "#ff8800"}
    ) == [
        (
            "zigbee2mqtt/living_room_ceiling/set",
            {"state": "ON", "brightness": 254, "color_temp": 370, "color": {"hex": "#ff8800"}},
        )
    ]
    assert _encode("front_door", {"lock": "unlocked"}) == [("zigbee2mqtt/front_door/set", {"state": "UNLOCK"})]
    assert _encode("office_air_conditioner", {"target_temperature": 22.5, "hvac_mode": "cool"}) == [
        ("zigbee2mqtt/office_air_conditioner/set", {"current_heating_setpoint": 22.5, "system_mode": "cool"})
    ]


def test_homeassistant_commands() -> None:
    """Send HA's JSON schema to lights, plain words to switches and locks, per-field topics to the rest."""
    assert _encode("kitchen_light", {"power": "on", "brightness": 50}) == [
        ("sasha-demo/kitchen_light/json/set", {"state": "ON", "brightness": 128})
    ]
    assert _encode("garden_lights", {"power": "off"}) == [("sasha-demo/garden_lights/set", "OFF")]
    assert _encode("kitchen_oven", {"power": "on", "target_temperature": 180}) == [
        ("sasha-demo/kitchen_oven/set", "ON"),
        ("sasha-demo/kitchen_oven/temperature/set", 180),
    ]
    assert _encode("bedroom_fan", {"fan_speed": 40}) == [("sasha-demo/bedroom_fan/percentage/set", 40)]


def test_tasmota_commands_in_a_safe_order() -> None:
    """Send one cmnd per capability; "off" goes last because Dimmer switches a light on."""
    assert _encode("bedroom_bedside_lamp", {"brightness": 30, "power": "off", "color_temp": 2700}) == [
        ("cmnd/bedroom_bedside_lamp/Dimmer", 30),
        ("cmnd/bedroom_bedside_lamp/CT", 370),
        ("cmnd/bedroom_bedside_lamp/POWER", "OFF"),
    ]
    assert _encode("living_room_led_strip", {"color": "#ff8800", "power": "on"}) == [
        ("cmnd/living_room_led_strip/POWER", "ON"),
        ("cmnd/living_room_led_strip/Color", "FF8800"),
    ]


def test_tasmota_ct_is_clamped_to_what_tasmota_takes() -> None:
    """Clamp CT into Tasmota's 153-500 mireds."""
    assert _encode("bedroom_bedside_lamp", {"color_temp": 2000}) == [("cmnd/bedroom_bedside_lamp/CT", 500)]


@pytest.mark.parametrize(
    ("device_id", "topic", "payload", "expected"),
    [
        (
            "living_room_lamp",
            "sasha-demo/living_room_lamp",
            '{"power":"on","brightness":30,"junk":1}',
            {"power": "on", "brightness": 30},
        ),
        (
            "living_room_ceiling",
            "zigbee2mqtt/living_room_ceiling",
            '{"state":"OFF","brightness":127,"color_temp":250,"color":{"hex":"#00FF00"},"linkquality":80}',
            {"power": "off", "brightness": 50, "color_temp": 4000, "color": "#00ff00"},
        ),
        (
            "front_door",
            "zigbee2mqtt/front_door",
            '{"state":"UNLOCK","lock_state":"locked","battery":80}',
            {"lock": "locked", "battery": 80},
        ),
        (
            "office_air_conditioner",
            "zigbee2mqtt/office_air_conditioner",
            '{"current_heating_setpoint":21,"system_mode":"heat","local_temperature":20}',
            {"target_temperature": 21, "hvac_mode": "heat"},
        ),
        (
            "living_room_air",
            "zigbee2mqtt/living_room_air",
            '{"co2":800,"illuminance_lux":120}',
            {"co2": 800, "illuminance": 120},
        ),
        ("kitchen_leak", "zigbee2mqtt/kitchen_leak", '{"water_leak":true}', {"leak": True}),
        (
            "kitchen_light",
            "sasha-demo/kitchen_light/json",
            '{"state":"ON","brightness":255,"color_mode":"brightness"}',
            {"power": "on", "brightness": 100},
        ),
        ("garden_lights", "sasha-demo/garden_lights/state", "ON", {"power": "on"}),
        ("kitchen_oven", "sasha-demo/kitchen_oven/temperature", "180", {"target_temperature": 180}),
        ("kitchen_oven", "sasha-demo/kitchen_oven/current_temperature", "21.5", {"temperature": 21.5}),
        ("office_motion", "sasha-demo/office_motion/motion", "ON", {"motion": True}),
        ("hallway_light", "stat/hallway_light/RESULT", '{"POWER":"ON","Dimmer":45}', {"power": "on", "brightness": 45}),
        (
            "bedroom_bedside_lamp",
            "tele/bedroom_bedside_lamp/STATE",
            '{"POWER":"OFF","Dimmer":10,"CT":370,"Wifi":{}}',
            {"power": "off", "brightness": 10, "color_temp": 2703},
        ),
        ("living_room_led_strip", "stat/living_room_led_strip/RESULT", '{"Color":"FF880000"}', {"color": "#ff8800"}),
        (
            "bedroom_climate",
            "tele/bedroom_climate/SENSOR",
            '{"Time":"2026-01-01T00:00:00","AM2301":{"Temperature":19.5,"Humidity":55}}',
            {"temperature": 19.5, "humidity": 55},
        ),
        (
            "kitchen_kettle_plug",
            "tele/kitchen_kettle_plug/SENSOR",
            '{"ENERGY":{"Power":1980,"Total":3.2}}',
            {"power_usage": 1980, "energy": 3.2},
        ),
    ],
)
def test_decode_state(device_id: str, topic: str, payload: str, expected: dict[str, Value]) -> None:
    """Read each protocol's state reports, as real devices send them."""
    device = HOME.devices[device_id]
    assert adapter_for(device).decode_state(device, topic, payload.encode()) == expected


@pytest.mark.parametrize(
    ("device_id", "topic", "payload"),
    [
        ("living_room_lamp", "sasha-demo/living_room_lamp", b"not json"),
        ("living_room_lamp", "sasha-demo/living_room_lamp", b"[1, 2]"),
        ("living_room_lamp", "sasha-demo/living_room_lamp", b"\xff\xfe\x00binary"),
        ("living_room_lamp", "sasha-demo/living_room_lamp", b'{"power":"' + b"x" * 70_000 + b'"}'),
        ("garden_lights", "sasha-demo/garden_lights/state", b"MAYBE"),
        ("front_door", "zigbee2mqtt/front_door", b""),
        ("kitchen_oven", "sasha-demo/kitchen_oven/temperature", b"hot"),
        ("office_motion", "sasha-demo/office_motion/motion", b"2"),
        ("living_room_ceiling", "zigbee2mqtt/living_room_ceiling", b'{"color":{"x":0.3}}'),
        ("kitchen_light", "sasha-demo/kitchen_light/json", b'{"color":{"r":300,"g":0,"b":0}}'),
    ],
)
def test_decode_state_refuses_garbage(device_id: str, topic: str, payload: bytes) -> None:
    """Raise DecodeError, never anything else, on malformed payloads."""
    device = HOME.devices[device_id]
    with pytest.raises(DecodeError):
        adapter_for(device).decode_state(device, topic, payload)


def test_topics_of_one_device_never_collide() -> None:
    """Give every capability of a device its own place on the wire."""
    for device in HOME.devices.values():
        adapter = adapter_for(device)
        assert len(set(adapter.state_topics(device))) == len(adapter.state_topics(device)), device.id
        assert len(set(adapter.command_topics(device))) == len(adapter.command_topics(device)), device.id


@pytest.mark.parametrize(("percent", "top"), [(p, t) for p in range(101) for t in (254, 255)])
def test_percent_scale_round_trip_is_exact(percent: int, top: int) -> None:
    """Map every whole percent to a distinct step and back without loss."""
    assert _convert.scale_to_percent(_convert.percent_to_scale(percent, top), top) == percent


@given(st.integers(min_value=1000, max_value=10000))
def test_kelvin_round_trip_within_one_mired(kelvin: int) -> None:
    """Lose no more than one mired's worth of colour temperature."""
    back = _convert.mireds_to_kelvin(_convert.kelvin_to_mireds(kelvin))
    assert same_value("color_temp", kelvin, back)


def _value_strategy(capability: Capability) -> st.SearchStrategy[Value]:
    info = capability.info
    if info.kind in (ValueKind.FIXED, ValueKind.COMMAND):
        return st.sampled_from(info.words)
    if info.kind is ValueKind.CHOICE:
        return st.sampled_from(capability.values)
    if info.kind is ValueKind.COLOR:
        return st.integers(min_value=0, max_value=0xFFFFFF).map(lambda n: f"#{n:06x}")
    if info.kind in (ValueKind.SENSOR_BOOL, ValueKind.BOOLEAN):
        return st.booleans()
    if info.kind is ValueKind.SENSOR_NUMBER:
        return st.integers(min_value=0, max_value=5000)
    low, high = int(capability.min or 0), int(capability.max or 100)
    if info.kind is ValueKind.INTEGER:
        return st.integers(min_value=low, max_value=high)
    step = capability.step or 1
    return st.integers(min_value=0, max_value=int((high - low) / step)).map(lambda k: low + k * step)


@st.composite
def _device_and_values(draw: st.DrawFn, *, writable_only: bool) -> tuple[Device, dict[str, Value]]:
    candidates = [d for d in HOME.devices.values() if d.writable or not writable_only]
    device = draw(st.sampled_from(candidates))
    # A state never carries a one-off command such as track: next.
    caps = device.writable if writable_only else {n: c for n, c in device.capabilities.items() if not c.info.write_only}
    names = draw(st.lists(st.sampled_from(sorted(caps)), min_size=1, unique=True))
    return device, {n: draw(_value_strategy(caps[n])) for n in names}


def _matches(expected: dict[str, Value], got: dict[str, Value]) -> bool:
    return all(n in got and same_value(n, v, got[n]) for n, v in expected.items())


@given(_device_and_values(writable_only=True))
def test_command_round_trip(case: tuple[Device, dict[str, Value]]) -> None:
    """What the controller encodes, the device side decodes to the same values."""
    device, values = case
    adapter = adapter_for(device)
    decoded: dict[str, Value] = {}
    for message in adapter.encode_command(device, values):
        assert message.topic in adapter.command_topics(device)
        decoded.update(adapter.decode_command(device, message.topic, message.payload))
    assert _matches(values, decoded), (values, decoded)


@given(_device_and_values(writable_only=False))
def test_state_round_trip(case: tuple[Device, dict[str, Value]]) -> None:
    """What a device reports, the mirror side reads back as the same values."""
    device, values = case
    adapter = adapter_for(device)
    decoded: dict[str, Value] = {}
    messages: list[Message] = adapter.encode_state(device, values)
    for message in messages:
        assert message.retain
        assert message.topic in adapter.state_topics(device)
        decoded.update(adapter.decode_state(device, message.topic, message.payload))
    assert _matches(values, decoded), (values, decoded)


def test_homeassistant_values_under_json_keys_share_one_state_topic() -> None:
    """Publish and read values that share a state topic under their JSON keys (`{{ value_json.x }}`)."""
    from sasha.home import inventory as inv

    home = inv.from_yaml(
        """
rooms: [{id: den, name: Den}]
devices:
  - id: meter
    name: Meter
    room: den
    type: sensor
    protocol: homeassistant
    topic: meters/1
    capabilities: {power_usage: {}, energy: {}}
    wire:
      power_usage: {state_topic: meters/1/tele, key: power}
      energy: {state_topic: meters/1/tele, key: total}
"""
    )
    meter = home.devices["meter"]
    adapter = adapter_for(meter)
    assert adapter.state_topics(meter) == ["meters/1/tele"]
    [message] = adapter.encode_state(meter, {"power_usage": 120.5, "energy": 3})
    assert (message.topic, json.loads(message.payload)) == ("meters/1/tele", {"power": 120.5, "total": 3})
    assert adapter.decode_state(meter, "meters/1/tele", message.payload) == {"power_usage": 120.5, "energy": 3}
