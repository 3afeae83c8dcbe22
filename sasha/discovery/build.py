"""One discovery from announcements to file text: parse, assemble, merge (optionally), render."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sasha.discovery import assemble, render
from sasha.discovery.assemble import Entry
from sasha.discovery.found import Skipped
from sasha.discovery.merge import merge
from sasha.home.inventory import Inventory

HEADER = [
    "Written by `sasha discover` from what the broker announced.",
    "Fix names and rooms (devices without one are in 'unassigned'), then run `sasha check`.",
]


@dataclass(slots=True)
class Outcome:
    """The file text and what went into it."""

    text: str
    entries: list[Entry]
    skipped: list[Skipped]
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unseen: list[str] = field(default_factory=list)


def build(messages: Iterable[tuple[str, bytes]], existing: tuple[dict[str, Any], Inventory] | None = None) -> Outcome:
    """Turn announcements into inventory YAML, merged into the user's file data when given."""
    findings = assemble.collect(messages)
    entries = assemble.entries(findings)
    rooms = assemble.rooms_for(entries, findings)
    if existing is None:
        text = render.inventory_yaml({"name": "Home"}, rooms, entries, HEADER)
        return Outcome(text, entries, findings.skipped, added=[e.data["id"] for e in entries])
    data, current = existing
    merged = merge(data, current, entries, rooms)
    text = render.inventory_yaml(merged.home or {"name": "Home"}, merged.rooms, merged.entries, HEADER)
    return Outcome(text, merged.entries, findings.skipped, merged.added, merged.updated, merged.unseen)
