"""From findings to inventory data: ids, rooms, sensitive devices (`safety`), tidy topics, comments per device."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sasha.adapters.homeassistant import field_name
from sasha.discovery import hass, homeassistant, safety, tasmota, zigbee2mqtt
from sasha.discovery.found import Findings, Found, Skipped, slug
from sasha.errors import InventoryError
from sasha.home import inventory
from sasha.home.names import normal

UNASSIGNED = {"id": "unassigned", "name": "Unassigned"}
# The order of a device entry's keys in the file.
ORDER = (
    "id",
    "name",
    "aliases",
    "room",
    "type",
    "protocol",
    "topic",
    "command_topic",
    "state_topic",
    "light_schema",
    "availability",
    "sensitive",
    "description",
    "capabilities",
    "wire",
)


@dataclass(slots=True)
class Entry:
    """One device entry of the file, with the comment lines written above it."""

    data: dict[str, Any]
    comments: list[str]
    found: Found | None = None


def collect(messages: Iterable[tuple[str, bytes]]) -> Findings:
    """Sort announcements by who sent them and parse each kind; never raises on bad input."""
    home_assistant: list[tuple[str, bytes]] = []
    tasmota_messages: list[tuple[str, bytes]] = []
    findings = Findings()
    for topic, payload in messages:
        if topic.startswith(homeassistant.PREFIX + "/"):
            home_assistant.append((topic, payload))
        elif topic.startswith(tasmota.ROOT + "/"):
            tasmota_messages.append((topic, payload))
        elif topic.endswith("/bridge/devices"):
            findings.extend(zigbee2mqtt.bridge_devices(topic, payload))
        elif hass.is_inventory(topic):
            findings.extend(hass.inventory(topic, payload))
        else:
            findings.skipped.append(Skipped(topic, "not a discovery topic"))
    findings.extend(tasmota.announcements(tasmota_messages))
    found_ha = homeassistant.configs(home_assistant)
    # zigbee2mqtt and Tasmota also speak Home Assistant discovery; their own announcements say more.
    owned = _native_topics(findings.devices)
    for device in found_ha.devices:
        owner = next((o for t in _ha_topics(device) for p, o in owned if t == p or t.startswith(p + "/")), None)
        if owner is None:
            findings.devices.append(device)
        else:
            findings.skipped.append(Skipped(device.source, f"already found through {owner}"))
    findings.skipped += found_ha.skipped
    return findings


def _native_topics(devices: list[Found]) -> list[tuple[str, str]]:
    owned = []
    for device in devices:
        if device.protocol == "zigbee2mqtt" and device.topic:
            owned.append((device.topic, f"zigbee2mqtt ({device.topic})"))
        elif device.protocol == "tasmota" and device.topic:
            owned += [(f"{p}/{device.topic}", f"Tasmota discovery ({device.topic})") for p in ("cmnd", "stat", "tele")]
    return owned


def _ha_topics(device: Found) -> list[str]:
    topics = [t for t in (device.command_topic, device.state_topic) if t]
    for wire in device.wire.values():
        topics += [t for k, t in wire.items() if k.endswith("_topic") and isinstance(t, str)]
    return topics


def entries(findings: Findings, *, taken_ids: Iterable[str] = (), taken_names: Iterable[str] = ()) -> list[Entry]:
    """Give every found device an id, a room, a unique name and its comment lines."""
    ids = set(taken_ids)
    names = {n.lower() for n in taken_names}
    result = []
    for found in sorted(findings.devices, key=lambda f: (f.protocol, f.area or "~", f.name.lower())):
        safety.judge(found)
        ident = unique(slug(found.name), ids, "_")
        name = unique(found.name, names, " ", fold=True)
        data: dict[str, Any] = {
            "id": ident,
            "name": name,
            "room": slug(found.area) if found.area else UNASSIGNED["id"],
            "type": found.type,
            "protocol": found.protocol,
        }
        if found.aliases:
            data["aliases"] = list(found.aliases)
        if found.protocol == "homeassistant":
            data |= _ha_topics_tidy(found)
        elif found.topic:
            data["topic"] = found.topic
        if found.light_schema == "default":
            data["light_schema"] = "default"
        if found.availability:
            data["availability"] = found.availability
        if found.sensitive is not None:
            # Written out even where the type implies it: the file says so, and a changed type cannot undo it.
            data["sensitive"] = True
        if found.description:
            data["description"] = found.description
        data["capabilities"] = found.capabilities
        if found.wire:
            data["wire"] = found.wire
        problem = _problem(data)
        if problem is not None:
            # Announcements are untrusted: one that makes an entry `sasha check` refuses is skipped, not written.
            findings.skipped.append(Skipped(found.source, problem))
            ids.discard(ident)
            names.discard(name.lower())
            continue
        comments = [f"from {found.source}"]
        if found.sensitive is not None:
            comments.append(found.sensitive.comment())
        comments += [f"left out: {note}" for note in found.notes]
        result.append(Entry(_ordered(data), comments, found))
    return result


def _problem(data: dict[str, Any]) -> str | None:
    """Return why the inventory would refuse this entry, or None."""
    room = {"id": data["room"], "name": data["room"]}
    try:
        inventory.from_dict({"rooms": [room], "devices": [data]})
    except InventoryError as err:
        return "; ".join(p.message for p in err.problems)
    return None


def rooms_for(entries_: Iterable[Entry], findings: Findings) -> list[dict[str, Any]]:
    """Return the rooms the entries use: named ones from the announcements, then `unassigned`."""
    names = {slug(f.area): f.area for f in findings.devices if f.area}
    rooms: list[dict[str, Any]] = []
    for room_id in dict.fromkeys(e.data["room"] for e in entries_):
        if room_id == UNASSIGNED["id"]:
            continue
        name = names.get(room_id, room_id)
        rooms.append({"id": room_id, "name": name, **findings.areas.get(name, {})})
    rooms.sort(key=lambda r: r["name"].lower())
    _one_room_per_word(rooms)
    if any(e.data["room"] == UNASSIGNED["id"] for e in entries_):
        rooms.append(dict(UNASSIGNED))
    return rooms


def _one_room_per_word(rooms: list[dict[str, Any]]) -> None:
    """Drop the aliases that name another room too: the inventory would refuse the whole file."""
    taken = {normal(label): r["id"] for r in rooms for label in (r["id"], r["name"])}
    for room in rooms:
        kept = []
        for alias in room.get("aliases", []):
            owner = taken.setdefault(normal(alias), room["id"])
            if owner == room["id"] and normal(alias):
                kept.append(alias)
        if kept:
            room["aliases"] = kept
        else:
            room.pop("aliases", None)


def unique(base: str, taken: set[str], joiner: str, *, fold: bool = False) -> str:
    """Return `base`, or `base<joiner>2`, 3, … : the first not in `taken`, which it joins."""
    candidate, count = base, 1
    while (candidate.lower() if fold else candidate) in taken:
        count += 1
        candidate = f"{base}{joiner}{count}"
    taken.add(candidate.lower() if fold else candidate)
    return candidate


def _ha_topics_tidy(found: Found) -> dict[str, Any]:
    """Choose the device's topic and leave out every topic that equals the adapter's default for it."""
    topics = _ha_topics(found)
    topic = found.topic
    if not topic:
        # a/b/set and a/b/state share "a/b/s": the device's topic is the part before the last slash.
        prefix = os.path.commonprefix(topics)  # noqa: RUF071  (cut back to a whole level just below)
        topic = prefix.rsplit("/", 1)[0] if "/" in prefix else (topics[0] if topics else "")
    topic = topic.strip("/") or "homeassistant_device"
    out: dict[str, Any] = {"topic": topic}
    if found.command_topic and found.command_topic != f"{topic}/set":
        out["command_topic"] = found.command_topic
    if found.state_topic and found.state_topic != f"{topic}/state":
        out["state_topic"] = found.state_topic
    wire: dict[str, dict[str, Any]] = {}
    for name, spec in found.wire.items():
        tidy = dict(spec)
        if tidy.get("command_topic") == f"{topic}/{field_name(name)}/set":
            del tidy["command_topic"]
        if tidy.get("state_topic") == f"{topic}/{field_name(name)}":
            del tidy["state_topic"]
        if tidy:
            wire[name] = tidy
    found.wire = wire
    return out


def _ordered(data: dict[str, Any]) -> dict[str, Any]:
    return {key: data[key] for key in ORDER if key in data}
