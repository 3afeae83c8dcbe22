"""Prompt templates and the compact description of the home they carry.

Templates are plain text files a user can edit (`prompts/` in the repository, or the folder
the `prompts_dir` setting names), filled with `string.Template` placeholders such as `$devices`.
Describing the home is a pure function of the inventory and the current state.
"""

from __future__ import annotations

import collections
import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sasha.errors import ConfigError
from sasha.home.capabilities import Value
from sasha.home.inventory import Capability, Device, Inventory, Room

NAMES = ("system", "select", "rooms", "repair")
_PLACEHOLDERS = {
    "system": {"home_name", "now", "rooms", "devices"},
    "select": {"home_name", "limit", "catalog"},
    "rooms": {"home_name", "limit", "rooms"},
    "repair": {"problems"},
}


def default_dir() -> Path:
    """Return the folder of the shipped templates."""
    package = Path(__file__).resolve().parent.parent
    # Installed: sasha/templates. From a checkout (and editable installs): prompts/ beside sasha/.
    candidates = (package / "templates", package.parent / "prompts")
    for candidate in candidates:
        if (candidate / "system.txt").is_file():
            return candidate
    raise ConfigError(f"the prompt templates are missing (looked in {candidates[0]} and {candidates[1]})")


@dataclass(frozen=True, slots=True)
class Prompts:
    """The loaded templates."""

    folder: Path
    system: string.Template
    select: string.Template
    rooms: string.Template
    repair: string.Template

    @classmethod
    def load(cls, folder: Path | None = None) -> Prompts:
        """Read and check the templates of a folder (the shipped ones by default)."""
        folder = folder or default_dir()
        templates = {}
        for name in NAMES:
            path = folder / f"{name}.txt"
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as err:
                raise ConfigError(f"{path}: cannot read prompt template: {err.strerror}") from None
            template = string.Template(text)
            unknown = set(template.get_identifiers()) - _PLACEHOLDERS[name]
            if not template.is_valid() or unknown:
                allowed = ", ".join(f"${p}" for p in sorted(_PLACEHOLDERS[name]))
                raise ConfigError(
                    f"{path}: unknown placeholder {sorted(unknown) or 'syntax'}; use {allowed} (and $$ for $)"
                )
            templates[name] = template
        return cls(folder, templates["system"], templates["select"], templates["rooms"], templates["repair"])


def _allowed(capability: Capability) -> str:
    unit = capability.info.unit
    if capability.values:
        return "/".join(capability.values)
    if capability.info.words:
        return "/".join(capability.info.words)
    if capability.min is not None and capability.max is not None:
        step = f" step {capability.step:g}" if capability.step else ""
        return f"{capability.min:g}-{capability.max:g}{unit}{step}"
    if capability.name == "color":
        return "#rrggbb"
    return f"reading{' ' + unit if unit else ''}"


def _current(value: Value | None) -> str:
    if value is None:
        return "?"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def describe_device(device: Device, state: Mapping[str, Value]) -> str:
    """Describe one device on one line, with its current values."""
    capabilities = ", ".join(
        f"{name}={_current(state.get(name))} ({_allowed(cap)})" for name, cap in device.capabilities.items()
    )
    name = device.name + (f" (also: {', '.join(device.aliases)})" if device.aliases else "")
    flags = " [sensitive: the user must confirm]" if device.sensitive else ""
    # One line per device: a newline in a description must not forge another device.
    description = " ".join(device.description.split())
    line = f"{device.id} | {name} | {device.room} | {device.type.value}{flags} | {capabilities}"
    return f"{line} | {description}" if description else line


def describe_devices(devices: Iterable[Device], state: Mapping[str, Mapping[str, Value]]) -> str:
    """Describe devices, one per line."""
    return "\n".join(describe_device(d, state.get(d.id, {})) for d in devices)


_PLACE_WORD = re.compile(r"floor|stairs|attic|basement|cellar|loft|level", re.IGNORECASE)


def _room_label(room: Room) -> str:
    # "bedroom_1 (Bedroom 1)" says nothing twice: a name that only restates the id is left out.
    # The floor and other names are what people say ("upstairs", "the den"), so the model sees them.
    said = [] if " ".join(room.id.split("_")).lower() == room.name.lower() else [room.name]
    if room.floor:
        # "upstairs" says where on its own; "1" or "ground" needs the word.
        said.append(room.floor if _PLACE_WORD.search(room.floor) else f"{room.floor} floor")
    if room.aliases:
        said.append("also " + "/".join(room.aliases))
    return f"{room.id} ({', '.join(said)})" if said else room.id


def describe_rooms(inventory: Inventory, devices: Iterable[Device] | None = None) -> str:
    """List the rooms (those of `devices`, when given) as `id (Name, floor F, also A/B)`."""
    used = None if devices is None else {d.room for d in devices}
    return ", ".join(_room_label(r) for r in inventory.rooms.values() if used is None or r.id in used)


def room_catalog(inventory: Inventory) -> str:
    """List each room with the kinds of devices in it, e.g. `kitchen: 2 light, oven`."""
    lines = []
    for room in inventory.rooms.values():
        kinds = collections.Counter(d.type.value for d in inventory.in_room(room.id))
        if kinds:
            counted = (k if n == 1 else f"{n} {k}" for k, n in sorted(kinds.items()))
            lines.append(f"{_room_label(room)}: {', '.join(counted)}")
    return "\n".join(lines)


def catalog(inventory: Inventory, devices: Iterable[Device] | None = None) -> str:
    """List devices by room as `id:type`, the compact form the selection call sees."""
    chosen = list(inventory.devices.values() if devices is None else devices)
    lines = []
    for room in inventory.rooms.values():
        here = [f"{d.id}:{d.type.value}" for d in chosen if d.room == room.id]
        if here:
            lines.append(f"{_room_label(room)}: {', '.join(here)}")
    return "\n".join(lines)


def system_prompt(
    prompts: Prompts,
    inventory: Inventory,
    devices: Iterable[Device],
    state: Mapping[str, Mapping[str, Value]],
    now: datetime,
) -> str:
    """Render the planner's system prompt for these devices."""
    chosen = list(devices)
    return prompts.system.substitute(
        home_name=inventory.home.name,
        now=now.strftime("%A %d %B %Y, %H:%M"),
        # Only the rooms of the devices shown: a large home's room list would grow the prompt too.
        rooms=describe_rooms(inventory, chosen),
        devices=describe_devices(chosen, state),
    )


def select_prompt(prompts: Prompts, inventory: Inventory, limit: int, devices: Iterable[Device] | None = None) -> str:
    """Render the selection prompt."""
    return prompts.select.substitute(
        home_name=inventory.home.name, limit=str(limit), catalog=catalog(inventory, devices)
    )


def rooms_prompt(prompts: Prompts, inventory: Inventory, limit: int) -> str:
    """Render the room selection prompt."""
    return prompts.rooms.substitute(home_name=inventory.home.name, limit=str(limit), rooms=room_catalog(inventory))


def repair_prompt(prompts: Prompts, problems: Iterable[str]) -> str:
    """Render the repair message listing what was wrong."""
    return prompts.repair.substitute(problems="\n".join(f"- {p}" for p in problems))
