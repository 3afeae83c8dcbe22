"""Unit conversions and payload helpers shared by the protocol adapters."""

from __future__ import annotations

import json
from typing import Any

from sasha import jsonlimit
from sasha.errors import DecodeError

# No device state or command is anywhere near this; a bigger payload is junk or an attack.
MAX_PAYLOAD = 64 * 1024


def percent_to_scale(percent: float, top: int) -> int:
    """Convert 0-100 % to a device's 0-`top` scale (zigbee 254, Home Assistant 255)."""
    return max(0, min(top, round(percent * top / 100)))


def scale_to_percent(value: float, top: int) -> int:
    """Convert a device's 0-`top` scale back to 0-100 %."""
    return max(0, min(100, round(value * 100 / top)))


def kelvin_to_mireds(kelvin: float) -> int:
    """Convert a colour temperature in kelvin to mireds (what zigbee and HA send)."""
    return round(1_000_000 / kelvin)


def mireds_to_kelvin(mireds: float) -> int:
    """Convert mireds back to kelvin; resolution is one mired, so 2700 K comes back as 2703 K."""
    return round(1_000_000 / mireds)


def hex_to_rgb(color: str) -> tuple[int, int, int]:
    """Split "#rrggbb" into its channels."""
    text = color.lstrip("#")
    return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)


def rgb_to_hex(red: Any, green: Any, blue: Any) -> str:
    """Join channels into "#rrggbb", refusing anything that is not 0-255 integers."""
    channels = (red, green, blue)
    if not all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in channels):
        raise DecodeError(f"colour channels must be integers 0-255, got {channels!r}")
    return "#{:02x}{:02x}{:02x}".format(*channels)


def text(payload: bytes) -> str:
    """Decode a small UTF-8 payload."""
    if len(payload) > MAX_PAYLOAD:
        raise DecodeError(f"payload of {len(payload)} bytes is over the {MAX_PAYLOAD} byte limit")
    try:
        return payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise DecodeError("payload is not UTF-8") from None


def json_object(payload: bytes) -> dict[str, Any]:
    """Decode a payload that must be one JSON object."""
    try:
        data = jsonlimit.loads(text(payload))
    except json.JSONDecodeError as err:
        raise DecodeError(f"payload is not JSON: {err.msg} at position {err.pos}") from None
    if not isinstance(data, dict):
        raise DecodeError(f"payload must be a JSON object, got {type(data).__name__}")
    return data


def number(payload: bytes) -> float | int:
    """Decode a plain-text number."""
    raw = text(payload)
    try:
        value = float(raw)
    except ValueError:
        raise DecodeError(f"payload {raw[:40]!r} is not a number") from None
    return int(value) if value.is_integer() and "." not in raw else value


def dump(data: dict[str, Any]) -> bytes:
    """Encode a JSON object compactly."""
    return json.dumps(data, separators=(",", ":")).encode()
