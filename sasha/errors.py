"""Errors raised by Sasha.

One base class, a shallow tree, structured attributes:

    SashaError
    ├── InventoryError      a devices.yaml that cannot be used (carries every problem)
    ├── ConfigError         a setting that cannot be used
    ├── DecodeError         a payload a device or the broker sent that cannot be read
    └── MqttUnavailable     the broker could not be reached or refused us
        └── OutboxFull      too many commands are held while the broker is away
"""

from __future__ import annotations

from dataclasses import dataclass


class SashaError(Exception):
    """Base class of every error Sasha raises on purpose."""


@dataclass(frozen=True, slots=True)
class SourceProblem:
    """One problem in a file, located by line (1-based, 0 when unknown)."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class InventoryError(SashaError):
    """The inventory file is broken; `problems` lists every problem found."""

    def __init__(self, problems: list[SourceProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class ConfigError(SashaError):
    """A setting is invalid."""


class DecodeError(SashaError):
    """A payload could not be decoded."""


class MqttUnavailable(SashaError):
    """The MQTT broker cannot be used right now."""


class OutboxFull(MqttUnavailable):
    """The bounded outbox is full, so the command was not accepted."""
