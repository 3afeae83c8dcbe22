"""An action: the requested change of one device, as the planner, the fast path and routines ask for it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Action:
    """A requested change of one device."""

    device: str
    set: Mapping[str, Any]
    reason: str = ""
