"""The inventory: the example home, lookups, defaults, and broken files reported by line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sasha.errors import InventoryError
from sasha.home import inventory
from sasha.home.capabilities import CAPABILITIES
from sasha.home.inventory import DeviceType, Inventory
from sasha.home.protocols import Protocol
from tests.conftest import EXAMPLE


def test_example_home_covers_the_vocabulary(home: Inventory) -> None:
    """Check the example home is as rich as the issue asks."""
    devices = list(home.devices.values())
    assert len(devices) >= 25
    assert len(home.rooms) >= 6
    assert {n for d in devices for n in d.capabilities} == set(CAPABILITIES)
    assert {d.type for d in devices} == set(DeviceType)
    # `hass` devices are Home Assistant's own entities, which only a Home Assistant can offer.
    assert {d.protocol for d in devices} == set(Protocol) - {Protocol.HASS}
    assert sum(d.sensitive for d in devices) >= 3


def test_lookups(home: Inventory) -> None:
    """Find devices by id, name, alias (any case) and rooms by id or name."""
    assert home.find("reading lamp")[0].id == "living_room_lamp"
    assert home.find("Living Room Lamp")[0].id == "living_room_lamp"
    assert home.find("living_room_lamp")[0].id == "living_room_lamp"
    assert home.find("TV")[0].id == "living_room_tv"
    assert home.find("nothing like this") == []
    room = home.room("living room")
    assert room is not None
    assert room.id == "living_room"
    assert {d.id for d in home.in_room("bathroom")} == {"bathroom_light", "bathroom_fan", "bathroom_humidity"}
    assert home.get("front_door") is not None
    assert home.get("coffee_machine") is None
    assert {d.id for d in home.with_capability("lock")} == {"front_door"}


def test_defaults(home: Inventory) -> None:
    """Resolve topics, sensitivity and capability ranges the way the design says."""
    assert home.devices["living_room_lamp"].topic == "sasha-demo/living_room_lamp"
    assert home.devices["bedroom_light"].topic == "zigbee2mqtt/bedroom_light"
    assert home.devices["hallway_light"].topic == "hallway_light"
    assert home.devices["front_door"].sensitive
    assert home.devices["garage_door"].sensitive
    assert not home.devices["garden_irrigation"].sensitive  # explicit override of the type default
    assert not home.devices["living_room_lamp"].sensitive
    thermostat = home.devices["living_room_thermostat"].capabilities["target_temperature"]
    assert (thermostat.min, thermostat.max, thermostat.step) == (5, 30, 0.5)
    fan = home.devices["bedroom_fan"].capabilities["fan_speed"]
    assert (fan.min, fan.max) == (0, 100)
    assert home.devices["office_air_conditioner"].capabilities["hvac_mode"].values[-1] == "auto"
    assert not home.devices["bathroom_humidity"].capabilities["humidity"].writable


GOOD = """\
home:
  name: Test
rooms:
  - {id: hall, name: Hall}
  - {id: kitchen, name: Kitchen}
devices:
  - id: lamp
    name: Lamp
    room: hall
    type: light
    capabilities:
      power: {}
      brightness: {min: 1, max: 100}
  - id: stove
    name: Stove
    room: kitchen
    type: oven
    protocol: homeassistant
    capabilities:
      power: {}
      target_temperature: {min: 50, max: 250, step: 5}
"""


def _broken(old: str, new: str) -> str:
    assert old in GOOD, old
    return GOOD.replace(old, new, 1)


BROKEN = [
    (
        "bad yaml",
        _broken("  - {id: kitchen, name: Kitchen}", "  - {id: kitchen, name: Kitchen"),
        6,
        "started on line 5",
    ),
    ("tab indentation", _broken("    name: Lamp", "\tname: Lamp"), 8, "invalid YAML"),
    ("not a mapping", "- just\n- a list\n", 1, "must be a mapping"),
    ("missing devices", "rooms:\n  - {id: hall, name: Hall}\n", 1, "missing required field 'devices'"),
    ("duplicate id", _broken("  - id: stove", "  - id: lamp"), 14, "duplicate device id 'lamp'"),
    ("bad id", _broken("  - id: lamp", "  - id: Lamp-1"), 7, "id must use only a-z"),
    ("unknown room", _broken("    room: hall", "    room: attic"), 9, "unknown room 'attic'"),
    (
        "duplicate room",
        _broken("  - {id: kitchen, name: Kitchen}", "  - {id: hall, name: Hall 2}"),
        5,
        "duplicate room",
    ),
    ("unknown type", _broken("    type: light", "    type: lava_lamp"), 10, "unknown type 'lava_lamp'"),
    ("unknown protocol", _broken("    protocol: homeassistant", "    protocol: zwave"), 18, "unknown protocol 'zwave'"),
    (
        "unknown capability",
        _broken("      power: {}\n      brightness", "      warp: {}\n      brightness"),
        12,
        "unknown capability 'warp'",
    ),
    ("max above limit", _broken("{min: 1, max: 100}", "{min: 1, max: 300}"), 13, "brightness.max 300 is above 100"),
    (
        "min above max",
        _broken("{min: 1, max: 100}", "{min: 90, max: 10}"),
        13,
        "brightness.min 90 is above brightness.max 10",
    ),
    ("step not positive", _broken("step: 5}", "step: 0}"), 21, "step must be above 0"),
    ("wrong type of max", _broken("{min: 1, max: 100}", "{min: 1, max: lots}"), 13, "brightness.max"),
    ("wrong type of name", _broken("    name: Lamp", "    name: [Lamp]"), 8, "name: input should be a valid string"),
    (
        "misspelt field",
        _broken(
            "    capabilities:\n      power: {}\n      brightness",
            "    capabilites:\n      power: {}\n      brightness",
        ),
        11,
        "unknown field 'capabilites'",
    ),
    ("missing room field", _broken("    room: hall\n", ""), 7, "missing required field 'room'"),
    (
        "values where none belong",
        _broken("      power: {}\n      brightness", "      power: {values: [on]}\n      brightness"),
        12,
        "power takes no values",
    ),
    (
        "range on a word capability",
        _broken("      power: {}\n      brightness", "      power: {max: 3}\n      brightness"),
        12,
        "power takes no max",
    ),
    (
        "source without values",
        _broken("      power: {}\n      brightness", "      source: {}\n      brightness"),
        12,
        "source needs a list of values",
    ),
    (
        "sensor with writable capability",
        _broken("    type: light", "    type: sensor"),
        12,
        "a sensor cannot have the writable capability 'power'",
    ),
    (
        "no capabilities",
        _broken("    capabilities:\n      power: {}\n      brightness: {min: 1, max: 100}\n", "    capabilities: {}\n"),
        11,
        "has no capabilities",
    ),
    ("duplicate key", _broken("    name: Lamp", "    name: Lamp\n    name: Lamp again"), 9, "duplicate key 'name'"),
    (
        "bad timezone",
        _broken("  name: Test", "  name: Test\n  timezone: Mars/Olympus"),
        3,
        "unknown timezone 'Mars/Olympus'",
    ),
    (
        "wildcard topic",
        _broken("    type: light", "    type: light\n    topic: home/+/lamp"),
        11,
        "not a valid MQTT topic",
    ),
    (
        "tasmota lock",
        _broken(
            "    type: light\n    capabilities:\n      power: {}",
            "    type: light\n    protocol: tasmota\n    capabilities:\n      lock: {}",
        ),
        13,
        "protocol tasmota cannot carry capability 'lock'",
    ),
    (
        "sensitive not a bool",
        _broken("    type: light", "    type: light\n    sensitive: maybe"),
        11,
        "sensitive: input should be a valid boolean",
    ),
    (
        "fractional percent",
        _broken("{min: 1, max: 100}", "{min: 1.5, max: 100}"),
        13,
        "brightness.min must be a whole number",
    ),
    (
        "same name twice",
        _broken("    name: Stove", "    name: Lamp"),
        15,
        "name 'Lamp' is already used by device 'lamp'",
    ),
    (
        "room alias used twice",
        _broken(
            "  - {id: hall, name: Hall}\n  - {id: kitchen, name: Kitchen}",
            "  - {id: hall, name: Hall, aliases: [entrance]}\n  - {id: kitchen, name: Kitchen, aliases: [entrance]}",
        ),
        5,
        "alias 'entrance' already names room 'hall'",
    ),
    (
        "room alias is another room's name",
        _broken("  - {id: kitchen, name: Kitchen}", "  - {id: kitchen, name: Kitchen, aliases: [hall]}"),
        5,
        "alias 'hall' already names room 'hall'",
    ),
    (
        "empty floor",
        _broken("  - {id: hall, name: Hall}", "  - {id: hall, name: Hall, floor: ''}"),
        4,
        "floor must not be empty",
    ),
    (
        "command_topic on generic",
        _broken("    type: light", "    type: light\n    command_topic: a/b"),
        11,
        "apply only to protocol homeassistant",
    ),
]


def test_good_base_loads() -> None:
    """Make sure the broken cases start from a file that is fine."""
    home = inventory.from_yaml(GOOD, "home.yaml")
    assert set(home.devices) == {"lamp", "stove"}


@pytest.mark.parametrize(("text", "line", "fragment"), [c[1:] for c in BROKEN], ids=[c[0] for c in BROKEN])
def test_broken_inventory_names_line_and_problem(text: str, line: int, fragment: str) -> None:
    """Report the file, the line and what is wrong, never a traceback."""
    with pytest.raises(InventoryError) as caught:
        inventory.from_yaml(text, "home.yaml")
    problems = caught.value.problems
    assert any(p.line == line and fragment in p.message for p in problems), [str(p) for p in problems]
    assert all(str(p).startswith("home.yaml:") for p in problems)


def test_there_are_twenty_broken_cases() -> None:
    """Keep the suite of broken files at the size the issue asks for."""
    assert len(BROKEN) >= 20


def test_every_problem_is_reported_at_once() -> None:
    """List all problems of a file rather than stopping at the first."""
    text = _broken("    room: hall", "    room: attic").replace("    type: oven", "    type: furnace")
    with pytest.raises(InventoryError) as caught:
        inventory.from_yaml(text, "home.yaml")
    assert [p.line for p in caught.value.problems] == [9, 17]


def test_unreadable_file(tmp_path: Path) -> None:
    """Say so when the file is missing."""
    with pytest.raises(InventoryError, match=r"nowhere\.yaml:0: cannot read file"):
        inventory.from_file(tmp_path / "nowhere.yaml")


def test_example_file_error_message_format(tmp_path: Path) -> None:
    """Format problems as the design shows: `devices.yaml:14: device 'lamp': ...`."""
    path = tmp_path / "devices.yaml"
    path.write_text(textwrap.dedent(_broken("{min: 1, max: 100}", "{min: 1, max: 300}")))
    with pytest.raises(InventoryError) as caught:
        inventory.from_file(path)
    assert str(caught.value) == f"{path}:13: device 'lamp': brightness.max 300 is above 100"


def test_example_file_is_the_one_checked() -> None:
    """Load the example through the file layer."""
    assert len(inventory.from_file(EXAMPLE)) >= 25


def test_bare_on_off_are_words() -> None:
    """Read `values: [off, heat]` as words, not YAML 1.1 booleans; true/false stay booleans."""
    text = _broken("      power: {}\n      brightness", "      hvac_mode: {values: [off, heat, on]}\n      brightness")
    home = inventory.from_yaml(text, "home.yaml")
    assert home.devices["lamp"].capabilities["hvac_mode"].values == ("off", "heat", "on")
    with pytest.raises(InventoryError, match="sensitive: input should be a valid boolean"):
        inventory.from_yaml(_broken("    type: light", "    type: light\n    sensitive: yes"), "home.yaml")
    home = inventory.from_yaml(_broken("    type: light", "    type: light\n    sensitive: true"), "home.yaml")
    assert home.devices["lamp"].sensitive


_WIRED = """\
rooms: [{id: den, name: Den}]
devices:
  - id: plug
    name: Plug
    room: den
    type: plug
    protocol: homeassistant
    topic: plugs/1
    capabilities: {power: {}, power_usage: {}}
    wire:
      power: {payload_on: "1", payload_off: "0"}
      power_usage: {state_topic: plugs/1/telemetry, key: power}
  - id: trv
    name: Radiator
    room: den
    type: thermostat
    protocol: zigbee2mqtt
    capabilities: {target_temperature: {}}
    wire: {target_temperature: {key: occupied_heating_setpoint}}
  - id: hall
    name: Hall light
    room: den
    type: light
    protocol: homeassistant
    light_schema: default
    capabilities: {power: {}, brightness: {}}
    wire: {brightness: {command_topic: shellies/hall/brightness/set, scale: 100}}
"""


def test_wire_and_light_schema_load() -> None:
    """Read per-capability wire settings and the light schema of homeassistant and zigbee2mqtt devices."""
    home = inventory.from_yaml(_WIRED)
    plug = home.devices["plug"]
    assert plug.wire["power"].payload_on == "1"
    assert plug.wire["power_usage"].key == "power"
    assert home.devices["trv"].wire["target_temperature"].key == "occupied_heating_setpoint"
    assert home.devices["hall"].light_schema == "default"
    assert home.devices["hall"].wire["brightness"].scale == 100
    assert inventory.from_file(EXAMPLE).devices["kitchen_light"].light_schema == "json"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "power_usage: {state_topic",
            "energy: {state_topic",
            "wire names 'energy', which is not one of its capabilities",
        ),
        (
            "{key: occupied_heating_setpoint}",
            "{scale: 2}",
            "wire.target_temperature.scale does not apply to protocol zigbee2mqtt",
        ),
        ("scale: 100", "scale: 0", "wire.brightness.scale must be above 0"),
        ("light_schema: default", "light_schema: template", "light_schema 'template' is not json or default"),
        ("state_topic: plugs/1/telemetry", "state_topic: plugs/+/telemetry", "is not a valid MQTT topic"),
    ],
)
def test_bad_wire_settings_are_reported_with_their_line(old: str, new: str, message: str) -> None:
    """Refuse wire settings a device's protocol cannot use, naming the line."""
    with pytest.raises(InventoryError) as err:
        inventory.from_yaml(_WIRED.replace(old, new))
    assert any(message in p.message for p in err.value.problems), err.value.problems


FLOORS = """\
rooms:
  - {id: hall, name: Hall, floor: Ground floor, aliases: [entrance, Front Hall]}
  - {id: den, name: Den, floor: ground floor}
  - {id: loft, name: Loft, floor: upstairs}
  - {id: shed, name: Shed}
devices:
  - {id: lamp, name: Lamp, room: hall, type: light, capabilities: {power: {}}}
  - {id: den_lamp, name: Den lamp, room: den, type: light, capabilities: {power: {}}}
  - {id: loft_lamp, name: Loft lamp, room: loft, type: light, capabilities: {power: {}}}
  - id: radio
    name: Radio
    room: shed
    type: media_player
    protocol: tasmota
    capabilities: {muted: {}, track: {}}
"""


def test_rooms_have_optional_floors_and_aliases() -> None:
    """Find rooms by alias and devices by floor (case ignored); rooms without either stay valid."""
    home = inventory.from_yaml(FLOORS.replace("protocol: tasmota", "protocol: zigbee2mqtt"), "home.yaml")
    assert home.room("front hall") is home.rooms["hall"]
    assert home.room("Entrance") is home.rooms["hall"]
    assert home.rooms["shed"].floor is None
    assert home.rooms["shed"].aliases == ()
    assert [d.id for d in home.on_floor("GROUND FLOOR")] == ["lamp", "den_lamp"]
    assert [d.id for d in home.on_floor("upstairs")] == ["loft_lamp"]
    assert home.on_floor("cellar") == []


def test_tasmota_cannot_carry_muted_or_track() -> None:
    """Refuse media capabilities Tasmota has no command for, at load time."""
    with pytest.raises(InventoryError) as caught:
        inventory.from_yaml(FLOORS, "home.yaml")
    messages = [p.message for p in caught.value.problems]
    assert any("protocol tasmota cannot carry capability 'muted'" in m for m in messages), messages
    assert any("protocol tasmota cannot carry capability 'track'" in m for m in messages), messages
