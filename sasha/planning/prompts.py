"""Prompt templates and the compact description of the home they carry.

Templates are plain text files a user can edit (`prompts/` in the repository, or the folder
the `prompts_dir` setting names), filled with `string.Template` placeholders such as `$devices`.
Describing the home is a pure function of the inventory and the current state.

Every call starts with the same system message: the rules and the home's catalog, nothing that
changes between requests (no clock, no current value), so that a server's prefix cache reads
it once. What changes (the time, current values, the conversation, the request) follows in
the user message (`request.txt`, or `select.txt` / `rooms.txt` for the selection calls).
"""

from __future__ import annotations

import collections
import re
import string
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sasha.errors import ConfigError
from sasha.home.capabilities import Value
from sasha.home.inventory import Capability, Device, Inventory, Room

NAMES = ("system", "request", "select", "rooms", "repair")
_PLACEHOLDERS = {
    "system": {"home_name", "rooms", "devices"},
    "request": {"now", "devices", "conversation", "request"},
    "select": {"home_name", "limit", "catalog", "request"},
    "rooms": {"home_name", "limit", "request"},
    "repair": {"problems"},
}
# What changes from one request to the next: never in the system message, whose bytes must be
# the same for every request so that the server's prefix cache can skip re-reading them.
_LIVE = frozenset({"now", "conversation", "request", "state"})
# Added after custom folders existed: a folder without it uses the shipped one.
_OPTIONAL = frozenset({"request"})


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
    request: string.Template
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
            if name in _OPTIONAL and not path.exists():
                path = default_dir() / f"{name}.txt"
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as err:
                raise ConfigError(f"{path}: cannot read prompt template: {err.strerror}") from None
            template = string.Template(text)
            unknown = set(template.get_identifiers()) - _PLACEHOLDERS[name]
            if name == "system" and unknown & _LIVE:
                live = ", ".join(f"${p}" for p in sorted(unknown & _LIVE))
                raise ConfigError(
                    f"{path}: {live} changes with every request and cannot be in the system prompt: a custom"
                    " system.txt must keep at the top only what stays the same (the rules, $home_name, $rooms,"
                    " $devices); the time, current values and the request go in request.txt ($now, $devices,"
                    " $conversation, $request)"
                )
            if not template.is_valid() or unknown:
                allowed = ", ".join(f"${p}" for p in sorted(_PLACEHOLDERS[name]))
                raise ConfigError(
                    f"{path}: unknown placeholder {sorted(unknown) or 'syntax'}; use {allowed} (and $$ for $)"
                )
            templates[name] = template
        return cls(
            folder,
            templates["system"],
            templates["request"],
            templates["select"],
            templates["rooms"],
            templates["repair"],
        )


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


def describe_device(device: Device, state: Mapping[str, Value] | None = None) -> str:
    """Describe one device on one line, with its current values when `state` is given."""
    capabilities = ", ".join(
        f"{name}{'' if state is None else '=' + _current(state.get(name))} ({_allowed(cap)})"
        for name, cap in device.capabilities.items()
    )
    name = device.name + (f" (also: {', '.join(device.aliases)})" if device.aliases else "")
    flags = " [sensitive: the user must confirm]" if device.sensitive else ""
    # One line per device: a newline in a description must not forge another device.
    description = " ".join(device.description.split())
    line = f"{device.id} | {name} | {device.room} | {device.type.value}{flags} | {capabilities}"
    return f"{line} | {description}" if description else line


def describe_devices(devices: Iterable[Device], state: Mapping[str, Mapping[str, Value]] | None = None) -> str:
    """Describe devices, one per line (with their current values when `state` is given)."""
    return "\n".join(describe_device(d, None if state is None else state.get(d.id, {})) for d in devices)


def current_values(devices: Iterable[Device], state: Mapping[str, Mapping[str, Value]]) -> str:
    """List the current values of devices, one per line: `id: capability=value, …`."""
    lines = []
    for device in devices:
        here = state.get(device.id, {})
        lines.append(f"{device.id}: {', '.join(f'{c}={_current(here.get(c))}' for c in device.capabilities)}")
    return "\n".join(lines)


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


def whole_catalog(inventory: Inventory, limit: int) -> bool:
    """Say whether the system prompt lists every device in full (the home fits the prompt's limit)."""
    return len(inventory) <= limit


def home_catalog(inventory: Inventory, limit: int) -> str:
    """Describe the home without current values: in full when it fits `limit`, else by room or by kind."""
    if whole_catalog(inventory, limit):
        header = "Devices: id | name | room | type | capability (allowed values) | description"
        return f"{header}\n{describe_devices(inventory.devices.values())}"
    if len(inventory) <= 4 * limit:
        return f"Devices by room, as id:type:\n{catalog(inventory)}"
    # Past four times the limit even the ids would be a long read: rooms and kinds only.
    return f"Rooms and the kinds of devices in them:\n{room_catalog(inventory)}"


def system_prompt(prompts: Prompts, inventory: Inventory, limit: int) -> str:
    """Render the system prompt every call of every request starts with (the same bytes each time)."""
    return prompts.system.substitute(
        home_name=inventory.home.name, rooms=describe_rooms(inventory), devices=home_catalog(inventory, limit)
    )


def conversation_text(turns: Iterable[tuple[str, str]]) -> str:
    """Render earlier turns (what was said, what was answered) for the request message; "" for none."""
    lines = [f"User: {user}\nYou: {answer}" for user, answer in turns]
    return "Earlier in this conversation:\n" + "\n".join(lines) if lines else ""


def request_prompt(
    prompts: Prompts,
    inventory: Inventory,
    devices: Iterable[Device],
    state: Mapping[str, Mapping[str, Value]],
    now: datetime,
    *,
    limit: int,
    turns: Iterable[tuple[str, str]] = (),
    request: str,
    offline: Collection[str] = (),
) -> str:
    """Render the live part of a decision call: the time, the devices that matter now, the conversation, the request."""
    chosen = list(devices)
    if whole_catalog(inventory, limit):
        shown = f"Current values:\n{current_values(chosen, state)}"
    else:
        # The system prompt named these devices only by id: here is all the model needs of them.
        header = "Devices for this request: id | name | room | type | capability=value now (allowed values)"
        shown = f"{header}\n{describe_devices(chosen, state)}"
    gone = [d.id for d in chosen if d.id in offline]
    if gone:
        # Live, like the values: the system message stays the same bytes whoever is offline.
        shown += f"\nOffline now (a command may not arrive; say so if you use them): {', '.join(gone)}"
    return prompts.request.substitute(
        now=now.strftime("%A %d %B %Y, %H:%M"),
        devices=shown,
        conversation=conversation_text(turns),
        request=request,
    )


def select_prompt(
    prompts: Prompts, inventory: Inventory, limit: int, devices: Iterable[Device] | None = None, *, request: str = ""
) -> str:
    """Render the selection message (it follows the system prompt)."""
    return prompts.select.substitute(
        home_name=inventory.home.name, limit=str(limit), catalog=catalog(inventory, devices), request=request
    )


def rooms_prompt(prompts: Prompts, inventory: Inventory, limit: int, *, request: str = "") -> str:
    """Render the room selection message (it follows the system prompt, which lists the rooms)."""
    return prompts.rooms.substitute(home_name=inventory.home.name, limit=str(limit), request=request)


def repair_prompt(prompts: Prompts, problems: Iterable[str]) -> str:
    """Render the repair message listing what was wrong."""
    return prompts.repair.substitute(problems="\n".join(f"- {p}" for p in problems))
