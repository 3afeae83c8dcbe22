"""The capability vocabulary: what a device can do and which values each capability takes."""

from __future__ import annotations

import enum
from dataclasses import dataclass

Value = str | int | float | bool
"""A capability value as it travels on the wire and through the planner."""


class ValueKind(enum.Enum):
    """How a capability's values are typed and checked."""

    FIXED = "fixed"  # one of a fixed set of words, e.g. power on/off
    COMMAND = "command"  # one of a fixed set of words sent once and never reported, e.g. track next
    BOOLEAN = "boolean"  # true/false that commands may set, e.g. muted
    CHOICE = "choice"  # one of the words the inventory lists, e.g. hvac_mode
    INTEGER = "integer"  # integer within min..max
    NUMBER = "number"  # number within min..max, multiple of step
    COLOR = "color"  # "#rrggbb"
    SENSOR_NUMBER = "sensor_number"  # read-only number
    SENSOR_BOOL = "sensor_bool"  # read-only true/false


@dataclass(frozen=True, slots=True)
class CapabilityInfo:
    """What the vocabulary says about one capability."""

    name: str
    kind: ValueKind
    unit: str = ""
    words: tuple[str, ...] = ()
    # Bounds an inventory may narrow but never exceed, and the defaults it gets.
    limit_min: float | None = None
    limit_max: float | None = None
    default_min: float | None = None
    default_max: float | None = None
    default_step: float | None = None
    default_values: tuple[str, ...] = ()

    @property
    def writable(self) -> bool:
        """Tell whether a command may set this capability."""
        return self.kind not in (ValueKind.SENSOR_NUMBER, ValueKind.SENSOR_BOOL)

    @property
    def write_only(self) -> bool:
        """Tell whether the capability is a one-off command that no device reports back."""
        return self.kind is ValueKind.COMMAND

    @property
    def ranged(self) -> bool:
        """Tell whether the capability has a min..max range."""
        return self.kind in (ValueKind.INTEGER, ValueKind.NUMBER)


def _percent(name: str) -> CapabilityInfo:
    return CapabilityInfo(
        name,
        ValueKind.INTEGER,
        unit="%",
        limit_min=0,
        limit_max=100,
        default_min=0,
        default_max=100,
    )


def _sensor(name: str, unit: str) -> CapabilityInfo:
    return CapabilityInfo(name, ValueKind.SENSOR_NUMBER, unit=unit)


def _binary(name: str) -> CapabilityInfo:
    return CapabilityInfo(name, ValueKind.SENSOR_BOOL)


CAPABILITIES: dict[str, CapabilityInfo] = {
    info.name: info
    for info in (
        CapabilityInfo("power", ValueKind.FIXED, words=("on", "off")),
        _percent("brightness"),
        CapabilityInfo(
            "color_temp",
            ValueKind.INTEGER,
            unit="K",
            limit_min=1000,
            limit_max=10000,
            default_min=2200,
            default_max=6500,
        ),
        CapabilityInfo("color", ValueKind.COLOR),
        CapabilityInfo(
            "target_temperature",
            ValueKind.NUMBER,
            unit="°C",
            limit_min=-30,
            limit_max=350,
            default_min=5,
            default_max=30,
            default_step=0.5,
        ),
        CapabilityInfo(
            "hvac_mode",
            ValueKind.CHOICE,
            default_values=("off", "heat", "cool", "auto"),
        ),
        _percent("fan_speed"),
        _percent("position"),
        CapabilityInfo("lock", ValueKind.FIXED, words=("locked", "unlocked")),
        _percent("volume"),
        CapabilityInfo("playback", ValueKind.FIXED, words=("playing", "paused", "stopped")),
        CapabilityInfo("source", ValueKind.CHOICE),
        CapabilityInfo("muted", ValueKind.BOOLEAN),
        CapabilityInfo("track", ValueKind.COMMAND, words=("next", "previous")),
        _sensor("temperature", "°C"),
        _sensor("humidity", "%"),
        _sensor("illuminance", "lx"),
        _sensor("co2", "ppm"),
        _sensor("power_usage", "W"),
        _sensor("energy", "kWh"),
        _sensor("battery", "%"),
        _binary("motion"),
        _binary("contact"),
        _binary("occupancy"),
        _binary("smoke"),
        _binary("leak"),
    )
}

# Common colour names people and models use, normalised to "#rrggbb".
COLOR_NAMES: dict[str, str] = {
    "white": "#ffffff",
    "warm white": "#ffd8a8",
    "cool white": "#e8f0ff",
    "red": "#ff0000",
    "dark red": "#8b0000",
    "green": "#00ff00",
    "dark green": "#006400",
    "blue": "#0000ff",
    "light blue": "#add8e6",
    "navy": "#000080",
    "yellow": "#ffff00",
    "orange": "#ffa500",
    "amber": "#ffbf00",
    "purple": "#800080",
    "violet": "#ee82ee",
    "magenta": "#ff00ff",
    "pink": "#ffc0cb",
    "hot pink": "#ff69b4",
    "cyan": "#00ffff",
    "turquoise": "#40e0d0",
    "teal": "#008080",
    "lime": "#32cd32",
    "gold": "#ffd700",
    "coral": "#ff7f50",
    "salmon": "#fa8072",
    "lavender": "#e6e6fa",
    "indigo": "#4b0082",
    "crimson": "#dc143c",
    "black": "#000000",
}


def same_value(name: str, expected: Value, actual: Value) -> bool:
    """Tell whether a reported value matches a requested one, within the wire's resolution."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        if name == "color_temp" and expected > 0 and actual > 0:
            # Zigbee, HA and Tasmota carry mireds: 2700 K comes back as 2703 K.
            return abs(1_000_000 / expected - 1_000_000 / actual) <= 1.0
        return abs(expected - actual) <= 1e-6
    if isinstance(expected, str) and isinstance(actual, str):
        return expected.lower() == actual.lower()
    return False
