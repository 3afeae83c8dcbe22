"""Validation: the gate between untrusted values and the devices."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sasha.home import inventory
from sasha.home.capabilities import ValueKind
from sasha.home.inventory import Inventory
from sasha.home.validation import ProblemCode, validate
from tests.conftest import EXAMPLE

HOME = inventory.from_file(EXAMPLE)


@pytest.mark.parametrize(
    ("device", "values", "normalised"),
    [
        ("living_room_lamp", {"power": "on", "brightness": 30, "color_temp": 2700}, None),
        ("living_room_lamp", {"power": "ON"}, {"power": "on"}),
        ("living_room_lamp", {"power": True}, {"power": "on"}),
        ("living_room_lamp", {"brightness": 30.0}, {"brightness": 30}),
        ("living_room_ceiling", {"color": "Orange"}, {"color": "#ffa500"}),
        ("living_room_ceiling", {"color": "#FF8800"}, {"color": "#ff8800"}),
        ("living_room_ceiling", {"color": "f80"}, {"color": "#ff8800"}),
        ("living_room_ceiling", {"color": "warm  white"}, {"color": "#ffd8a8"}),
        ("living_room_thermostat", {"target_temperature": 21.5}, None),
        ("living_room_thermostat", {"target_temperature": 21}, None),
        ("living_room_thermostat", {"target_temperature": 21.4999999999}, {"target_temperature": 21.5}),
        ("living_room_thermostat", {"hvac_mode": "Heat"}, {"hvac_mode": "heat"}),
        ("front_door", {"lock": "unlocked"}, None),
        ("living_room_tv", {"source": "netflix", "playback": "playing", "volume": 80}, None),
    ],
)
def test_accepts_and_normalises(device: str, values: dict[str, Any], normalised: dict[str, Any] | None) -> None:
    """Accept valid values and return them in wire form."""
    result = validate(HOME, device, values)
    assert result.ok, result.problems
    assert result.values == (normalised or values)


@pytest.mark.parametrize(
    ("device", "values", "code", "fragment"),
    [
        ("coffee_machine", {"power": "on"}, ProblemCode.UNKNOWN_DEVICE, "no device 'coffee_machine'"),
        (None, {"power": "on"}, ProblemCode.UNKNOWN_DEVICE, "no device"),
        ("living_room_lamp", {}, ProblemCode.EMPTY, "no capability values"),
        ("living_room_lamp", "on", ProblemCode.EMPTY, "no capability values"),
        ("living_room_lamp", {"color": "red"}, ProblemCode.UNKNOWN_CAPABILITY, "has no capability 'color'"),
        ("living_room_lamp", {"warp": 9}, ProblemCode.UNKNOWN_CAPABILITY, "it can set: brightness, color_temp, power"),
        ("bathroom_humidity", {"humidity": 30}, ProblemCode.READ_ONLY, "sensor reading"),
        ("living_room_thermostat", {"temperature": 30}, ProblemCode.READ_ONLY, "sensor reading"),
        ("living_room_lamp", {"brightness": 150}, ProblemCode.OUT_OF_RANGE, "between 1 and 100%, not 150%"),
        ("living_room_lamp", {"brightness": 0}, ProblemCode.OUT_OF_RANGE, "between 1 and 100%"),
        ("living_room_lamp", {"brightness": "30"}, ProblemCode.WRONG_TYPE, "must be a number"),
        ("living_room_lamp", {"brightness": True}, ProblemCode.WRONG_TYPE, "must be a number"),
        ("living_room_lamp", {"brightness": 30.5}, ProblemCode.WRONG_TYPE, "whole number"),
        ("living_room_lamp", {"brightness": math.nan}, ProblemCode.WRONG_TYPE, "must be a number"),
        ("living_room_lamp", {"brightness": math.inf}, ProblemCode.WRONG_TYPE, "must be a number"),
        ("living_room_lamp", {"color_temp": 9000}, ProblemCode.OUT_OF_RANGE, "between 2200 and 6500K"),
        ("living_room_lamp", {"power": "dim"}, ProblemCode.NOT_ALLOWED, "one of on, off"),
        ("living_room_lamp", {"power": 1}, ProblemCode.WRONG_TYPE, "one of on, off"),
        ("living_room_thermostat", {"target_temperature": 21.3}, ProblemCode.NOT_A_STEP, "multiple of 0.5°C"),
        ("living_room_thermostat", {"target_temperature": 35}, ProblemCode.OUT_OF_RANGE, "between 5 and 30°C"),
        ("living_room_thermostat", {"hvac_mode": "cool"}, ProblemCode.NOT_ALLOWED, "one of off, heat, auto"),
        ("living_room_ceiling", {"color": "ultraviolet"}, ProblemCode.NOT_ALLOWED, "colour"),
        ("living_room_ceiling", {"color": [255, 0, 0]}, ProblemCode.WRONG_TYPE, "colour"),
        ("front_door", {"lock": "open"}, ProblemCode.NOT_ALLOWED, "locked, unlocked"),
        ("living_room_tv", {"volume": 95}, ProblemCode.OUT_OF_RANGE, "between 0 and 80%"),
        ("living_room_tv", {"source": "hdmi9"}, ProblemCode.NOT_ALLOWED, "tv, netflix, hdmi1, spotify"),
    ],
)
def test_refuses_precisely(device: Any, values: Any, code: ProblemCode, fragment: str) -> None:
    """Refuse a bad value with a code and a message that says what is wrong."""
    result = validate(HOME, device, values)
    assert not result.ok
    assert [p.code for p in result.problems] == [code]
    assert fragment in result.problems[0].message


def test_mixed_values_keep_the_good_and_name_the_bad() -> None:
    """Report every bad capability of one action, and which were fine."""
    result = validate(HOME, "living_room_lamp", {"power": "on", "brightness": 300, "color": "red"})
    assert not result.ok
    assert {p.capability for p in result.problems} == {"brightness", "color"}
    assert result.values == {"power": "on"}


_ANYTHING = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
_TARGETS = [(d.id, name) for d in HOME.devices.values() for name in d.capabilities]


@given(target=st.sampled_from(_TARGETS), value=_ANYTHING)
def test_any_value_is_accepted_within_bounds_or_refused(target: tuple[str, str], value: Any) -> None:
    """Whatever comes in, the result is either refused or a value the device can take."""
    device_id, name = target
    result = validate(HOME, device_id, {name: value})
    capability = HOME.devices[device_id].capabilities[name]
    if not result.ok:
        assert len(result.problems) == 1
        assert result.problems[0].message
        return
    accepted = result.values[name]
    assert capability.writable
    kind = capability.info.kind
    if kind in (ValueKind.INTEGER, ValueKind.NUMBER):
        assert isinstance(accepted, int | float)
        assert not isinstance(accepted, bool)
        assert capability.min is not None
        assert capability.max is not None
        assert capability.min <= accepted <= capability.max
        if kind is ValueKind.INTEGER:
            assert isinstance(accepted, int)
        if capability.step:
            assert abs(accepted / capability.step - round(accepted / capability.step)) < 1e-6
    elif kind is ValueKind.COLOR:
        assert isinstance(accepted, str)
        assert len(accepted) == 7
        assert accepted.startswith("#")
    elif kind is ValueKind.BOOLEAN:
        assert isinstance(accepted, bool)
    else:
        assert accepted in (capability.info.words or capability.values)


@given(
    target=st.sampled_from(
        [(d.id, n) for d in HOME.devices.values() for n, c in d.capabilities.items() if c.writable and c.info.ranged]
    ),
    fraction=st.floats(min_value=0, max_value=1),
)
def test_every_in_range_value_is_accepted(target: tuple[str, str], fraction: float) -> None:
    """Accept every value on the capability's grid inside its range."""
    device_id, name = target
    capability = HOME.devices[device_id].capabilities[name]
    assert capability.min is not None
    assert capability.max is not None
    value = capability.min + (capability.max - capability.min) * fraction
    grid = capability.step or 1
    value = min(max(round(value / grid) * grid, capability.min), capability.max)
    result = validate(HOME, device_id, {name: value})
    assert result.ok, result.problems


@given(device_id=st.text(max_size=20))
def test_unknown_devices_never_pass(device_id: str) -> None:
    """Refuse every id that is not in the inventory."""
    home: Inventory = HOME
    result = validate(home, device_id, {"power": "on"})
    assert result.ok == (device_id in home.devices and "power" in home.devices[device_id].capabilities)


def test_muted_is_true_or_false_and_track_is_next_or_previous(home: Inventory) -> None:
    """Accept muted as a boolean and track as next/previous; refuse anything else."""
    assert validate(home, "living_room_tv", {"muted": True, "track": "Next"}).values == {"muted": True, "track": "next"}
    wrong = validate(home, "living_room_tv", {"muted": "yes", "track": "shuffle"})
    assert [p.code for p in wrong.problems] == [ProblemCode.WRONG_TYPE, ProblemCode.NOT_ALLOWED]
    assert not validate(home, "bedroom_speaker", {"muted": 1}).ok
