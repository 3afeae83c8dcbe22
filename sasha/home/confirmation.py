"""Did the device do it? An action's confirmation from what the device reported after the command.

Pure: the readings are handed in. A value counts only when it was reported after the command
was sent, so a retained state of a device that has gone away never confirms anything.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sasha.home.capabilities import Value, same_value
from sasha.home.inventory import Device
from sasha.home.readings import Reading
from sasha.home.wording import say_value


class Confirmation(enum.StrEnum):
    """What the device's own reports say about one published action."""

    CONFIRMED = "confirmed"  # reported every requested value after the command
    UNCONFIRMED = "unconfirmed"  # no report of them in time
    FAILED = "failed"  # not sent (outbox full), or the device reported other values after the command
    WRITE_ONLY = "write_only"  # only one-off commands (track next): nothing to report
    NO_STATE = "no_state"  # the device reports no state at all


@dataclass(frozen=True, slots=True)
class Verdict:
    """A confirmation and, when a device reported something else, what it reports."""

    confirmation: Confirmation
    reported: Mapping[str, Value] | None = None


def checked(device: Device, requested: Mapping[str, Value]) -> dict[str, Value]:
    """Return the requested values a device's report can confirm (write-only ones left out)."""
    caps = device.capabilities
    return {n: v for n, v in requested.items() if n in caps and not caps[n].info.write_only}


def verdict(
    device: Device,
    requested: Mapping[str, Value],
    readings: Mapping[str, Reading],
    sent: float,
    *,
    reports: bool = True,
) -> Verdict:
    """Judge one published action by the readings seen since `sent` (`reports` False: no state topic)."""
    wanted = checked(device, requested)
    if not wanted:
        return Verdict(Confirmation.WRITE_ONLY)
    if not reports:
        return Verdict(Confirmation.NO_STATE)
    fresh = {n: r.value for n, r in readings.items() if n in wanted and r.seen >= sent}
    if len(fresh) == len(wanted) and all(same_value(n, v, fresh[n]) for n, v in wanted.items()):
        return Verdict(Confirmation.CONFIRMED)
    other = {n: v for n, v in fresh.items() if not same_value(n, wanted[n], v)}
    if other:
        return Verdict(Confirmation.FAILED, other)
    return Verdict(Confirmation.UNCONFIRMED)


def settled(found: Verdict) -> bool:
    """Tell whether waiting longer cannot change a verdict: a device that reported other values may still get there."""
    return found.confirmation not in (Confirmation.UNCONFIRMED, Confirmation.FAILED)


def say_verdicts(verdicts: Sequence[tuple[Device, Verdict]]) -> str:
    """Say what did not confirm: "The Garage light did not confirm. The Hall light reports brightness 40 %."."""
    quiet = [d.name for d, v in verdicts if v.confirmation is Confirmation.UNCONFIRMED]
    said = []
    if quiet:
        said.append(f"The {_names(quiet)} did not confirm.")
    for device, found in verdicts:
        if found.confirmation is Confirmation.FAILED and found.reported:
            other = ", ".join(say_value(device, n, v) for n, v in found.reported.items())
            said.append(f"The {device.name} reports {other} instead.")
    return " ".join(said)


def say_offline(devices: Sequence[Device], *, sent: bool) -> str:
    """Say, before the rest, that devices are offline: "The Lounge lamp is offline; I sent the command anyway."."""
    if not devices:
        return ""
    names = _names([d.name for d in devices])
    verb = "is" if len(devices) == 1 else "are"
    if sent:
        return f"The {names} {verb} offline; I sent the command anyway."
    return f"The {names} {verb} offline, so I did not send {'it' if len(devices) == 1 else 'them'} the command."


def _names(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and the {names[-1]}"
