"""`sasha discover`: listen for announcements, write or merge `devices.yaml`, print a summary."""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table

from sasha.config import Settings
from sasha.discovery import hass
from sasha.discovery.build import Outcome, build
from sasha.discovery.listen import listen, retained
from sasha.errors import InventoryError, SashaError, SourceProblem
from sasha.home import inventory
from sasha.home.inventory import Inventory

_LOGGER = logging.getLogger(__name__)

# How long `sasha run --hass` waits at start for the retained inventory (it arrives at once when held).
HASS_WAIT = 5.0


def hass_topic(settings: Settings) -> str:
    """Return where the Sasha integration offers Home Assistant's inventory for this API root."""
    return f"{settings.api_topic}-hass/{hass.SUFFIX}"


async def discover(
    settings: Settings, *, out: Path | None, merge_into: Path | None, wait: float, console: Console
) -> int:
    """Run one discovery; without --out or --merge print the YAML on stdout and write nothing."""
    existing = None
    if merge_into is not None:
        current = inventory.from_file(merge_into)  # a file that does not load is reported, not merged
        text = await asyncio.to_thread(merge_into.read_text, encoding="utf-8")
        existing = (yaml.safe_load(text) or {}, current)
    try:
        messages = await listen(settings.mqtt(), wait, extra=(hass_topic(settings),))
    except TimeoutError:
        raise SashaError(f"no connection to the broker at {settings.mqtt().url}") from None
    outcome = build(messages, existing)
    # The YAML itself must load: a discovery that writes a file `sasha check` refuses is a bug.
    inventory.from_yaml(outcome.text, "<discovered>")
    target = out or merge_into
    report = console if target is not None else Console(stderr=True, width=console.width)
    if target is None:
        print(outcome.text, end="")  # noqa: T201  (the YAML is the command's output)
    else:
        if merge_into is not None and target == merge_into:
            await asyncio.to_thread(shutil.copyfile, merge_into, merge_into.with_name(merge_into.name + ".bak"))
        await asyncio.to_thread(target.write_text, outcome.text, encoding="utf-8")
    _summary(outcome, report, target, len(messages))
    return 0


def _summary(outcome: Outcome, console: Console, target: Path | None, count: int) -> None:
    where = f"written to {target}" if target is not None else "printed above; nothing written"
    table = Table(title=f"{len(outcome.entries)} devices from {count} announcements ({where})")
    for column in ("id", "name", "room", "type", "protocol", "capabilities", "status"):
        table.add_column(column)
    added, updated = set(outcome.added), set(outcome.updated)
    for entry in outcome.entries:
        data = entry.data
        ident = str(data.get("id"))
        status = "new" if ident in added else "updated" if ident in updated else "not seen (kept)"
        caps = data.get("capabilities") or {}
        table.add_row(
            ident,
            str(data.get("name")),
            str(data.get("room")),
            str(data.get("type")),
            str(data.get("protocol", "generic")),
            ", ".join(caps) if isinstance(caps, dict) else "",
            status,
        )
    console.print(table)
    if outcome.skipped:
        skipped = Table(title=f"{len(outcome.skipped)} skipped")
        skipped.add_column("announcement")
        skipped.add_column("reason")
        for item in outcome.skipped:
            skipped.add_row(item.source, item.reason)
        console.print(skipped)
    if outcome.unseen:
        console.print(f"Not announced this time (kept, not deleted): {', '.join(outcome.unseen)}")


async def fetch_hass(settings: Settings) -> bytes | None:
    """Return the Home Assistant inventory the broker holds, or None when there is none within a few seconds."""
    try:
        return await retained(settings.mqtt(), hass_topic(settings), HASS_WAIT)
    except TimeoutError:
        raise SashaError(f"no connection to the broker at {settings.mqtt().url}") from None


def hass_home(settings: Settings, payload: bytes) -> Inventory:
    """Build the inventory `sasha run --hass` serves: Home Assistant's entities, merged into the file or alone."""
    messages = [(hass_topic(settings), payload)]
    if settings.api.hass == "merge":
        current = inventory.from_file(settings.devices)
        data = yaml.safe_load(settings.devices.read_text(encoding="utf-8")) or {}
        outcome = build(messages, (data, current))
    else:
        outcome = build(messages)
    for item in outcome.skipped:
        _LOGGER.info("Home Assistant's %s is left out: %s", item.source, item.reason)
    if settings.api.hass == "only" and not outcome.entries:
        problem = SourceProblem(hass_topic(settings), 0, "Home Assistant's inventory has no entity Sasha can use")
        raise InventoryError([problem])
    return inventory.from_yaml(outcome.text, f"{settings.devices} + Home Assistant")
