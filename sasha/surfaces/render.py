"""Show plans and model usage to people (rich) and to programs (JSON)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.table import Table

from sasha import jsonlimit
from sasha.home.inventory import Capability, Inventory

if TYPE_CHECKING:  # only types: `sasha check` should not import the openai SDK
    from sasha.planning.llm.client import CallRecord
    from sasha.planning.planner import PlanResult


def plan_table(home: Inventory, result: PlanResult) -> Table:
    """Tabulate a plan: device, room, change, reason."""
    table = Table("device", "room", "change", "reason")
    for action in result.actions:
        device = home.devices.get(action.device)
        room = home.rooms[device.room].name if device is not None else "?"
        name = device.name if device is not None else action.device
        if device is not None and device.sensitive:
            name += " [red](sensitive)[/red]"
        change = ", ".join(f"{k} → {v}" for k, v in action.set.items())
        table.add_row(name, room, change, action.reason)
    return table


def calls_summary(calls: Sequence[CallRecord]) -> str:
    """Summarise model usage, e.g. `2 model calls (plan, repair), 1,840 tokens, 930 ms`."""
    if not calls:
        return "no model call"
    tokens = sum((c.prompt_tokens or 0) + (c.completion_tokens or 0) for c in calls)
    latency = sum(c.latency_ms for c in calls)
    purposes = ", ".join(c.purpose for c in calls)
    plural = "s" if len(calls) != 1 else ""
    return f"{len(calls)} model call{plural} ({purposes}; {calls[-1].mode}), {tokens:,} tokens, {latency:,.0f} ms"


def plan_json(result: PlanResult) -> dict[str, Any]:
    """Return a plan result as plain data."""
    return {
        "status": result.kind,
        "message": result.message,
        "actions": [{"device": a.device, "set": dict(a.set), "reason": a.reason} for a in result.actions],
        "dropped": list(result.dropped),
        "routine": result.routine.model_dump() if result.routine is not None else None,
        "model_calls": [c.to_json() for c in result.calls],
    }


def json_text(value: Any, *, indent: int | None = None) -> str:
    """Return JSON for programs, exactly as `json.dumps` writes it, with a final newline."""
    # Never through rich: a console wraps long lines at its width, even inside a JSON string.
    return json.dumps(value, indent=indent, ensure_ascii=False) + "\n"


def counters_line(payload: bytes) -> str | None:
    """Return the daemon's counters from `<root>/stats` as one JSON line, or None if they are not a JSON object."""
    try:
        counters = jsonlimit.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    # Written again rather than passed through: whatever the broker holds, the line is one object.
    return json_text(counters) if isinstance(counters, dict) else None


def printable(payload: bytes) -> str:
    """Decode a payload for a terminal, with control characters (escapes, line breaks) shown as `?`."""
    return "".join(c if c.isprintable() else "?" for c in payload.decode("utf-8", "replace"))


def describe(capability: Capability) -> str:
    """Describe a capability with its range or choices, e.g. `brightness 1-100%`."""
    unit = capability.info.unit
    if capability.values:
        return f"{capability.name} ({'/'.join(capability.values)})"
    if capability.min is not None and capability.max is not None:
        step = f" step {capability.step:g}" if capability.step else ""
        return f"{capability.name} {capability.min:g}-{capability.max:g}{unit}{step}"
    if capability.info.words:
        return f"{capability.name} ({'/'.join(capability.info.words)})"
    return f"{capability.name}{f' ({unit})' if unit else ''}" + ("" if capability.writable else " ro")
