"""The home: rooms and devices from `devices.yaml`, checked and indexed.

Loading goes in layers, like hassil: `from_file` reads text, `from_yaml` parses it while
keeping line numbers, `from_dict` checks the data. Every problem found is reported at once
as `file:line: problem`, never as a traceback.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from sasha.errors import InventoryError, SourceProblem
from sasha.home import yamlsource
from sasha.home.capabilities import CAPABILITIES, CapabilityInfo, ValueKind

# One name form for the whole program: lookups here match what the grammar and relevance read.
from sasha.home.names import normal as _normal
from sasha.home.protocols import HASS_DOMAINS, SUPPORTED, Protocol

__all__ = [
    "Availability",
    "Capability",
    "Device",
    "DeviceType",
    "Home",
    "Inventory",
    "Protocol",
    "Room",
    "Wire",
    "from_dict",
    "from_file",
    "from_yaml",
]


class DeviceType(enum.StrEnum):
    """What kind of thing a device is."""

    LIGHT = "light"
    SWITCH = "switch"
    PLUG = "plug"
    FAN = "fan"
    THERMOSTAT = "thermostat"
    HEATER = "heater"
    COVER = "cover"
    GARAGE_DOOR = "garage_door"
    LOCK = "lock"
    ALARM = "alarm"
    OVEN = "oven"
    WATER_VALVE = "water_valve"
    MEDIA_PLAYER = "media_player"
    SENSOR = "sensor"


SENSITIVE_TYPES = frozenset(
    {
        DeviceType.LOCK,
        DeviceType.GARAGE_DOOR,
        DeviceType.ALARM,
        DeviceType.OVEN,
        DeviceType.WATER_VALVE,
    }
)

_ID = re.compile(r"^[a-z0-9_]+$")


@dataclass(frozen=True, slots=True)
class Capability:
    """One capability of one device, with the inventory's range and choices."""

    name: str
    info: CapabilityInfo
    min: float | None = None
    max: float | None = None
    step: float | None = None
    values: tuple[str, ...] = ()

    @property
    def writable(self) -> bool:
        """Tell whether commands may set this capability."""
        return self.info.writable


@dataclass(frozen=True, slots=True)
class Wire:
    """How one capability travels when it differs from its protocol's default (homeassistant, zigbee2mqtt)."""

    command_topic: str | None = None
    state_topic: str | None = None
    key: str | None = None  # the JSON key its value sits under on the state topic
    payload_on: str | None = None  # the command word for on / locked / open
    payload_off: str | None = None
    state_on: str | None = None  # the state word for on / locked / open / true
    state_off: str | None = None
    scale: float | None = None  # the device's number for 100 %


@dataclass(frozen=True, slots=True)
class Availability:
    """A topic a device (or its bridge) says on whether it is reachable, and the words it uses."""

    topic: str
    payload_available: str = "online"
    payload_not_available: str = "offline"
    key: str | None = None  # the JSON key the word sits under (HA's `{{ value_json.<key> }}`)


@dataclass(frozen=True, slots=True)
class Room:
    """A room of the home, with the floor it is on and other names people use for it."""

    id: str
    name: str
    floor: str | None = None
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Device:
    """A device of the home, with defaults resolved."""

    id: str
    name: str
    room: str
    type: DeviceType
    protocol: Protocol
    topic: str
    capabilities: Mapping[str, Capability]
    aliases: tuple[str, ...] = ()
    description: str = ""
    sensitive: bool = False
    command_topic: str | None = None
    state_topic: str | None = None
    wire: Mapping[str, Wire] = dataclasses.field(default_factory=dict)
    light_schema: str = "json"
    # None: the protocol's own availability topic (docs/design.md, section 4); () means none.
    availability: tuple[Availability, ...] | None = None

    @property
    def writable(self) -> dict[str, Capability]:
        """Return the capabilities commands may set."""
        return {n: c for n, c in self.capabilities.items() if c.writable}


@dataclass(frozen=True, slots=True)
class Home:
    """Home-wide settings."""

    name: str = "Home"
    timezone: str | None = None
    base_topic: str = "sasha-home"


class Inventory:
    """The checked home with lookups by id, name, alias and room."""

    def __init__(self, home: Home, rooms: Iterable[Room], devices: Iterable[Device]) -> None:
        self.home = home
        self.rooms: dict[str, Room] = {r.id: r for r in rooms}
        self.devices: dict[str, Device] = {d.id: d for d in devices}
        self._by_name: dict[str, list[Device]] = {}
        for device in self.devices.values():
            for label in {_normal(device.name), _normal(device.id), *map(_normal, device.aliases)}:
                self._by_name.setdefault(label, []).append(device)
        self._rooms_by_name = {_normal(r.id): r for r in self.rooms.values()}
        self._rooms_by_name.update({_normal(a): r for r in self.rooms.values() for a in r.aliases})
        self._rooms_by_name.update({_normal(r.name): r for r in self.rooms.values()})
        # Devices by room, in inventory order: per-room questions must not scan the whole home.
        self._by_room: dict[str, list[Device]] = {}
        for device in self.devices.values():
            self._by_room.setdefault(device.room, []).append(device)
        self.floors: dict[str, list[Room]] = {}
        for room in self.rooms.values():
            if room.floor is not None:
                self.floors.setdefault(_normal(room.floor), []).append(room)

    def __len__(self) -> int:
        return len(self.devices)

    def get(self, device_id: str) -> Device | None:
        """Return the device with this id, or None."""
        return self.devices.get(device_id)

    def find(self, label: str) -> list[Device]:
        """Return the devices whose id, name or alias is `label` (case and spaces ignored)."""
        return list(self._by_name.get(_normal(label), ()))

    def room(self, label: str) -> Room | None:
        """Return the room with this id, name or alias, or None."""
        return self._rooms_by_name.get(_normal(label))

    def room_labels(self) -> dict[str, Room]:
        """Return every id, name and alias of a room (normalised) with its room."""
        return dict(self._rooms_by_name)

    def on_floor(self, floor: str) -> list[Device]:
        """Return the devices of every room on a floor (its name, case and spaces ignored)."""
        rooms = {r.id for r in self.floors.get(_normal(floor), ())}
        return [d for d in self.devices.values() if d.room in rooms]

    def in_room(self, room_id: str) -> list[Device]:
        """Return the devices of a room."""
        return list(self._by_room.get(room_id, ()))

    def with_capability(self, capability: str) -> list[Device]:
        """Return the devices that have a capability."""
        return [d for d in self.devices.values() if capability in d.capabilities]


# --- the file's shape (pydantic at the boundary) -------------------------------------


class _Model(BaseModel):
    # strict: YAML already has types; "30" where a number belongs is a mistake to report.
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class _RawCapability(_Model):
    min: float | None = None
    max: float | None = None
    step: float | None = None
    values: list[str] | None = None


class _RawWire(_Model):
    command_topic: str | None = None
    state_topic: str | None = None
    key: str | None = None
    payload_on: str | None = None
    payload_off: str | None = None
    state_on: str | None = None
    state_off: str | None = None
    scale: float | None = None


class _RawAvailability(_Model):
    topic: str
    payload_available: str = "online"
    payload_not_available: str = "offline"
    key: str | None = None


class _RawDevice(_Model):
    id: str
    name: str
    room: str
    type: str
    protocol: str = "generic"
    aliases: list[str] = Field(default_factory=list)
    topic: str | None = None
    command_topic: str | None = None
    state_topic: str | None = None
    description: str = ""
    sensitive: bool | None = None
    capabilities: dict[str, _RawCapability | None]
    wire: dict[str, _RawWire] = Field(default_factory=dict)
    light_schema: str | None = None
    availability: list[_RawAvailability] | None = None


class _RawRoom(_Model):
    id: str
    name: str
    floor: str | None = None
    aliases: list[str] = Field(default_factory=list)


class _RawHome(_Model):
    name: str = "Home"
    timezone: str | None = None
    base_topic: str = "sasha-home"


class _RawInventory(_Model):
    home: _RawHome = Field(default_factory=_RawHome)
    rooms: list[_RawRoom]
    devices: list[_RawDevice]


# --- loading --------------------------------------------------------------------------


def from_file(path: str | Path) -> Inventory:
    """Load and check an inventory file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise InventoryError([SourceProblem(str(path), 0, f"cannot read file: {reason}")]) from None
    return from_yaml(text, str(path))


def from_yaml(text: str, file: str = "devices.yaml") -> Inventory:
    """Parse and check inventory YAML text."""
    try:
        data, lines = yamlsource.load(text, file)
    except yamlsource.YamlSourceError as err:
        raise InventoryError([err.problem]) from None
    return from_dict(data, lines)


def from_dict(data: Any, lines: yamlsource.LineMap | None = None) -> Inventory:
    """Check inventory data and build the inventory."""
    lines = lines or yamlsource.LineMap("<inventory>")
    if not isinstance(data, dict):
        raise InventoryError([lines.problem((), "the file must be a mapping with 'rooms' and 'devices'")])
    try:
        raw = _RawInventory.model_validate(data)
    except pydantic.ValidationError as err:
        raise InventoryError(_shape_problems(err, data, lines)) from None
    problems: list[SourceProblem] = []
    inventory = _build(raw, lines, problems)
    if problems:
        raise InventoryError(sorted(problems, key=lambda p: p.line))
    return inventory


def _shape_problems(
    err: pydantic.ValidationError, data: dict[str, Any], lines: yamlsource.LineMap
) -> list[SourceProblem]:
    problems = []
    for error in err.errors(include_url=False):
        loc = _trim_union_loc(error["loc"])
        where = _describe(loc, data)
        field = str(loc[-1]) if loc else ""
        kind = error["type"]
        if kind == "missing":
            message = f"missing required field '{field}'"
        elif kind == "extra_forbidden":
            message = f"unknown field '{field}'"
        else:
            message = f"{_dotted(loc)}: {error['msg'].lower()}"
        problems.append(lines.problem(loc, f"{where}{message}"))
    # Several union branches can fail on the same spot; one report per line and text is enough.
    unique = {(p.line, p.message): p for p in problems}
    return sorted(unique.values(), key=lambda p: p.line)


def _trim_union_loc(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    # pydantic names the union branch it tried ('_RawCapability'); it is not a place in the file.
    return tuple(part for part in loc if not (isinstance(part, str) and part.startswith("_Raw")))


def _describe(loc: tuple[str | int, ...], data: dict[str, Any]) -> str:
    if len(loc) >= 2 and loc[0] in ("devices", "rooms") and isinstance(loc[1], int):
        items = data.get(str(loc[0]))
        item = items[loc[1]] if isinstance(items, list) and loc[1] < len(items) else None
        ident = item.get("id") if isinstance(item, dict) else None
        noun = "device" if loc[0] == "devices" else "room"
        return f"{noun} '{ident}': " if isinstance(ident, str) else f"{noun} #{loc[1] + 1}: "
    return ""


def _dotted(loc: tuple[str | int, ...]) -> str:
    # Skip 'devices', 3: the prefix already names the device.
    tail = loc[2:] if len(loc) >= 2 and loc[0] in ("devices", "rooms") else loc
    return ".".join(str(p) for p in tail) or "value"


def _build(raw: _RawInventory, lines: yamlsource.LineMap, problems: list[SourceProblem]) -> Inventory:
    def report(path: tuple[str | int, ...], message: str) -> None:
        problems.append(lines.problem(path, message))

    home = raw.home
    if home.timezone is not None:
        try:
            zoneinfo.ZoneInfo(home.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            report(("home", "timezone"), f"unknown timezone '{home.timezone}' (use an IANA name like Europe/Berlin)")
    _check_topic(home.base_topic, ("home", "base_topic"), "base_topic", report)

    rooms: list[Room] = []
    room_ids: set[str] = set()
    room_labels: dict[str, str] = {}
    for i, raw_room in enumerate(raw.rooms):
        if not _ID.match(raw_room.id):
            report(("rooms", i, "id"), f"room id '{raw_room.id}' must use only a-z, 0-9 and _")
        if raw_room.id in room_ids:
            report(("rooms", i, "id"), f"duplicate room id '{raw_room.id}'")
            continue
        room_ids.add(raw_room.id)
        if raw_room.floor is not None and not _normal(raw_room.floor):
            report(("rooms", i, "floor"), f"room '{raw_room.id}': floor must not be empty")
        for j, alias in enumerate(raw_room.aliases):
            # One word must name one room: "downstairs bathroom" for two rooms would be a guess.
            other = room_labels.get(_normal(alias))
            if not _normal(alias):
                report(("rooms", i, "aliases", j), f"room '{raw_room.id}': an alias must not be empty")
            elif other is not None and other != raw_room.id:
                report(
                    ("rooms", i, "aliases", j), f"room '{raw_room.id}': alias '{alias}' already names room '{other}'"
                )
        for label in (raw_room.id, raw_room.name, *raw_room.aliases):
            room_labels.setdefault(_normal(label), raw_room.id)
        rooms.append(Room(raw_room.id, raw_room.name, raw_room.floor, tuple(raw_room.aliases)))

    devices: list[Device] = []
    ids: set[str] = set()
    names: dict[str, str] = {}
    for i, raw_device in enumerate(raw.devices):
        device = _build_device(raw_device, ("devices", i), home, room_ids, report)
        if device is None:
            continue
        if device.id in ids:
            report(("devices", i, "id"), f"duplicate device id '{device.id}'")
            continue
        other = names.get(_normal(device.name))
        if other is not None:
            report(
                ("devices", i, "name"),
                f"device '{device.id}': name '{device.name}' is already used by device '{other}'",
            )
        names[_normal(device.name)] = device.id
        ids.add(device.id)
        devices.append(device)
    return Inventory(Home(home.name, home.timezone, home.base_topic), rooms, devices)


def _build_device(
    raw: _RawDevice, at: tuple[str | int, ...], home: _RawHome, room_ids: set[str], report: Any
) -> Device | None:
    who = f"device '{raw.id}'"
    ok = True

    def bad(field: tuple[str | int, ...], message: str) -> None:
        nonlocal ok
        ok = False
        report((*at, *field), f"{who}: {message}")

    if not _ID.match(raw.id):
        bad(("id",), "id must use only a-z, 0-9 and _")
    if raw.room not in room_ids:
        bad(("room",), f"unknown room '{raw.room}' (rooms: {', '.join(sorted(room_ids)) or 'none'})")
    try:
        device_type = DeviceType(raw.type)
    except ValueError:
        bad(("type",), f"unknown type '{raw.type}' (one of {', '.join(t.value for t in DeviceType)})")
        device_type = DeviceType.SWITCH
    try:
        protocol = Protocol(raw.protocol)
    except ValueError:
        bad(("protocol",), f"unknown protocol '{raw.protocol}' (one of {', '.join(p.value for p in Protocol)})")
        protocol = Protocol.GENERIC
    for key in ("topic", "command_topic", "state_topic"):
        value = getattr(raw, key)
        if value is not None and not _check_topic(value, (*at, key), key, lambda p, m: bad(p[len(at) :], m)):
            ok = False
    if raw.protocol != Protocol.HOMEASSISTANT and (raw.command_topic or raw.state_topic):
        bad(("command_topic",), "command_topic and state_topic apply only to protocol homeassistant")
    if protocol is Protocol.HASS and not _hass_topic(raw.topic):
        # The entity id is the last level; without it the integration could not tell what to call.
        bad(("topic",), f"protocol hass needs a topic ending in a Home Assistant entity id, got '{raw.topic}'")
    if not raw.capabilities:
        bad(("capabilities",), "has no capabilities")
    _check_wire(raw, protocol, device_type, bad)
    for j, announced in enumerate(raw.availability or ()):
        _check_topic(announced.topic, ("availability", j, "topic"), "availability topic", bad)
        if announced.payload_available == announced.payload_not_available:
            bad(("availability", j), "availability: payload_available and payload_not_available are the same")

    capabilities: dict[str, Capability] = {}
    for name, spec in raw.capabilities.items():
        cap = _build_capability(
            name, spec or _RawCapability(), lambda p, m, name=name: bad(("capabilities", name, *p), m)
        )
        if cap is None:
            ok = False
            continue
        if name not in SUPPORTED[protocol]:
            bad(("capabilities", name), f"protocol {protocol.value} cannot carry capability '{name}'")
        if device_type is DeviceType.SENSOR and cap.writable:
            bad(("capabilities", name), f"a sensor cannot have the writable capability '{name}'")
        capabilities[name] = cap
    if not ok:
        return None
    return Device(
        id=raw.id,
        name=raw.name,
        room=raw.room,
        type=device_type,
        protocol=protocol,
        topic=raw.topic or _default_topic(protocol, raw.id, home.base_topic),
        capabilities=capabilities,
        aliases=tuple(raw.aliases),
        description=raw.description,
        sensitive=raw.sensitive if raw.sensitive is not None else device_type in SENSITIVE_TYPES,
        command_topic=raw.command_topic,
        state_topic=raw.state_topic,
        wire={name: Wire(**spec.model_dump()) for name, spec in raw.wire.items()},
        light_schema=raw.light_schema or "json",
        availability=None
        if raw.availability is None
        else tuple(Availability(**spec.model_dump()) for spec in raw.availability),
    )


# zigbee2mqtt names each value in its JSON; Home Assistant may also give every value its own topics.
_WIRE_FIELDS = {
    Protocol.ZIGBEE2MQTT: frozenset({"key"}),
    Protocol.HOMEASSISTANT: frozenset(_RawWire.model_fields),
}


def _check_wire(raw: _RawDevice, protocol: Protocol, device_type: DeviceType, bad: Any) -> None:
    if raw.light_schema is not None:
        if protocol is not Protocol.HOMEASSISTANT or device_type is not DeviceType.LIGHT:
            bad(("light_schema",), "light_schema applies only to homeassistant lights")
        elif raw.light_schema not in ("json", "default"):
            bad(("light_schema",), f"light_schema '{raw.light_schema}' is not json or default")
    allowed = _WIRE_FIELDS.get(protocol, frozenset())
    for name, spec in raw.wire.items():
        if name not in raw.capabilities:
            bad(("wire", name), f"wire names '{name}', which is not one of its capabilities")
        used = {key for key, value in spec.model_dump().items() if value is not None}
        for key in sorted(used - allowed):
            bad(("wire", name, key), f"wire.{name}.{key} does not apply to protocol {protocol.value}")
        for key in ("command_topic", "state_topic"):
            value = getattr(spec, key)
            if value is not None:
                _check_topic(value, ("wire", name, key), f"wire.{name}.{key}", bad)
        if spec.scale is not None and spec.scale <= 0:
            bad(("wire", name, "scale"), f"wire.{name}.scale must be above 0")


_ENTITY_ID = re.compile(r"^([a-z_]+)\.[a-z0-9_]+$")


def _hass_topic(topic: str | None) -> bool:
    """Tell whether a topic ends in `<domain>.<object id>` of a domain the hass protocol reaches."""
    if not topic or "/" not in topic:
        return False
    found = _ENTITY_ID.match(topic.rsplit("/", 1)[1])
    return found is not None and found.group(1) in HASS_DOMAINS


def _default_topic(protocol: Protocol, device_id: str, base_topic: str) -> str:
    if protocol is Protocol.ZIGBEE2MQTT:
        return f"zigbee2mqtt/{device_id}"
    if protocol is Protocol.TASMOTA:
        return device_id
    return f"{base_topic}/{device_id}"


def _check_topic(topic: str, path: tuple[str | int, ...], key: str, report: Any) -> bool:
    if not topic or "+" in topic or "#" in topic or "\x00" in topic or topic.startswith("/") or topic.endswith("/"):
        report(path, f"{key} '{topic}' is not a valid MQTT topic (no wildcards, no leading or trailing /)")
        return False
    return True


def _fmt(number: float) -> str:
    return f"{number:g}"


def _build_capability(name: str, spec: _RawCapability, bad: Any) -> Capability | None:
    info = CAPABILITIES.get(name)
    if info is None:
        bad((), f"unknown capability '{name}'")
        return None
    failed = False

    def fail(field: str, message: str) -> None:
        nonlocal failed
        failed = True
        bad((field,) if field else (), message)

    if not info.ranged:
        for field in ("min", "max", "step"):
            if getattr(spec, field) is not None:
                fail(field, f"{name} takes no {field}")
    if info.kind is not ValueKind.CHOICE and spec.values is not None:
        fail("values", f"{name} takes no values")
    if failed:
        return None
    if info.kind is ValueKind.CHOICE:
        values = tuple(spec.values) if spec.values is not None else info.default_values
        if not values:
            fail("values", f"{name} needs a list of values")
        elif len(set(values)) != len(values):
            fail("values", f"{name}.values has duplicates")
        return None if failed else Capability(name, info, values=values)
    if not info.ranged:
        return Capability(name, info)

    low = spec.min if spec.min is not None else (info.default_min or 0.0)
    high = spec.max if spec.max is not None else (info.default_max or 0.0)
    step = spec.step if spec.step is not None else info.default_step
    if info.limit_min is not None and low < info.limit_min:
        fail("min", f"{name}.min {_fmt(low)} is below {_fmt(info.limit_min)}")
    if info.limit_max is not None and high > info.limit_max:
        fail("max", f"{name}.max {_fmt(high)} is above {_fmt(info.limit_max)}")
    if low > high:
        fail("min", f"{name}.min {_fmt(low)} is above {name}.max {_fmt(high)}")
    if info.kind is ValueKind.INTEGER:
        for field, number in (("min", low), ("max", high)):
            if number != int(number):
                fail(field, f"{name}.{field} must be a whole number")
        if spec.step is not None:
            fail("step", f"{name} takes no step")
    elif step is not None and step <= 0:
        fail("step", f"{name}.step must be above 0")
    if failed:
        return None
    return Capability(name, info, min=low, max=high, step=step if info.kind is ValueKind.NUMBER else None)
