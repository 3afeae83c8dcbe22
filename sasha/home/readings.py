"""A reading: the last value a device reported and when it was seen."""

from __future__ import annotations

from dataclasses import dataclass

from sasha.home.capabilities import Value


@dataclass(frozen=True, slots=True)
class Reading:
    """A reported value and the time (clock seconds) it was last seen."""

    value: Value
    seen: float
