"""When a command is for later: "in 10 minutes", "at 11pm", "for 10 minutes", read off a sentence.

The time phrase is cut off the (normalised) sentence and the rest is read as a command as
usual. An hour without am/pm that could be either ("at 7") is not read here: asking a model,
or the person, is better than turning the lights off twelve hours early.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


class When(enum.StrEnum):
    """How a time phrase places a command."""

    IN = "in"  # after a delay
    AT = "at"  # at the next such wall-clock time
    FOR = "for"  # now, and back after a delay


@dataclass(frozen=True, slots=True)
class Timing:
    """A time phrase and the command it applies to."""

    when: When
    command: str  # the sentence without the time phrase
    phrase: str  # the time phrase as said ("in 10 minutes"), to put back when a question completes it
    seconds: float = 0.0  # for IN and FOR
    clock: time | None = None  # for AT

    def due(self, now: datetime, zone: ZoneInfo) -> datetime:
        """Return the instant (timezone-aware) the timed part runs, from `now`."""
        if self.clock is None:
            return now + timedelta(seconds=self.seconds)
        local = now.astimezone(zone)
        at = datetime.combine(local.date(), self.clock, tzinfo=zone)
        if at <= local:
            at = datetime.combine(local.date() + timedelta(days=1), self.clock, tzinfo=zone)
        return at


LONGEST = timedelta(days=7)
"""A timer further off than this is a routine, not a timer: it is refused."""

_UNITS = {"second": 1, "sec": 1, "minute": 60, "min": 60, "hour": 3600, "hr": 3600}
_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "ten": 10, "fifteen": 15}
_WORDS |= {"twenty": 20, "thirty": 30, "forty five": 45, "sixty": 60, "a couple of": 2, "a few": 3}
_AMOUNT = r"(?P<n>\d+(?:\.\d+)?|" + "|".join(sorted(map(re.escape, _WORDS), key=len, reverse=True)) + r")"
_UNIT = r"(?P<u>seconds?|secs?|minutes?|mins?|hours?|hrs?)"
_SPAN = rf"(?:{_AMOUNT} {_UNIT}|(?P<half>half an hour|half hour)|(?P<quarter>quarter of an hour|quarter hour))"
_SUFFIX = re.compile(rf"^(?P<c>.+?) (?P<w>in|for) {_SPAN}$")
_PREFIX = re.compile(rf"^(?P<w>in|for) {_SPAN},? (?P<c>.+)$")
_CLOCK = re.compile(
    r"^(?P<c>.+?) at (?:(?P<h>\d{1,2})(?: (?P<m>\d{2}))?(?: ?(?P<ampm>am|pm|a m|p m))?|(?P<named>noon|midnight))$"
)


def split(said: str) -> Timing | None:
    """Return the time phrase of a normalised sentence and the command left, or None when it has none."""
    found = _SUFFIX.match(said) or _PREFIX.match(said)
    if found is not None:
        seconds = _seconds(found)
        if seconds is None or seconds <= 0 or seconds > LONGEST.total_seconds():
            return None
        when = When.IN if found.group("w") == "in" else When.FOR
        phrase = said[: found.start("c")] + said[found.end("c") :]
        return Timing(when, found.group("c"), phrase.strip(" ,"), seconds=seconds)
    found = _CLOCK.match(said)
    if found is None:
        return None
    clock = _clock(found)
    if clock is None:
        return None
    return Timing(When.AT, found.group("c"), said[found.end("c") :].strip(), clock=clock)


def _seconds(found: re.Match[str]) -> float | None:
    if found.group("half"):
        return 1800.0
    if found.group("quarter"):
        return 900.0
    amount = found.group("n")
    number = float(amount) if amount[0].isdigit() else float(_WORDS[amount])
    unit = found.group("u").rstrip("s") or "s"
    return number * _UNITS[unit] if unit in _UNITS else None


def _clock(found: re.Match[str]) -> time | None:
    named = found.group("named")
    if named:
        return time(12) if named == "noon" else time(0)
    hour, minute = int(found.group("h")), int(found.group("m") or 0)
    ampm = (found.group("ampm") or "").replace(" ", "")
    if minute > 59:
        return None
    if ampm:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    elif hour > 23 or (1 <= hour <= 12 and not found.group("h").startswith("0")):
        return None  # "at 7", "at 7:30": morning or evening is not for Sasha to guess ("07:30" is)
    return time(hour, minute)


def say_delay(seconds: float) -> str:
    """Say a delay in words ("10 min", "1 h 30 min", "45 s")."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    hours, minutes = divmod(round(whole / 60), 60)
    if not hours:
        return f"{minutes} min"
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"
