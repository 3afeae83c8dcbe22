"""Confirmation verdicts from readings handed in: fresh reports only, write-only and stateless devices apart."""

from __future__ import annotations

from sasha.home.confirmation import Confirmation, Verdict, say_verdicts, settled, verdict
from sasha.home.inventory import Inventory
from sasha.home.readings import Reading

SENT = 100.0


def test_a_fresh_matching_report_confirms(home: Inventory) -> None:
    """Confirm when every requested value was reported after the command."""
    lamp = home.devices["living_room_lamp"]
    readings = {"power": Reading("on", SENT + 0.1), "brightness": Reading(30, SENT + 0.1)}
    found = verdict(lamp, {"power": "on", "brightness": 30}, readings, SENT)
    assert found == Verdict(Confirmation.CONFIRMED)
    assert settled(found)


def test_a_retained_old_state_confirms_nothing(home: Inventory) -> None:
    """Leave an action unconfirmed when the matching value was seen before the command only."""
    lamp = home.devices["living_room_lamp"]
    found = verdict(lamp, {"power": "on"}, {"power": Reading("on", SENT - 5)}, SENT)
    assert found.confirmation is Confirmation.UNCONFIRMED
    assert not settled(found)


def test_part_of_the_values_is_not_enough(home: Inventory) -> None:
    """Keep waiting while one of the requested values has not been reported yet."""
    lamp = home.devices["living_room_lamp"]
    found = verdict(lamp, {"power": "on", "brightness": 30}, {"power": Reading("on", SENT + 1)}, SENT)
    assert found.confirmation is Confirmation.UNCONFIRMED


def test_another_value_reported_after_the_command_fails(home: Inventory) -> None:
    """Fail an action whose device reported something else afterwards, and say what it reports."""
    lamp = home.devices["living_room_lamp"]
    found = verdict(lamp, {"brightness": 30}, {"brightness": Reading(40, SENT + 1)}, SENT)
    assert found == Verdict(Confirmation.FAILED, {"brightness": 40})
    assert not settled(found)  # a cover on its way may still get there
    assert say_verdicts([(lamp, found)]) == "The Living room lamp reports brightness 40 % instead."


def test_write_only_and_stateless_are_not_failures(home: Inventory) -> None:
    """Mark a track skip write-only, and a device without a state topic as such."""
    speaker = home.devices["bedroom_speaker"]
    assert verdict(speaker, {"track": "next"}, {}, SENT).confirmation is Confirmation.WRITE_ONLY
    lamp = home.devices["living_room_lamp"]
    assert verdict(lamp, {"power": "on"}, {}, SENT, reports=False).confirmation is Confirmation.NO_STATE
    assert say_verdicts([(speaker, Verdict(Confirmation.WRITE_ONLY))]) == ""


def test_the_unconfirmed_are_named_together(home: Inventory) -> None:
    """Say every device that did not confirm in one sentence."""
    quiet = Verdict(Confirmation.UNCONFIRMED)
    said = say_verdicts([(home.devices["garage_light"], quiet), (home.devices["kitchen_light"], quiet)])
    assert said == "The Garage light and the Kitchen light did not confirm."
