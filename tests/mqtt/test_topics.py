"""Topic filters: matching, overlap, and the wildcards that stand for a large home's topics."""

from __future__ import annotations

import itertools

import pytest

from sasha.adapters import adapter_for
from sasha.home import inventory
from sasha.mqtt.topics import cover, overlap, topic_matches
from sasha.sim import synthetic
from tests.conftest import EXAMPLE


@pytest.mark.parametrize(
    ("pattern", "topic", "expected"),
    [
        ("a/b", "a/b", True),
        ("a/+", "a/b", True),
        ("a/+", "a/b/c", False),
        ("a/#", "a/b/c", True),
        ("a/#", "a", True),
        ("#", "x/y", True),
        ("a/+/c", "a/b/c", True),
        ("a/b", "a/b/c", False),
        ("a/b/c", "a/b", False),
    ],
)
def test_topic_matches(pattern: str, topic: str, expected: bool) -> None:
    """Match MQTT wildcards as the broker does."""
    assert topic_matches(pattern, topic) is expected


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ("a/+", "a/b", True),
        ("a/+", "+/b", True),
        ("a/+/c", "a/b/+", True),
        ("a/+", "a/b/c", False),
        ("a/#", "a", True),
        ("sasha/#", "sasha/request", True),
        ("zigbee2mqtt/+", "sasha/#", False),
        ("a/b", "a/c", False),
    ],
)
def test_overlap(first: str, second: str, expected: bool) -> None:
    """Tell whether some topic matches both filters, in either order."""
    assert overlap(first, second) is expected
    assert overlap(second, first) is expected


def _state_topics(home: inventory.Inventory) -> list[str]:
    return [t for d in home.devices.values() for t in adapter_for(d).state_topics(d)]


@pytest.mark.parametrize("devices", [39, 1000, 10_000])
def test_cover_matches_every_topic_once_and_stays_small(devices: int) -> None:
    """Every state topic matches exactly one filter; 10,000 devices take a handful of filters."""
    home = inventory.from_file(EXAMPLE) if devices == 39 else inventory.from_dict(synthetic.home_data(devices))
    topics = _state_topics(home)
    avoid = ["sasha/#", "homeassistant/status"]
    filters = cover(topics, avoid=avoid)
    for topic in topics:
        assert sum(topic_matches(f, topic) for f in filters) == 1, topic
    wildcards = [f for f in filters if "+" in f]
    assert not any(overlap(w, a) for w, a in itertools.product(wildcards, avoid))
    assert all(not f.startswith("+") for f in filters)
    if devices >= 1000:
        assert len(filters) <= 20  # the same dozen as at a thousand: one per protocol's topic shape


def test_cover_keeps_lone_topics_and_avoided_trees_exact() -> None:
    """A topic alone in its shape stays exact; topics under an avoided tree are never wildcarded."""
    topics = ["zigbee2mqtt/a", "zigbee2mqtt/b", "home/x/temp", "sasha/dev1", "sasha/dev2"]
    assert cover(topics, avoid=["sasha/#"]) == ["zigbee2mqtt/+", "home/x/temp", "sasha/dev1", "sasha/dev2"]
    assert cover([]) == []
