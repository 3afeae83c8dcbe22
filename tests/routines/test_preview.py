"""A routine's preview replays the recorded history by the engine's rules: crossings, holding, conditions."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from sasha.home.actions import Action
from sasha.routines import preview
from sasha.routines.routine import Routine, StateTrigger, Threshold, TimeTrigger, TimeWindow

BERLIN = ZoneInfo("Europe/Berlin")
FAN = (Action("bathroom_fan", {"power": "on"}),)
START = datetime(2026, 6, 1, 0, 0, tzinfo=BERLIN).timestamp()


def _humid(for_seconds: float = 0) -> Routine:
    trigger = StateTrigger(Threshold("bathroom_humidity", "humidity", above=60), for_seconds)
    return Routine("humid", "Humid", trigger, FAN)


def _at(hour: int, minute: int = 0) -> float:
    return datetime(2026, 6, 1, hour, minute, tzinfo=BERLIN).timestamp()


def test_a_state_trigger_fires_on_each_crossing_not_on_each_reading() -> None:
    """Fire when the value crosses into the test, not while it stays there; the first value only arms."""
    series = (None, [(_at(1), 70), (_at(2), 75), (_at(3), 50), (_at(4), 65), (_at(5), 80)])
    found = preview.firings(_humid(), {("bathroom_humidity", "humidity"): series}, zone=BERLIN, start=START, end=_at(6))
    assert [at.astimezone(BERLIN).hour for at in found] == [4]  # 70 at 01:00 was the first value seen
    armed = (50, series[1])
    found = preview.firings(_humid(), {("bathroom_humidity", "humidity"): armed}, zone=BERLIN, start=START, end=_at(6))
    assert [at.astimezone(BERLIN).hour for at in found] == [1, 4]


def test_holding_counts_and_leaving_early_does_not_fire() -> None:
    """Fire only after the value held for `for_seconds`, and not when it left before."""
    series = (50, [(_at(1), 70), (_at(1, 5), 50), (_at(2), 70)])
    found = preview.firings(
        _humid(600), {("bathroom_humidity", "humidity"): series}, zone=BERLIN, start=START, end=_at(3)
    )
    assert [at.astimezone(BERLIN).strftime("%H:%M") for at in found] == ["02:10"]


def test_time_triggers_and_their_conditions() -> None:
    """Fire a time trigger at each local time, only on its days and when the conditions held then."""
    routine = Routine("night", "Night", TimeTrigger(time(23, 0), ("mon", "wed")), FAN)
    end = datetime(2026, 6, 8, 0, 0, tzinfo=BERLIN).timestamp()
    found = preview.firings(routine, {}, zone=BERLIN, start=START, end=end)
    assert [at.astimezone(BERLIN).strftime("%a %H:%M") for at in found] == ["Mon 23:00", "Wed 23:00"]
    dark = Threshold("office_light", "power", equals="on")
    lit = Routine("night", "Night", TimeTrigger(time(23, 0)), FAN, conditions=(dark,))
    series = ("off", [(_at(22), "on")])
    found = preview.firings(lit, {("office_light", "power"): series}, zone=BERLIN, start=START, end=_at(23, 30))
    assert len(found) == 1
    window = Routine("w", "W", TimeTrigger(time(23, 0)), FAN, conditions=(TimeWindow(time(6), time(8)),))
    assert preview.firings(window, {}, zone=BERLIN, start=START, end=end) == []
    assert preview.reads(lit) == [("office_light", "power")]


def test_the_preview_is_said_in_a_sentence() -> None:
    """Say how often and when, at most SHOWN times, and when it never would have."""
    found = [datetime(2026, 6, d, 21, 0, tzinfo=UTC) for d in range(1, 13)]
    said = preview.say(found, zone=BERLIN, span="in the last 7 days")
    assert said.startswith("It would have run 12 times in the last 7 days: Mon 23:00, Tue 23:00,")
    assert said.endswith(", and 2 more.")
    assert preview.say(found[:1], zone=BERLIN, span="today") == "It would have run once today: Mon 23:00."
    assert preview.say([], zone=BERLIN, span="in the last 7 days") == "It would not have run in the last 7 days."
