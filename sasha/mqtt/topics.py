"""Topic filters as values: matching, overlap, and a few wildcards that stand for many topics.

Pure: no I/O. A home of thousands of devices reports on thousands of topics; subscribing to
each costs the broker a filter per topic and every reconnect a SUBSCRIBE per hundred. Large
clients subscribe `zigbee2mqtt/+`, `stat/+/RESULT`, … and route in-process; `cover` finds such
filters for any set of topics.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

# A wildcard must stand for at least this many topics; below, the exact topics are subscribed.
MIN_COVERED = 2


def topic_matches(pattern: str, topic: str) -> bool:
    """Tell whether a topic matches a subscription filter with + and # wildcards."""
    want = pattern.split("/")
    have = topic.split("/")
    for i, level in enumerate(want):
        if level == "#":
            return True
        if i >= len(have) or (level != "+" and level != have[i]):
            return False
    return len(want) == len(have)


def is_wildcard(pattern: str) -> bool:
    """Tell whether a filter has a wildcard level."""
    return "+" in pattern or "#" in pattern


def unshared(pattern: str) -> str:
    """Return the topic filter of a shared subscription (`$share/GROUP/filter` → `filter`)."""
    if pattern.startswith("$share/"):
        parts = pattern.split("/", 2)
        return parts[2] if len(parts) == 3 else pattern
    return pattern


def overlap(first: str, second: str) -> bool:
    """Tell whether some topic matches both filters."""
    a, b = first.split("/"), second.split("/")
    for i in range(max(len(a), len(b))):
        left = a[i] if i < len(a) else None
        right = b[i] if i < len(b) else None
        if left == "#" or right == "#":
            return True
        if left is None or right is None:
            return False
        if left != right and "+" not in (left, right):
            return False
    return True


def cover(topics: Iterable[str], *, avoid: Iterable[str] = ()) -> list[str]:
    """Return few filters that match every topic: one level made `+` where topics differ only there.

    A wildcard never replaces the first level (it would catch unrelated trees), never overlaps
    a filter of `avoid` or another wildcard (a message would arrive twice), and stands for at least
    `MIN_COVERED` topics; the topics it does not cover are returned as they are. A wildcard may
    match topics outside `topics`: its receiver must ignore what it does not know.
    """
    exact = sorted(set(topics))
    avoided = list(avoid)
    members: dict[str, list[str]] = defaultdict(list)
    for topic in exact:
        levels = topic.split("/")
        for i in range(1, len(levels)):
            members["/".join([*levels[:i], "+", *levels[i + 1 :]])].append(topic)
    left = set(exact)
    filters: list[str] = []
    # Widest first; ties by name, so the same home always subscribes the same filters.
    for pattern in sorted(members, key=lambda p: (-len(members[p]), p)):
        covered = [t for t in members[pattern] if t in left]
        if len(covered) < MIN_COVERED or any(overlap(pattern, other) for other in [*avoided, *filters]):
            continue
        filters.append(pattern)
        left.difference_update(covered)
    return filters + sorted(left)
