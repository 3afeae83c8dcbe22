"""The inventory as YAML text, with a comment above every device saying where it came from."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

from sasha.discovery.assemble import Entry


def _dump(data: Any) -> str:
    # Flow style for the leaves keeps one capability per line: `brightness: {min: 1, max: 100}`.
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None, allow_unicode=True, width=120)


def inventory_yaml(
    home: dict[str, Any], rooms: list[dict[str, Any]], devices: Iterable[Entry], header: list[str]
) -> str:
    """Render the whole file."""
    lines = [f"# {line}" if line else "#" for line in header]
    lines.append(_dump({"home": home}).rstrip())
    lines.append("")
    lines.append("rooms:" if rooms else "rooms: []")
    lines += [f"  - {_dump(room).strip()}" if _is_flat(room) else _indent(_dump([room])) for room in rooms]
    lines.append("")
    devices = list(devices)
    lines.append("devices:" if devices else "devices: []")
    for entry in devices:
        lines += [f"  # {comment}" for comment in entry.comments]
        lines.append(_indent(_dump([entry.data])))
    return "\n".join(lines) + "\n"


def _is_flat(room: dict[str, Any]) -> bool:
    return all(isinstance(v, str) for v in room.values())


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" if line else line for line in text.rstrip().splitlines())
