"""Check capability values against the inventory before anything reaches a device.

This is the gate between untrusted input (the model, MQTT requests, scenario files) and
the devices: `validate` either returns normalised values or says precisely what is wrong.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sasha.errors import SashaError
from sasha.home.capabilities import COLOR_NAMES, Value, ValueKind
from sasha.home.inventory import Capability, Device, Inventory

__all__ = ["Problem", "ProblemCode", "Refused", "Validated", "check_reading", "check_value", "validate"]

_HEX6 = re.compile(r"^#?([0-9a-fA-F]{6})$")
_HEX3 = re.compile(r"^#?([0-9a-fA-F]{3})$")
# Float noise such as 21.499999999 must still count as a multiple of 0.5.
_STEP_TOLERANCE = 1e-6


class ProblemCode(enum.StrEnum):
    """Why a value was refused."""

    UNKNOWN_DEVICE = "unknown_device"
    UNKNOWN_CAPABILITY = "unknown_capability"
    READ_ONLY = "read_only"
    WRONG_TYPE = "wrong_type"
    OUT_OF_RANGE = "out_of_range"
    NOT_A_STEP = "not_a_step"
    NOT_ALLOWED = "not_allowed"
    EMPTY = "empty"


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a requested change cannot be sent."""

    device: str
    capability: str | None
    code: ProblemCode
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class Validated:
    """The outcome of `validate`: normalised values, or the problems."""

    device: str
    values: dict[str, Value] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        """Tell whether every requested value was accepted."""
        return not self.problems


class Refused(SashaError):
    """A value was refused; `code` says why."""

    def __init__(self, code: ProblemCode, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)


def validate(inventory: Inventory, device_id: Any, values: Any) -> Validated:
    """Check a requested change of one device; `values` maps capability to value."""
    name = device_id if isinstance(device_id, str) else repr(device_id)
    device = inventory.get(device_id) if isinstance(device_id, str) else None
    if device is None:
        problem = Problem(name, None, ProblemCode.UNKNOWN_DEVICE, f"there is no device '{name}' in this home")
        return Validated(name, problems=(problem,))
    if not isinstance(values, Mapping) or not values:
        problem = Problem(device.id, None, ProblemCode.EMPTY, f"no capability values given for '{device.id}'")
        return Validated(device.id, problems=(problem,))
    accepted: dict[str, Value] = {}
    problems: list[Problem] = []
    for capability_name, value in values.items():
        try:
            accepted[str(capability_name)] = _check(device, capability_name, value)
        except Refused as refused:
            problems.append(Problem(device.id, str(capability_name), refused.code, refused.message))
    if problems:
        return Validated(device.id, accepted, tuple(problems))
    return Validated(device.id, accepted)


def _check(device: Device, capability_name: Any, value: Any) -> Value:
    capability = device.capabilities.get(capability_name) if isinstance(capability_name, str) else None
    if capability is None:
        have = ", ".join(sorted(device.writable)) or "nothing"
        raise Refused(
            ProblemCode.UNKNOWN_CAPABILITY,
            f"'{device.id}' has no capability '{capability_name}' (it can set: {have})",
        )
    if not capability.writable:
        raise Refused(ProblemCode.READ_ONLY, f"'{device.id}'.{capability.name} is a sensor reading and cannot be set")
    return check_value(capability, value, where=f"'{device.id}'.{capability.name}")


def check_value(capability: Capability, value: Any, *, where: str = "") -> Value:
    """Normalise one value for a writable capability or raise a refusal."""
    where = where or capability.name
    kind = capability.info.kind
    if kind in (ValueKind.FIXED, ValueKind.CHOICE, ValueKind.COMMAND):
        allowed = capability.values if kind is ValueKind.CHOICE else capability.info.words
        return _word(value, allowed, capability, where)
    if kind is ValueKind.COLOR:
        return _color(value, where)
    if kind is ValueKind.BOOLEAN:
        if not isinstance(value, bool):
            raise Refused(ProblemCode.WRONG_TYPE, f"{where} must be true or false, not {value!r}")
        return value
    if kind in (ValueKind.INTEGER, ValueKind.NUMBER):
        return _number(value, capability, where)
    raise Refused(ProblemCode.READ_ONLY, f"{where} is a sensor reading and cannot be set")


def check_reading(capability: Capability, value: Any) -> Value | None:
    """Return a value a device reported if its type fits the capability, else None.

    Readings are not held to the inventory's range: a device that reports 101 % is
    telling us something, while a wrong type is garbage.
    """
    kind = capability.info.kind
    if kind is ValueKind.COMMAND:
        return None  # a one-off command has no state to report
    if kind in (ValueKind.FIXED, ValueKind.CHOICE):
        return value if isinstance(value, str) and value else None
    if kind is ValueKind.COLOR:
        try:
            return _color(value, capability.name)
        except Refused:
            return None
    if kind in (ValueKind.SENSOR_BOOL, ValueKind.BOOLEAN):
        return value if isinstance(value, bool) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    if kind is ValueKind.INTEGER:
        return round(value)
    return value


def _word(value: Any, allowed: tuple[str, ...], capability: Capability, where: str) -> str:
    if capability.name == "power" and isinstance(value, bool):
        # Models often answer power as a boolean; the meaning is unambiguous.
        return "on" if value else "off"
    if not isinstance(value, str):
        raise Refused(ProblemCode.WRONG_TYPE, f"{where} must be one of {', '.join(allowed)}, not {value!r}")
    word = value.strip().lower()
    if word not in allowed:
        raise Refused(ProblemCode.NOT_ALLOWED, f"{where} must be one of {', '.join(allowed)}, not {value!r}")
    return word


def _color(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise Refused(ProblemCode.WRONG_TYPE, f"{where} must be a colour like '#ff8800', not {value!r}")
    text = value.strip()
    named = COLOR_NAMES.get(" ".join(text.lower().split()))
    if named is not None:
        return named
    if match := _HEX6.match(text):
        return "#" + match.group(1).lower()
    if match := _HEX3.match(text):
        return "#" + "".join(c * 2 for c in match.group(1).lower())
    raise Refused(ProblemCode.NOT_ALLOWED, f"{where} must be a colour like '#ff8800' or a colour name, not {value!r}")


def _number(value: Any, capability: Capability, where: str) -> int | float:
    unit = capability.info.unit
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Refused(ProblemCode.WRONG_TYPE, f"{where} must be a number, not {value!r}")
    low = capability.min if capability.min is not None else -math.inf
    high = capability.max if capability.max is not None else math.inf
    if not low <= value <= high:
        raise Refused(
            ProblemCode.OUT_OF_RANGE,
            f"{where} must be between {low:g} and {high:g}{unit}, not {value:g}{unit}",
        )
    if capability.info.kind is ValueKind.INTEGER:
        if value != int(value):
            raise Refused(ProblemCode.WRONG_TYPE, f"{where} must be a whole number, not {value:g}")
        return int(value)
    step = capability.step
    if step:
        ratio = value / step
        if abs(ratio - round(ratio)) > _STEP_TOLERANCE:
            raise Refused(ProblemCode.NOT_A_STEP, f"{where} must be a multiple of {step:g}{unit}, not {value:g}{unit}")
        # Snap float noise away so 21.499999 is sent as 21.5.
        value = round(round(ratio) * step, 6)
    return int(value) if float(value).is_integer() else float(value)
