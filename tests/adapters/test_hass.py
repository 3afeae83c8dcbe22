"""The `hass` adapter: Sasha's values ⇄ Home Assistant's service calls and entity states, without a broker."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sasha.adapters import adapter_for, hass
from sasha.errors import DecodeError, InventoryError
from sasha.home import inventory
from sasha.home.capabilities import Value
from sasha.home.inventory import Device

HOME = inventory.from_dict(
    {
        "rooms": [{"id": "kitchen", "name": "Kitchen"}],
        "devices": [
            {
                "id": "kitchen_lights",
                "name": "Kitchen lights",
                "room": "kitchen",
                "type": "light",
                "protocol": "hass",
                "topic": "sasha-hass/light.kitchen_lights",
                "capabilities": {"power": {}, "brightness": {"min": 1, "max": 100}, "color_temp": {}, "color": {}},
            },
            {
                "id": "front_door",
                "name": "Front door",
                "room": "kitchen",
                "type": "lock",
                "protocol": "hass",
                "topic": "sasha-hass/lock.front_door",
                "capabilities": {"lock": {}},
            },
            {
                "id": "window",
                "name": "Window",
                "room": "kitchen",
                "type": "cover",
                "protocol": "hass",
                "topic": "sasha-hass/cover.kitchen_window",
                "capabilities": {"position": {}},
            },
            {
                "id": "hvac",
                "name": "Hvac",
                "room": "kitchen",
                "type": "thermostat",
                "protocol": "hass",
                "topic": "sasha-hass/climate.hvac",
                "capabilities": {
                    "target_temperature": {"min": 7, "max": 35, "step": 1},
                    "hvac_mode": {"values": ["off", "heat", "cool"]},
                    "temperature": {},
                },
            },
            {
                "id": "tv",
                "name": "TV",
                "room": "kitchen",
                "type": "media_player",
                "protocol": "hass",
                "topic": "sasha-hass/media_player.tv",
                "capabilities": {"power": {}, "volume": {}, "muted": {}, "playback": {}, "track": {}},
            },
            {
                "id": "garden_valve",
                "name": "Garden valve",
                "room": "kitchen",
                "type": "water_valve",
                "protocol": "hass",
                "topic": "sasha-hass/valve.garden",
                "capabilities": {"power": {}},
            },
            {
                "id": "back_door",
                "name": "Back door",
                "room": "kitchen",
                "type": "sensor",
                "protocol": "hass",
                "topic": "sasha-hass/binary_sensor.back_door",
                "capabilities": {"contact": {}},
            },
            {
                "id": "outside",
                "name": "Outside",
                "room": "kitchen",
                "type": "sensor",
                "protocol": "hass",
                "topic": "sasha-hass/sensor.outside",
                "capabilities": {"temperature": {}},
            },
        ],
    }
)


def _device(device_id: str) -> Device:
    return HOME.devices[device_id]


def _calls(device_id: str, values: dict[str, Value]) -> list[tuple[str, str, dict[str, Any]]]:
    device = _device(device_id)
    out = []
    for message in adapter_for(device).encode_command(device, values):
        body = json.loads(message.payload)
        out.append((message.topic, body["service"], body["data"]))
    return out


def _state(device_id: str, state: str, **attributes: Any) -> dict[str, Value]:
    device = _device(device_id)
    payload = json.dumps({"state": state, "attributes": attributes}).encode()
    return adapter_for(device).decode_state(device, f"{device.topic}/state", payload)


def test_light_turn_on_carries_brightness_kelvin_and_colour() -> None:
    """Send one light.turn_on with brightness_pct, color_temp_kelvin and rgb_color on `<topic>/set`."""
    assert _calls("kitchen_lights", {"power": "on", "brightness": 30, "color_temp": 2700}) == [
        ("sasha-hass/light.kitchen_lights/set", "turn_on", {"brightness_pct": 30, "color_temp_kelvin": 2700})
    ]
    assert _calls("kitchen_lights", {"color": "#ff8800"}) == [
        ("sasha-hass/light.kitchen_lights/set", "turn_on", {"rgb_color": [255, 136, 0]})
    ]
    assert _calls("kitchen_lights", {"power": "off"}) == [("sasha-hass/light.kitchen_lights/set", "turn_off", {})]


def test_lock_cover_climate_media_and_valve_services() -> None:
    """Map each capability to the service of the entity's own domain, power on first and power off last."""
    assert [c[1] for c in _calls("front_door", {"lock": "unlocked"})] == ["unlock"]
    assert [c[1:] for c in _calls("window", {"position": 40})] == [("set_cover_position", {"position": 40})]
    assert [c[1] for c in _calls("window", {"position": 100})] == ["open_cover"]
    assert [c[1] for c in _calls("window", {"position": 0})] == ["close_cover"]
    assert [c[1:] for c in _calls("hvac", {"hvac_mode": "heat", "target_temperature": 21.5})] == [
        ("set_hvac_mode", {"hvac_mode": "heat"}),
        ("set_temperature", {"temperature": 21.5}),
    ]
    assert [c[1:] for c in _calls("tv", {"power": "on", "volume": 35, "playback": "paused"})] == [
        ("turn_on", {}),
        ("volume_set", {"volume_level": 0.35}),
        ("media_pause", {}),
    ]
    assert [c[1] for c in _calls("tv", {"track": "next", "muted": True})] == ["volume_mute", "media_next_track"]
    assert [c[1] for c in _calls("garden_valve", {"power": "on"})] == ["open_valve"]


def test_states_are_read_in_sashas_vocabulary() -> None:
    """Read brightness 0-255 as percent, kelvin, rgb as #rrggbb, positions, modes, volume 0-1 and sensors."""
    assert _state("kitchen_lights", "on", brightness=128, color_temp_kelvin=2702, rgb_color=[255, 136, 0]) == {
        "power": "on",
        "brightness": 50,
        "color_temp": 2702,
        "color": "#ff8800",
    }
    # Home Assistant reports no brightness for a light that is off; nothing is made up.
    assert _state("kitchen_lights", "off", brightness=None) == {"power": "off"}
    assert _state("front_door", "locked") == {"lock": "locked"}
    assert _state("front_door", "jammed") == {}
    assert _state("window", "open", current_position=40) == {"position": 40}
    assert _state("window", "closed") == {"position": 0}
    assert _state("hvac", "heat", temperature=21, current_temperature=19.5) == {
        "hvac_mode": "heat",
        "target_temperature": 21,
        "temperature": 19.5,
    }
    assert _state("tv", "paused", volume_level=0.35, is_volume_muted=False) == {
        "power": "on",
        "playback": "paused",
        "volume": 35,
        "muted": False,
    }
    assert _state("garden_valve", "open") == {"power": "on"}
    # Sasha's contact is true when closed; Home Assistant's door sensor is on when open.
    assert _state("back_door", "on") == {"contact": False}
    assert _state("outside", "12.5") == {"temperature": 12.5}
    assert _state("outside", "unavailable") == {}


@pytest.mark.parametrize(
    "payload",
    [b"not json", b"[1]", b'{"state": 3}', b'{"state": "on", "attributes": []}', b"{" * 40 + b"}" * 40],
)
def test_a_malformed_state_is_refused(payload: bytes) -> None:
    """Refuse a state that is not `{"state": str, "attributes": object}` with DecodeError, never another exception."""
    device = _device("kitchen_lights")
    with pytest.raises(DecodeError):
        adapter_for(device).decode_state(device, "sasha-hass/light.kitchen_lights/state", payload)


def test_the_device_side_reads_what_the_controller_side_sends() -> None:
    """Decode each service call back into the values it was made from, and report them as an entity state."""
    device = _device("hvac")
    adapter = adapter_for(device)
    values: dict[str, Value] = {"hvac_mode": "cool", "target_temperature": 22}
    asked: dict[str, Value] = {}
    for message in adapter.encode_command(device, values):
        asked |= adapter.decode_command(device, message.topic, message.payload)
    assert asked == values
    [state] = adapter.encode_state(device, {**values, "temperature": 20})
    assert state.retain
    assert adapter.decode_state(device, state.topic, state.payload) == {**values, "temperature": 20}


def test_results_carry_the_call_id_and_home_assistants_error() -> None:
    """Tag a call with its id and read the integration's report of it; a malformed report is a DecodeError."""
    device = _device("window")
    [call] = hass.calls(device, {"position": 30})
    message = hass.command(device, call, "abc123")
    assert json.loads(message.payload)["call"] == "abc123"
    assert hass.result_topic(device) == "sasha-hass/cover.kitchen_window/result"
    report = hass.decode_result(b'{"call": "abc123", "ok": false, "error": "does not support this service"}')
    assert report == hass.CallResult("abc123", ok=False, error="does not support this service")
    with pytest.raises(DecodeError):
        hass.decode_result(b'{"call": "abc123", "ok": "no"}')


def test_a_hass_device_needs_an_entity_id_in_its_topic() -> None:
    """Refuse a `hass` device whose topic does not end in `<domain>.<object id>` of a domain Sasha reaches."""
    for topic in ("sasha-hass/kitchen", "sasha-hass/camera.front", "light.kitchen"):
        data = {
            "rooms": [{"id": "kitchen", "name": "Kitchen"}],
            "devices": [
                {
                    "id": "x",
                    "name": "X",
                    "room": "kitchen",
                    "type": "light",
                    "protocol": "hass",
                    "topic": topic,
                    "capabilities": {"power": {}},
                }
            ],
        }
        with pytest.raises(InventoryError, match="protocol hass needs a topic"):
            inventory.from_dict(data)
