"""Merge what was discovered into an inventory the user already keeps.

A discovered device is the same as a kept one when both speak the same protocol and share a
topic (commands or state). The user's id, name, aliases, room, description, `sensitive`
choice and type stay (the type decides what is sensitive by default: an oven announced as a
climate entity stays an oven); capabilities and topics come from the announcement. Kept
devices that were not seen stay in the file, listed; nothing is ever deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sasha.adapters import adapter_for
from sasha.discovery.assemble import ORDER, UNASSIGNED, Entry, unique
from sasha.discovery.found import Sensitive
from sasha.discovery.safety import TYPE_HAZARDS
from sasha.home import inventory
from sasha.home.inventory import Device, Inventory

KEPT = ("id", "name", "aliases", "room", "description", "sensitive")


@dataclass(slots=True)
class Merged:
    """The merged entries and rooms, and what happened to each device."""

    home: dict[str, Any]
    rooms: list[dict[str, Any]]
    entries: list[Entry]
    updated: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    unseen: list[str] = field(default_factory=list)


def topics(device: Device) -> set[str]:
    """Return every topic a device is commanded or reports on."""
    adapter = adapter_for(device)
    return set(adapter.command_topics(device)) | set(adapter.state_topics(device))


def _device_of(entry: Entry, rooms: list[dict[str, Any]]) -> Device | None:
    """Build the Device an entry describes, to ask its adapter for its topics."""
    try:
        home = inventory.from_dict({"rooms": rooms, "devices": [entry.data]})
    except Exception:  # noqa: BLE001  (an entry that does not load simply matches nothing)
        return None
    return next(iter(home.devices.values()), None)


def _pair(
    current: Inventory, found: list[Entry], found_rooms: list[dict[str, Any]]
) -> tuple[dict[str, Entry], list[Entry]]:
    """Pair discovered entries with the user's devices by protocol and a shared topic."""
    mine = {d.id: topics(d) for d in current.devices.values()}
    protocol = {d.id: d.protocol.value for d in current.devices.values()}
    matched: dict[str, Entry] = {}
    added: list[Entry] = []
    for entry in found:
        device = _device_of(entry, found_rooms)
        seen = topics(device) if device is not None else set()
        owner = next(
            (i for i, t in mine.items() if i not in matched and protocol[i] == entry.data["protocol"] and t & seen),
            None,
        )
        if owner is None:
            added.append(entry)
        else:
            matched[owner] = entry
    return matched, added


def _sensitive(raw: dict[str, Any], data: dict[str, Any], found: Sensitive | None) -> list[str]:
    """Settle `sensitive` of a matched device in `data`; return the comment lines that say why."""
    if "sensitive" in raw:
        # The user's explicit choice stays (a drip irrigation valve may run freely), but not silently.
        if raw["sensitive"] is False and found is not None:
            return [f"sensitive: false kept from your file, though {found.hazard} ({found.evidence})"]
        return [found.comment()] if found is not None and raw["sensitive"] else []
    kind = str(data["type"])
    if found is None and kind in TYPE_HAZARDS:
        found = Sensitive(TYPE_HAZARDS[kind], f"your file's type is {kind}")
    if found is None:
        return []
    data["sensitive"] = True  # written out, as for a new device
    return [found.comment()]


def merge(
    existing: dict[str, Any], current: Inventory, found: list[Entry], found_rooms: list[dict[str, Any]]
) -> Merged:
    """Merge discovered entries into the user's file data (`existing`, already checked as `current`)."""
    raw_devices = [d for d in existing.get("devices") or [] if isinstance(d, dict)]
    raw_rooms = [r for r in existing.get("rooms") or [] if isinstance(r, dict)]
    home_data = existing.get("home")
    home: dict[str, Any] = home_data if isinstance(home_data, dict) else {}
    matched, added = _pair(current, found, found_rooms)
    result = Merged(dict(home), [dict(r) for r in raw_rooms], [])
    room_ids = {r.get("id") for r in raw_rooms}
    for raw in raw_devices:
        ident = raw.get("id")
        match = matched.get(str(ident))
        if match is None:
            if raw.get("protocol", "generic") == "generic":
                result.entries.append(
                    Entry(dict(raw), ["kept from your file: generic devices do not announce themselves"])
                )
            else:
                result.entries.append(Entry(dict(raw), ["kept from your file: not announced this time"]))
                result.unseen.append(str(ident))
            continue
        entry = match
        data = dict(entry.data)
        for key in KEPT:
            if key in raw:
                data[key] = raw[key]
            elif key in ("aliases", "description", "sensitive"):
                data.pop(key, None)
        # The user's type, unless it is a sensor and the device turned out to take commands.
        if raw.get("type") not in (None, "sensor") or data["type"] == "sensor":
            data["type"] = raw.get("type", data["type"])
        found_why = entry.found.sensitive if entry.found is not None else None
        why = _sensitive(raw, data, found_why)
        data = {k: data[k] for k in ORDER if k in data}
        rest = [c for c in entry.comments if found_why is None or c != found_why.comment()]
        comments = ["kept your id, name, aliases, room, type, description and sensitive", *rest[:1], *why, *rest[1:]]
        result.entries.append(Entry(data, comments, entry.found))
        result.updated.append(str(ident))
    taken_ids = {str(d.get("id")) for d in raw_devices}
    taken_names = {str(d.get("name")).lower() for d in raw_devices}
    for entry in added:
        data = dict(entry.data)
        data["id"] = unique(data["id"], taken_ids, "_")
        data["name"] = unique(data["name"], taken_names, " ", fold=True)
        result.entries.append(Entry(data, ["new", *entry.comments], entry.found))
        result.added.append(data["id"])
        room = data["room"]
        if room not in room_ids:
            names = {r["id"]: r for r in found_rooms}
            result.rooms.append(dict(names.get(room, UNASSIGNED)))
            room_ids.add(room)
    return result
