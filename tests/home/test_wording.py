"""Changes said in words for replies."""

from __future__ import annotations

from typing import Any

import pytest

from sasha.home import inventory
from sasha.home.wording import say_changes
from tests.conftest import EXAMPLE

HOME = inventory.from_file(EXAMPLE)


@pytest.mark.parametrize(
    ("device", "values", "said"),
    [
        ("front_door", {"lock": "locked"}, "Front door lock locked"),
        ("garage_door", {"position": 0}, "Garage door closed"),
        ("garage_door", {"position": 100}, "Garage door open"),
        ("living_room_blinds", {"position": 30}, "Living room blinds 30 % open"),
        ("house_alarm", {"power": "on"}, "House alarm armed"),
        ("house_alarm", {"power": "off"}, "House alarm disarmed"),
        ("kitchen_oven", {"power": "off"}, "Oven off"),
        ("kitchen_light", {"brightness": 30, "power": "on"}, "Kitchen light on, brightness 30 %"),
        ("living_room_tv", {"muted": True}, "Television muted"),
        ("living_room_tv", {"track": "next"}, "Television next track"),
        ("living_room_tv", {"playback": "paused"}, "Television paused"),
        ("living_room_thermostat", {"target_temperature": 21.5}, "Living room thermostat set to 21.5 °C"),
        ("office_air_conditioner", {"hvac_mode": "cool"}, "Air conditioner mode cool"),
        ("living_room_lamp", {"color_temp": 2700}, "Living room lamp 2700 K"),
        ("living_room_lamp", {"color": "#ffd8a8"}, "Living room lamp color #ffd8a8"),
    ],
)
def test_one_change_in_words(device: str, values: dict[str, Any], said: str) -> None:
    """Say what the capability means, not its name and raw value."""
    assert say_changes([(HOME.devices[device], values)]) == said


def test_devices_told_the_same_are_grouped() -> None:
    """Group devices that got the same change, in the order they came; others after a semicolon."""
    changes = [(HOME.devices[d], {"power": "off"}) for d in ("bedroom_light", "bathroom_light", "office_light")]
    changes.insert(1, (HOME.devices["kitchen_light"], {"power": "on"}))
    assert say_changes(changes) == "Bedroom light, Bathroom light and Office light off; Kitchen light on"
