"""The YAML file layer: lines of nodes, and bounds on nesting and aliases for every file Sasha reads."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sasha import config
from sasha.errors import ConfigError, InventoryError
from sasha.home import inventory, yamlsource
from sasha.home.inventory import Inventory
from sasha.routines.store import RoutinesFileError, parse
from sasha.scenarios.files import ScenarioError
from sasha.scenarios.files import load as load_scenario
from tests.conftest import run_sasha

# The classic "billion laughs": nine anchors of nine aliases each, 342 bytes for 9**9 strings.
BOMB = Path(__file__).parent / "data" / "billion_laughs.yaml"
BOMB_PROBLEM = "aliases expand to more than 10000 values"


def _problem(text: str) -> str:
    with pytest.raises(yamlsource.YamlSourceError) as caught:
        yamlsource.load(text, "f.yaml")
    return str(caught.value)


def test_billion_laughs_is_refused_while_composing() -> None:
    """Refuse the bomb at the line whose aliases cross the budget, without expanding it."""
    assert len(BOMB.read_bytes()) < 400
    assert _problem(BOMB.read_text()) == f"f.yaml:5: {BOMB_PROBLEM} (an alias bomb?); write them out"


def test_every_loader_refuses_the_bomb(home: Inventory, tmp_path: Path) -> None:
    """Refuse it as devices.yaml, routines.yaml, a scenario and the config file, with file:line."""
    text = BOMB.read_text()
    with pytest.raises(InventoryError, match=BOMB_PROBLEM) as inventory_error:
        inventory.from_yaml(text, "devices.yaml")
    assert str(inventory_error.value.problems[0]).startswith("devices.yaml:5: ")
    with pytest.raises(RoutinesFileError, match=f"routines.yaml:5: {BOMB_PROBLEM}"):
        parse(text, "routines.yaml", home)
    scenario = tmp_path / "bomb.yaml"
    scenario.write_text(text)
    with pytest.raises(ScenarioError, match=f"bomb.yaml:5: {BOMB_PROBLEM}"):
        load_scenario(scenario)
    with pytest.raises(ConfigError, match=f"bomb.yaml:5: {BOMB_PROBLEM}"):
        config.load(environ={}, config_file=scenario)


async def test_sasha_check_refuses_the_bomb_with_a_clear_error() -> None:
    """Exit 1 from `sasha check` with the located problem, not a traceback or a hang."""
    code, out, err = await run_sasha("check", "--devices", str(BOMB))
    assert code == 1
    assert f"billion_laughs.yaml:5: {BOMB_PROBLEM}" in out + err
    assert "Traceback" not in out + err


def _generated(count: int) -> str:
    """Write a home of `count` devices the way a program does: yaml.safe_dump of shared maps."""
    light = {"power": {}, "brightness": {"min": 1, "max": 100}, "color_temp": {"min": 2200, "max": 6500}}
    plug = {"power": {}, "power_usage": {}}
    rooms = [{"id": f"room_{r}", "name": f"Room {r}"} for r in range(count // 20)]
    devices = [
        {
            "id": f"device_{i}",
            "name": f"Device {i}",
            "room": f"room_{i % len(rooms)}",
            "type": "light" if i % 2 else "plug",
            "protocol": "zigbee2mqtt",
            "capabilities": light if i % 2 else plug,  # the same dict object: safe_dump anchors it
        }
        for i in range(count)
    ]
    return yaml.safe_dump({"home": {"name": "Generated"}, "rooms": rooms, "devices": devices}, sort_keys=False)


def test_a_generated_inventory_with_thousands_of_aliases_loads(tmp_path: Path) -> None:
    """Load 1,000 devices written by yaml.safe_dump (998 aliases to two shared maps)."""
    text = _generated(1000)
    assert text.count("*id00") == 998
    home = inventory.from_yaml(text, "generated.yaml")
    assert len(home) == 1000
    assert home.devices["device_999"].capabilities["brightness"].max == 100


async def test_sasha_check_loads_a_generated_inventory(tmp_path: Path) -> None:
    """Run `sasha check` on the generated 1,000-device file: exit 0."""
    path = tmp_path / "devices.yaml"
    path.write_text(_generated(1000))
    code, out, err = await run_sasha("check", "--devices", str(path))
    assert code == 0, out + err
    assert "1000 devices" in out + err or "Generated" in out


def test_a_bomb_padded_with_plain_values_is_still_refused() -> None:
    """Refuse aliases that expand far beyond what the file writes out, however much it writes."""
    lines = [f"p{i}: {i}" for i in range(2000)]  # 4,000 values written out: the cap is 40,000
    lines += ['a: &a ["x","x","x","x","x","x","x","x","x","x"]']
    lines += [f"{name}: &{name} [{', '.join([f'*{prev}'] * 10)}]" for prev, name in zip("abcd", "bcde", strict=True)]
    assert "aliases expand to more than 40" in _problem("\n".join(lines))


def test_a_few_aliases_still_work() -> None:
    """Read a block shared by a handful of aliases as copies of its value."""
    data, _ = yamlsource.load("base: &b [1, 2]\none: *b\ntwo: *b\n", "f.yaml")
    assert data == {"base": [1, 2], "one": [1, 2], "two": [1, 2]}


def test_deep_nesting_is_refused_before_recursion() -> None:
    """Refuse 5,000 nested brackets with a clear error instead of a RecursionError."""
    assert _problem("[" * 5000) == "f.yaml:1: document is nested too deeply"
    assert _problem("a:\n" + "".join(f"{'  ' * i}- \n" for i in range(1, 80))).endswith("nested too deeply")
    data, _ = yamlsource.load("a: " + "[" * 40 + "]" * 40, "f.yaml")
    assert data is not None


def test_a_recursive_alias_is_refused() -> None:
    """Refuse an anchor that contains itself."""
    assert _problem("a: &a [*a]") == "f.yaml:1: document is nested too deeply"


def test_values_the_constructor_refuses_are_located() -> None:
    """Report merge keys, impossible dates and bad base64 as problems, not library exceptions."""
    assert _problem("base: &b {x: 1}\nother: {<<: *b}") == "f.yaml:2: merge keys (<<) are not supported"
    assert _problem("a: 1\nb: 2024-13-45") == "f.yaml:2: invalid value: month must be in 1..12"
    assert _problem("a: !!binary xx").startswith("f.yaml:1: invalid value: failed to decode base64")
