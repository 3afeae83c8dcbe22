"""Home Assistant's inventory from the Sasha integration → inventory entries, rooms, floors and aliases."""

from __future__ import annotations

import json
from typing import Any

import yaml

from sasha.discovery.build import build
from sasha.home import inventory
from sasha.home.inventory import DeviceType, Inventory

TOPIC = "sasha-hass/inventory"


def _doc(*entities: dict[str, Any], **extra: Any) -> bytes:
    body: dict[str, Any] = {
        "format": 1,
        "temperature_unit": "°C",
        "floors": [{"id": "ground", "name": "Ground floor"}],
        "areas": [
            {"id": "kitchen", "name": "Kitchen", "floor": "ground", "aliases": ["galley"]},
            {"id": "hall", "name": "Hall", "aliases": ["kitchen", "entrance"]},
        ],
        "entities": list(entities),
    }
    return json.dumps(body | extra).encode()


LIGHT = {
    "entity_id": "light.kitchen_lights",
    "name": "Kitchen Lights",
    "aliases": ["worktop light"],
    "area": "kitchen",
    "attributes": {"supported_color_modes": ["color_temp", "hs"], "min_color_temp_kelvin": 2000},
}
LOCK = {"entity_id": "lock.front_door", "name": "Front Door", "area": "hall"}
GARAGE = {"entity_id": "cover.garage_door", "name": "Garage Door", "device_class": "garage", "features": 3}
CLIMATE = {
    "entity_id": "climate.hvac",
    "name": "Hvac",
    "area": "kitchen",
    "attributes": {"min_temp": 7, "max_temp": 35, "target_temp_step": 1, "hvac_modes": ["off", "heat", "cool"]},
}


def _home(payload: bytes) -> tuple[Inventory, list[str]]:
    outcome = build([(TOPIC, payload)])
    return inventory.from_yaml(outcome.text), [f"{s.source}: {s.reason}" for s in outcome.skipped]


def test_entities_become_devices_in_their_areas_with_floors_and_aliases() -> None:
    """Turn exposed entities into `hass` devices on `<base>/<entity id>`, areas into rooms with floor and aliases."""
    home, skipped = _home(_doc(LIGHT, LOCK, GARAGE, CLIMATE))
    assert skipped == []
    light = home.devices["kitchen_lights"]
    assert (light.protocol, light.topic, light.room, light.aliases) == (
        "hass",
        "sasha-hass/light.kitchen_lights",
        "kitchen",
        ("worktop light",),
    )
    assert set(light.capabilities) == {"power", "brightness", "color_temp", "color"}
    assert light.capabilities["color_temp"].min == 2000
    assert home.rooms["kitchen"].floor == "Ground floor"
    assert home.rooms["kitchen"].aliases == ("galley",)
    # "kitchen" already names a room: an alias that would make the file refused is dropped, the rest kept.
    assert home.rooms["hall"].aliases == ("entrance",)
    assert home.room("galley") is home.rooms["kitchen"]
    assert [d.id for d in home.on_floor("ground floor")] == ["hvac", "kitchen_lights"]
    hvac = home.devices["hvac"]
    assert hvac.type is DeviceType.THERMOSTAT
    assert hvac.capabilities["hvac_mode"].values == ("off", "heat", "cool")
    assert (hvac.capabilities["target_temperature"].min, hvac.capabilities["target_temperature"].max) == (7, 35)


def test_locks_garage_doors_and_valves_stay_sensitive() -> None:
    """Mark locks, garage covers and valves sensitive, whatever they are called."""
    valve = {"entity_id": "valve.garden", "name": "Garden"}
    home, _ = _home(_doc(LOCK, GARAGE, valve, LIGHT))
    assert home.devices["front_door"].sensitive
    assert home.devices["garage_door"].type is DeviceType.GARAGE_DOOR
    assert home.devices["garage_door"].sensitive
    assert home.devices["garden"].type is DeviceType.WATER_VALVE
    assert home.devices["garden"].sensitive
    assert not home.devices["kitchen_lights"].sensitive


def test_what_sasha_cannot_use_is_skipped_with_a_reason() -> None:
    """Skip unknown domains, sensor classes and units, and °F climates, and say why; keep the rest."""
    entities = [
        {"entity_id": "camera.door", "name": "Door camera"},
        {"entity_id": "cover.pergola", "name": "Pergola", "features": 16 | 32},
        {"entity_id": "sensor.pm25", "name": "PM 2.5", "device_class": "pm25"},
        {"entity_id": "sensor.attic", "name": "Attic", "device_class": "temperature", "attributes": {}},
        {"entity_id": "sensor.cellar", "device_class": "humidity", "attributes": {"unit_of_measurement": "%"}},
        {"entity_id": "bad id"},
        "not an object",
    ]
    home, skipped = _home(_doc(*entities))
    assert set(home.devices) == {"cellar"}
    assert skipped == [
        "Home Assistant camera.door: domain camera is not one Sasha reaches",
        "Home Assistant cover.pergola: a cover that only tilts: Sasha sets covers by position",
        "Home Assistant sensor.pm25: a sensor of device class 'pm25', which Sasha does not read",
        "Home Assistant sensor.attic: temperature in None, not °C",
        "Home Assistant bad id: no usable entity_id",
    ]
    _, fahrenheit = _home(_doc(CLIMATE, temperature_unit="°F"))
    assert fahrenheit == ["Home Assistant climate.hvac: climate in °F: Sasha's temperatures are °C"]


def test_scenes_and_scripts_run_when_turned_on_and_media_players_by_features() -> None:
    """Make scenes and scripts switches that run on "on"; give media players what their feature bits allow."""
    scene = {"entity_id": "scene.movie_night", "name": "Movie night"}
    player = {
        "entity_id": "media_player.lounge",
        "name": "Lounge speaker",
        # VOLUME_SET | VOLUME_MUTE | PAUSE | PLAY | TURN_ON | TURN_OFF | SELECT_SOURCE
        "features": 4 | 8 | 1 | 16384 | 128 | 256 | 2048,
        "attributes": {"source_list": ["Radio", "Spotify"]},
    }
    home, _ = _home(_doc(scene, player))
    assert home.devices["movie_night"].topic == "sasha-hass/scene.movie_night"
    assert set(home.devices["movie_night"].capabilities) == {"power"}
    speaker = home.devices["lounge_speaker"]
    assert set(speaker.capabilities) == {"volume", "muted", "power", "source", "playback"}
    assert speaker.capabilities["source"].values == ("Radio", "Spotify")


def test_a_broken_inventory_is_skipped_not_raised() -> None:
    """Skip a payload that is not JSON, not an object, of another format, or nested too deep."""
    for payload in (b"\xff", b"[]", b'{"format": 2}', b"[" * 100 + b"]" * 100):
        outcome = build([(TOPIC, payload)])
        assert outcome.entries == []
        assert [s.source for s in outcome.skipped] == [TOPIC]


def test_merged_into_a_file_the_users_devices_and_rooms_stay() -> None:
    """Add Home Assistant's devices to the user's file; its own devices and rooms are kept."""
    text = """
rooms:
  - {id: kitchen, name: Kitchen}
devices:
  - {id: lamp, name: Lamp, room: kitchen, type: light, capabilities: {power: {}}}
"""
    current = inventory.from_yaml(text)
    outcome = build([(TOPIC, _doc(LIGHT, LOCK))], (yaml.safe_load(text), current))
    home = inventory.from_yaml(outcome.text)
    assert set(home.devices) == {"lamp", "kitchen_lights", "front_door"}
    assert home.devices["kitchen_lights"].room == "kitchen"
    assert set(home.rooms) == {"kitchen", "hall"}
