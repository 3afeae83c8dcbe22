"""The one name normaliser: what every lookup of a name compares."""

from __future__ import annotations

from sasha.home import names
from sasha.home.inventory import Inventory


def test_normal_drops_case_punctuation_apostrophes_and_filler() -> None:
    """Read "The Kids' Room!" and "kids room" as the same name."""
    assert names.normal("The Kids\u2019 Room!") == names.normal("kids room") == "kids room"
    assert names.normal("living_room_lamp") == "living room lamp"
    assert names.normal("  our   Back-Yard ") == "back yard"
    assert names.normal("set 21.5 degrees.") == "set 21.5 degrees"


def test_contains_matches_whole_words_only() -> None:
    """Find a name inside a phrase only as whole words."""
    said = names.normal("Turn on the TV, please")
    assert names.contains(said, "tv")
    assert not names.contains(names.normal("turn on the tvs"), "tv")
    assert not names.contains(said, "the")  # a name of filler words alone names nothing


def test_inventory_lookups_use_the_same_form(home: Inventory) -> None:
    """Find rooms and devices by the names people say, with articles and punctuation."""
    lounge = home.room("The Lounge")
    assert lounge is not None
    assert lounge.id == "living_room"
    assert [d.id for d in home.find("the reading-lamp")] == ["living_room_lamp"]
    assert {d.room for d in home.on_floor("Upstairs!")} == {"bedroom", "bathroom", "office"}
