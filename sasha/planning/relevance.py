"""Cheap local relevance: which devices a request names, by room, name or alias."""

from __future__ import annotations

import re

from sasha.home.inventory import Device, Inventory

_NON_WORD = re.compile(r"[^a-z0-9]+")


def _words(text: str) -> str:
    """Lower-case, punctuation to spaces, padded so that ' phrase ' matches whole words."""
    return f" {_NON_WORD.sub(' ', text.lower()).strip()} "


def mentioned(inventory: Inventory, text: str) -> list[Device]:
    """Return the devices of rooms the text names, and the devices it names, in inventory order."""
    said = _words(text)
    chosen: set[str] = set()
    for room in inventory.rooms.values():
        if any(_words(label) in said for label in (room.name, room.id.replace("_", " "))):
            chosen.update(d.id for d in inventory.in_room(room.id))
    for device in inventory.devices.values():
        labels = (device.name, device.id.replace("_", " "), *device.aliases)
        if any(_words(label) in said for label in labels):
            chosen.add(device.id)
    return [d for d in inventory.devices.values() if d.id in chosen]
