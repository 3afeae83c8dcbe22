"""JSON schemas for structured output, built from the devices the model may touch.

With the device ids as an enum and each capability's type and range spelled out, servers
that constrain decoding to the schema (Ollama, vLLM, llama.cpp) cannot even produce an
unknown device or a sensor write. The schemas are sent with `strict: false`: OpenAI's strict
mode demands that every property be required, which a partial `set` of capabilities is not.
Everything is still validated after the answer arrives.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sasha.home.capabilities import ValueKind
from sasha.home.inventory import Capability, Device

KINDS = ["plan", "routine", "clarify", "answer", "infeasible"]

# Bounds on what the model writes, in the schema itself: servers that constrain decoding
# (llama.cpp) stop a string at its maxLength, where a small model would otherwise ramble on
# until `max_tokens` cut the JSON off. Parsing does not enforce them (OpenAI may ignore them).
MAX_MESSAGE = 240
MAX_REASON = 80
MAX_ACTIONS = 8
MAX_NAME = 80


def _value_schema(capabilities: list[Capability]) -> dict[str, Any]:
    info = capabilities[0].info
    if info.kind in (ValueKind.FIXED, ValueKind.COMMAND):
        return {"type": "string", "enum": list(info.words)}
    if info.kind is ValueKind.BOOLEAN:
        return {"type": "boolean"}
    if info.kind is ValueKind.CHOICE:
        words = sorted({w for c in capabilities for w in c.values})
        return {"type": "string", "enum": words}
    if info.kind is ValueKind.COLOR:
        return {"type": "string", "description": "#rrggbb"}
    lows = [c.min for c in capabilities if c.min is not None]
    highs = [c.max for c in capabilities if c.max is not None]
    schema: dict[str, Any] = {"type": "integer" if info.kind is ValueKind.INTEGER else "number"}
    if lows:
        schema["minimum"] = min(lows)
    if highs:
        schema["maximum"] = max(highs)
    return schema


def _set_schema(devices: Sequence[Device]) -> dict[str, Any]:
    by_name: dict[str, list[Capability]] = {}
    for device in devices:
        for name, capability in device.writable.items():
            by_name.setdefault(name, []).append(capability)
    return {
        "type": "object",
        "properties": {name: _value_schema(caps) for name, caps in sorted(by_name.items())},
        "additionalProperties": False,
    }


def _action_schema(devices: Sequence[Device]) -> dict[str, Any]:
    writable = [d for d in devices if d.writable]
    return {
        "type": "object",
        "properties": {
            "device": {"type": "string", "enum": [d.id for d in writable]},
            "set": _set_schema(writable),
            "reason": {"type": "string", "maxLength": MAX_REASON},
        },
        "required": ["device", "set", "reason"],
        "additionalProperties": False,
    }


def decision_schema(devices: Sequence[Device]) -> dict[str, Any]:
    """Return the schema of a decision that may touch only `devices`."""
    action = _action_schema(devices)
    ids = [d.id for d in devices]
    state_fields = {
        "device": {"type": "string", "enum": ids},
        "capability": {"type": "string"},
        "above": {"type": ["number", "null"]},
        "below": {"type": ["number", "null"]},
        "equals": {"type": ["string", "number", "boolean", "null"]},
    }
    trigger = {
        "type": "object",
        "properties": {
            "type": {"type": "string", "enum": ["time", "state"]},
            "at": {"type": ["string", "null"], "description": "HH:MM"},
            "days": {"type": ["array", "null"], "items": {"type": "string"}},
            **state_fields,
            "for_seconds": {"type": "number"},
        },
        "required": ["type"],
    }
    condition = {
        "type": "object",
        "properties": {
            "type": {"type": "string", "enum": ["time", "state"]},
            "after": {"type": ["string", "null"]},
            "before": {"type": ["string", "null"]},
            **state_fields,
        },
        "required": ["type"],
    }
    routine = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": MAX_NAME},
            "trigger": trigger,
            "conditions": {"type": "array", "items": condition, "maxItems": 4},
            "actions": {"type": "array", "items": action, "maxItems": MAX_ACTIONS},
        },
        "required": ["name", "trigger", "conditions", "actions"],
    }
    return {
        "type": "object",
        "properties": {
            "kind": {"type": "string", "enum": KINDS},
            "message": {"type": "string", "maxLength": MAX_MESSAGE},
            "actions": {"type": "array", "items": action, "maxItems": MAX_ACTIONS},
            "routine": {"anyOf": [routine, {"type": "null"}]},
        },
        "required": ["kind", "message", "actions", "routine"],
        "additionalProperties": False,
    }


def _ids(ids: Sequence[str], limit: int | None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "array", "items": {"type": "string", "enum": list(ids)}}
    if limit is not None:
        schema["maxItems"] = limit
    return schema


def selection_schema(ids: Sequence[str], limit: int | None = None) -> dict[str, Any]:
    """Return the schema of a selection answer over `ids` (at most `limit` of them)."""
    return {
        "type": "object",
        "properties": {"devices": _ids(ids, limit)},
        "required": ["devices"],
        "additionalProperties": False,
    }


def rooms_schema(ids: Sequence[str], limit: int | None = None) -> dict[str, Any]:
    """Return the schema of a room selection answer over room `ids` (at most `limit` of them)."""
    return {
        "type": "object",
        "properties": {"rooms": _ids(ids, limit)},
        "required": ["rooms"],
        "additionalProperties": False,
    }
