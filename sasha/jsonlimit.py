"""JSON from the network, read with a bound on nesting.

Python's `json` recurses once per level, so a payload of a few kilobytes of `[[[[…` raises
`RecursionError` instead of a decode error. Every payload Sasha reads from the broker or a
model goes through `loads`, which refuses deep nesting before parsing, as a
`json.JSONDecodeError` that the callers already handle.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Sasha's messages nest three or four levels; a device state maybe six. Far below the
# interpreter's recursion limit (1000), far above anything legitimate.
MAX_DEPTH = 32

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


class TooDeep(json.JSONDecodeError):
    """The text nests arrays and objects deeper than the limit."""


def depth_error(text: str, max_depth: int = MAX_DEPTH) -> TooDeep | None:
    """Return the error for text that nests deeper than `max_depth`, None if it does not."""
    # Most payloads have fewer brackets than the limit: nothing to scan then.
    if text.count("[") + text.count("{") <= max_depth:
        return None
    depth = 0
    # Brackets inside strings do not nest; blanking the strings keeps every position.
    bare = _STRING.sub(lambda m: " " * len(m.group()), text)
    for match in _BRACKET.finditer(bare):
        if match.group() in "[{":
            depth += 1
            if depth > max_depth:
                return TooDeep(f"nested deeper than {max_depth} levels", text, match.start())
        else:
            depth -= 1
    return None


def loads(text: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON text like `json.loads`, refusing nesting deeper than `max_depth` (raises JSONDecodeError)."""
    if isinstance(text, bytes | bytearray):
        # As json.loads does for bytes, minus the encoding guess: Sasha's payloads are UTF-8.
        text = bytes(text).decode("utf-8")
    error = depth_error(text, max_depth)
    if error is not None:
        raise error
    return json.loads(text)
