"""The one vocabulary and the lane a text takes: every matcher reads the same words the same way."""

from __future__ import annotations

import pytest

from sasha.home.inventory import Inventory
from sasha.sim import synthetic
from sasha.understanding import vocabulary
from sasha.understanding.intents import FastPath, Match
from sasha.understanding.lanes import LOCAL_MAX, Lane, lane
from sasha.understanding.sentences import Templates


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes", Lane.CONTROL),
        ("Yes please!", Lane.CONTROL),
        ("never mind", Lane.CONTROL),
        ("undo that", Lane.CONTROL),
        ("stop the night routine", Lane.CONTROL),
        ("turn on the kitchen light", Lane.LOCAL),
        ("kitchen lights off", Lane.LOCAL),
        ("what's the temperature in the bedroom?", Lane.LOCAL),
        ("preheat the oven to 200", Lane.LOCAL),
        ("make it warmer in the office", Lane.LOCAL),
        ("make it cozy", Lane.MODEL),
        ("help me sleep better", Lane.MODEL),
        ("I'm cold", Lane.MODEL),
        ("turn on the kitchen light " * 20, Lane.MODEL),
    ],
)
def test_the_lane_of_a_text(text: str, expected: Lane) -> None:
    """Start control words, commands and questions locally, and goals at the model."""
    assert lane(text) is expected


def test_a_long_text_goes_to_the_model() -> None:
    """Never spend the fast path's matching on a text longer than a command."""
    assert lane("turn on " + "x" * LOCAL_MAX) is Lane.MODEL


def test_the_assistant_and_the_daemon_share_the_yes_and_no_words() -> None:
    """Keep yes and no apart: no word both confirms and declines."""
    assert not vocabulary.YES & vocabulary.NO
    assert {"yes", "ok", "go ahead"} <= vocabulary.YES
    assert {"no", "cancel", "never mind"} <= vocabulary.NO


def test_on_and_off_never_move_a_lock(home: Inventory) -> None:
    """Read "turn off the front door lock" the same way in the grammar and in hassil: not as an unlock."""
    lock = home.devices["front_door"]
    assert vocabulary.switch(lock, on=False) is None
    assert vocabulary.switch(lock, on=True) is None
    for found in (
        FastPath(home).match("turn off the front door lock"),
        Templates(home).match("turn off the front door lock"),
    ):
        assert not isinstance(found, Match) or not found.actions, found


def test_kind_words_are_one_table_for_both_matchers(home: Inventory) -> None:
    """Give hassil's slot lists the grammar's kind words: a home with one fan hears "the fan" in both."""
    fan = home.devices["bedroom_fan"]
    assert "fan" in vocabulary.kinds_of(fan)
    assert "fans" in vocabulary.kinds_of(fan)
    assert "tv" in vocabulary.kinds_of(home.devices["living_room_tv"])
    assert "lamp" not in vocabulary.kinds_of(home.devices["kitchen_light"])


def test_the_compiled_tables_do_not_grow_per_request() -> None:
    """Keep the word tables and hassil's slot lists as built, and hassil's cache bounded, at 10,000 devices."""
    house = synthetic.home(10_000)
    fast = FastPath(house)
    words = fast._words
    hassil = fast._hassil
    before = (len(words.devices), len(words.rooms), len(words.floors), sum(map(len, words.devices.values())))
    lists = {name: len(slot.values) for name, slot in hassil._lists.items()}  # type: ignore[attr-defined]
    names = [d.name.lower() for d in list(house.devices.values())[:100]]
    for i in range(1_200):
        fast.match(f"turn {'on' if i % 2 else 'off'} the {names[i % 100]}")
        fast.match(f"please do the thing number {i}")  # read by nothing: hassil's turn, and its cache's
    after = (len(words.devices), len(words.rooms), len(words.floors), sum(map(len, words.devices.values())))
    assert after == before
    assert {name: len(slot.values) for name, slot in hassil._lists.items()} == lists  # type: ignore[attr-defined]
    assert len(hassil._cache) <= 512
