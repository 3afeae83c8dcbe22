"""The compiled phrase grammar: words in, devices out, and nothing read from a word it does not know."""

from __future__ import annotations

from sasha.home import inventory
from sasha.home.inventory import Inventory
from sasha.understanding import grammar
from sasha.understanding.intents import FastPath, Match, NotUnderstood, Question

AND_HOME = """\
rooms: [{id: den, name: Den, floor: upstairs}]
devices:
  - {id: sp, name: Salt and pepper lamp, room: den, type: light, capabilities: {power: {}}}
  - {id: other, name: Other lamp, room: den, type: light, capabilities: {power: {}}}
"""


def test_normalize_drops_filler_and_punctuation() -> None:
    """Lower-case, spell out percent, keep decimals, drop "the", "please" and end punctuation."""
    assert grammar.normalize("Please set the Living-Room lamp to 30%.") == "set living room lamp to 30 percent"
    assert grammar.normalize("What's the temperature?") == "what is temperature"
    assert grammar.normalize("set it to 21.5 degrees.") == "set it to 21.5 degrees"


def test_a_name_with_and_in_it_is_one_device() -> None:
    """Read "salt and pepper lamp" as the device of that name, not two targets."""
    fast = FastPath(inventory.from_yaml(AND_HOME))
    found = fast.match("turn on the salt and pepper lamp")
    assert isinstance(found, Match)
    assert [a.device for a in found.actions] == ["sp"]


def test_unknown_words_are_not_read(home: Inventory) -> None:
    """Leave a target with any unknown word to hassil and the model, never to a guess."""
    words = grammar.Vocabulary(home)
    assert words.target("kitchen light") is not None
    assert words.target("kitchen lightsaber") is None
    assert words.target("lights except kitchen") is None
    assert words.target("") is None


def test_a_singular_kind_in_a_room_with_two_asks(home: Inventory) -> None:
    """Ask which light for "the living room light" (three there); "the living room lights" means all."""
    words = grammar.Vocabulary(home)
    unclear = words.target("living room light")
    assert isinstance(unclear, grammar.Unclear)
    assert [d.id for d in unclear.candidates] == ["living_room_lamp", "living_room_ceiling", "living_room_led_strip"]
    every = words.target("living room lights")
    assert isinstance(every, grammar.Target)
    assert len(every.devices) == 3


def test_several_commands_are_all_or_nothing(home: Inventory) -> None:
    """Return every action of every part, or say which part was not understood and return none."""
    fast = FastPath(home)
    both = fast.match("turn on the kitchen light, then turn off the hallway light")
    assert isinstance(both, Match)
    assert [(a.device, dict(a.set)) for a in both.actions] == [
        ("kitchen_light", {"power": "on"}),
        ("hallway_light", {"power": "off"}),
    ]
    half = fast.match("turn on the kitchen light and turn on the flux capacitor")
    assert half == NotUnderstood(("turn on kitchen light",), "turn on flux capacitor")
    twice = fast.match("turn on the kitchen light and turn off the kitchen light")
    assert isinstance(twice, NotUnderstood)
    ask = fast.match("turn on the kitchen light and turn on the fan")
    assert isinstance(ask, Question)
    assert "Ceiling fan, Bathroom fan" in ask.message
