"""The home's story told from happenings handed in: no audit log, no broker, no clock but the one given."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from sasha.home.inventory import Inventory
from sasha.understanding import grammar, story
from sasha.understanding.story import Happening, Span, Why

ZONE = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 6, 1, 21, 0, tzinfo=ZONE).timestamp()


def _read(home: Inventory, text: str) -> Why | Span | None:
    return story.read(grammar.Vocabulary(home), grammar.normalize(text))


@pytest.mark.parametrize(
    ("text", "seconds", "label", "mine"),
    [
        ("What happened in the last hour?", 3600, "in the last hour", False),
        ("what happened", 3600, "in the last hour", False),
        ("what happened in the last 30 minutes", 1800, "in the last 30 minutes", False),
        ("what changed in the past two hours", 7200, "in the last 2 hours", False),
        ("what happened today", None, "today", False),
        ("what did you do today?", None, "today", True),
        ("what did you do", None, "today", True),
    ],
)
def test_spans_are_read(home: Inventory, text: str, seconds: float | None, label: str, mine: bool) -> None:
    """Read the stretch of time a question asks about."""
    assert _read(home, text) == Span(seconds, label, mine)


@pytest.mark.parametrize(
    ("text", "devices", "state"),
    [
        ("why is the hall light on?", ["hallway_light"], "on"),
        ("Why's the kitchen light off", ["kitchen_light"], "off"),
        ("what turned on the fan", ["bedroom_fan", "bathroom_fan"], "on"),
        ("who turned the bathroom fan off", ["bathroom_fan"], "off"),
        ("what opened the garage door", ["garage_door"], "open"),
        ("why are the kitchen lights on", ["kitchen_light"], "on"),
    ],
)
def test_why_questions_name_their_devices(home: Inventory, text: str, devices: list[str], state: str) -> None:
    """Read which devices a why-question names, a kind word of several included, and the direction asked."""
    found = _read(home, text)
    assert isinstance(found, Why)
    assert ([d.id for d in found.devices], found.state) == (devices, state)


def test_other_sentences_are_not_story_questions(home: Inventory) -> None:
    """Leave commands, state questions and unknown devices to the rest of the fast path."""
    for text in ("turn on the hall light", "is the hall light on", "why is the dishwasher on", "what is the time"):
        assert _read(home, text) is None, text


def test_why_tells_the_latest_change_in_that_direction(home: Inventory) -> None:
    """Name the routine (and the request it came from) or the request behind the last change that fits."""
    happenings = [
        Happening(NOW - 7200, "hallway_light", {"power": "on"}, "chat", "turn on the hall light"),
        Happening(NOW - 3600, "hallway_light", {"power": "off"}, "api", "lights off"),
        Happening(
            NOW - 600, "hallway_light", {"power": "on", "brightness": 40}, "routine", "Evening", "Evening", "at dusk"
        ),
    ]
    question = _read(home, "why is the hall light on")
    assert isinstance(question, Why)
    told = story.tell_why(home, question, happenings, zone=ZONE, now=NOW, kept="in the last 7 days")
    assert told == "Hallway light on, brightness 40 % at 20:50: the routine 'Evening', set up from “at dusk”."
    off = _read(home, "why is the hall light off")
    assert isinstance(off, Why)
    told = story.tell_why(home, off, happenings, zone=ZONE, now=NOW, kept="in the last 7 days")
    assert told == "Hallway light off at 20:00: “lights off”, asked over MQTT."


def test_a_kind_of_several_tells_the_ones_that_changed(home: Inventory) -> None:
    """Answer "what turned on the fan" for the fan that was turned on, and say when nothing did."""
    question = _read(home, "what turned on the fan")
    assert isinstance(question, Why)
    quiet = Happening(
        NOW - 60, "bathroom_fan", {"power": "on"}, "cli", "turn on the bathroom fan", confirmation="unconfirmed"
    )
    told = story.tell_why(home, question, [quiet], zone=ZONE, now=NOW, kept="in the last 7 days")
    assert told == "Bathroom fan on at 20:59: “turn on the bathroom fan”, asked with sasha ask. It did not confirm."
    nothing = story.tell_why(home, question, [], zone=ZONE, now=NOW, kept="in the last 7 days")
    assert nothing.startswith("I have no record of Sasha having turned on the Ceiling fan or the Bathroom fan")


def test_a_span_lists_the_newest_and_counts_the_rest(home: Inventory) -> None:
    """Say each request's changes together, newest last, at most LISTED of them, and how many came before."""
    happenings = [Happening(NOW - 3000 + i, "office_light", {"power": "on"}, "api", f"r{i}") for i in range(12)]
    happenings += [
        Happening(NOW - 100, "bedroom_light", {"power": "off"}, "chat", "night"),
        Happening(NOW - 100, "bedroom_bedside_lamp", {"power": "off"}, "chat", "night"),
    ]
    span = Span(3600, "in the last hour", False)
    told = story.tell_span(home, span, happenings, zone=ZONE, now=NOW)
    assert told.startswith("In the last hour (and 3 earlier): 20:10 Office light on (“r3”);")
    assert told.endswith("20:58 Bedroom light and Bedside lamp off (“night”).")
    assert story.tell_span(home, Span(None, "today", True), [], zone=ZONE, now=NOW) == "I did nothing today."


def test_yesterday_and_older_say_the_day(home: Inventory) -> None:
    """Give the time alone for today, "yesterday" and the weekday before; today starts at local midnight."""
    happenings = [
        Happening(NOW - 3 * 86400, "office_light", {"power": "on"}, "api", "a"),
        Happening(NOW - 86400, "office_light", {"power": "off"}, "api", "b"),
    ]
    told = story.tell_span(home, Span(7 * 86400, "in the last 7 days", False), happenings, zone=ZONE, now=NOW)
    assert told == "In the last 7 days: Fri 21:00 Office light on (“a”); yesterday 21:00 Office light off (“b”)."
    midnight = datetime(2026, 6, 1, tzinfo=ZONE).timestamp()
    assert story.start_of(Span(None, "today", True), zone=ZONE, now=NOW) == midnight


def test_a_reported_change_without_a_command_is_someone_elses(home: Inventory) -> None:
    """Say a change the device reported was not Sasha's, unless it came right after Sasha's own command."""
    question = _read(home, "why is the hall light on")
    assert isinstance(question, Why)
    sent = Happening(NOW - 3600, "hallway_light", {"power": "on"}, "chat", "lights on")
    echo = Happening(NOW - 3599, "hallway_light", {"power": "on"}, "device", "")
    later = Happening(NOW - 600, "hallway_light", {"power": "on"}, "device", "")
    kept = "in the last 7 days"
    told = story.tell_why(home, question, [sent], zone=ZONE, now=NOW, kept=kept, reported=[echo])
    assert told == "Hallway light on at 20:00: “lights on”, asked in the chat."
    told = story.tell_why(home, question, [sent], zone=ZONE, now=NOW, kept=kept, reported=[echo, later])
    assert told == "Hallway light on at 20:50, not through me (by hand, or by another system)."
    told = story.tell_why(home, question, [], zone=ZONE, now=NOW, kept=kept, reported=[later])
    assert told == "Hallway light on at 20:50, not through me (by hand, or by another system)."


def test_a_span_lists_what_happened_without_me_too(home: Inventory) -> None:
    """List a device's own change as "not through me", and leave out the report that echoed a command."""
    sent = Happening(NOW - 1200, "office_light", {"power": "on"}, "chat", "office on")
    echo = Happening(NOW - 1199.5, "office_light", {"power": "on"}, "device", "")
    by_hand = Happening(NOW - 300, "hallway_light", {"power": "off", "brightness": 1}, "device", "")
    told = story.tell_span(
        home, Span(3600, "in the last hour", False), [sent], zone=ZONE, now=NOW, reported=[echo, by_hand]
    )
    assert told == (
        "In the last hour: 20:40 Office light on (“office on”);"
        " 20:55 Hallway light off, brightness 1 % (not through me)."
    )


def test_a_device_gone_from_the_inventory_is_left_out(home: Inventory) -> None:
    """Tell nothing about a device the audit log names but the home no longer has."""
    gone = Happening(NOW - 60, "old_lamp", {"power": "on"}, "chat", "old lamp on")
    assert story.tell_span(home, Span(3600, "in the last hour", False), [gone], zone=ZONE, now=NOW) == (
        "Nothing happened through me in the last hour."
    )
