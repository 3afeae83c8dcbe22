"""What discovery finds: devices described in inventory terms, and announcements it skipped with a reason."""

from __future__ import annotations

import dataclasses
import enum
import re
from dataclasses import dataclass
from typing import Any

# A retained config is a few KB; zigbee2mqtt's device list grows with the network.
MAX_CONFIG = 64 * 1024
MAX_DEVICE_LIST = 8 * 1024 * 1024


class Hazard(enum.StrEnum):
    """What a device can do to the home that must wait for a person's yes; the value is said in the file."""

    UNLOCK = "it can unlock a door"
    OPEN_GARAGE = "it can open a garage door or a gate"
    OPEN_DOOR = "it may open a door"
    WATER = "it can turn on the water"
    DISARM = "it can disarm the alarm"
    HEAT_FOOD = "it heats food"


@dataclass(frozen=True, slots=True)
class Sensitive:
    """Why a found device is written `sensitive: true`: the hazard, and what in the announcement says so."""

    hazard: Hazard
    evidence: str  # "announced as a Home Assistant lock", "its name says 'oven'"

    def comment(self) -> str:
        """Return the comment line written above the device."""
        return f"sensitive: {self.hazard} ({self.evidence})"


@dataclass(slots=True)
class Found:
    """One device as an announcement describes it, in the inventory's vocabulary."""

    name: str
    type: str
    protocol: str
    source: str  # where it came from, for the comment above the device
    capabilities: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    wire: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    topic: str | None = None
    command_topic: str | None = None
    state_topic: str | None = None
    light_schema: str | None = None
    # The inventory's `availability` entries (topic, words, key), when the announcement names them.
    availability: list[dict[str, Any]] | None = None
    area: str | None = None  # the room's name, when the announcement names one
    description: str = ""
    notes: list[str] = dataclasses.field(default_factory=list)  # what was left out, and why
    # Other words the announcement uses for the device, as (whose, text): a model, a description.
    hints: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    sensitive: Sensitive | None = None  # set by a parser when the announced kind says so, else by `safety`
    aliases: list[str] = dataclasses.field(default_factory=list)  # other names the announcement gives it


@dataclass(frozen=True, slots=True)
class Skipped:
    """An announcement (or part of one) discovery did not turn into a device."""

    source: str
    reason: str


@dataclass(slots=True)
class Findings:
    """Everything one listen produced."""

    devices: list[Found] = dataclasses.field(default_factory=list)
    skipped: list[Skipped] = dataclasses.field(default_factory=list)
    # What an announcement says about a room beyond its name (`floor`, `aliases`), by room name.
    areas: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)

    def extend(self, other: Findings) -> None:
        """Add another parser's findings."""
        self.devices += other.devices
        self.skipped += other.skipped
        self.areas |= other.areas


class Skip(Exception):
    """Raised inside a parser to skip an announcement with a reason."""


def slug(text: str) -> str:
    """Return an inventory id made of a-z, 0-9 and _ from any name."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "device"


def human(text: str) -> str:
    """Turn a slug-like name (`living_room_lamp`) into words (`Living room lamp`); leave real names alone."""
    if " " in text or not re.fullmatch(r"[A-Za-z0-9_\-./]+", text):
        return text.strip()
    words = re.sub(r"[_\-./]+", " ", text).strip()
    return words[:1].upper() + words[1:] if words else text


def nice_kelvin(mireds: float) -> int:
    """Return a round kelvin (a multiple of 50) that travels as the same whole mired, else the plain kelvin.

    Devices announce colour temperature in mireds; 154 mireds is 6494 K, which people write 6500 K.
    """
    if mireds <= 0:
        raise Skip(f"colour temperature of {mireds} mireds")
    exact = 1_000_000 / mireds
    rounded = int(round(exact / 50) * 50)
    if rounded > 0 and round(1_000_000 / rounded) == round(mireds):
        return rounded
    return round(exact)


def number(value: Any) -> float | None:
    """Return a JSON number as a float; None for anything else (booleans included)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def whole(value: float) -> int | float:
    """Return an integer when a float has no fraction, for tidy YAML."""
    return int(value) if float(value).is_integer() else value
