"""One way to read a name: the normaliser every part of Sasha matches names and aliases with.

The inventory's lookups, the fast path's grammar and the planner's relevance all compare what
people say with device, room and floor names. When each lower-cased and stripped in its own
way, "the lounge" found the living room in one place and nothing in another. This module is
pure and imports nothing of Sasha.
"""

from __future__ import annotations

import re

# Words that never tell two things apart: "the lamp" is "lamp", "our garden" is "garden".
FILLER = frozenset({"the", "my", "please", "our"})
# Dots stay inside numbers ("21.5"); "%" and every other mark become spaces.
NON_WORD = re.compile(r"[^a-z0-9.% ]+")
LOOSE_DOT = re.compile(r"(?<![0-9])\.|\.(?![0-9])")


def words(text: str) -> str:
    """Lower-case text, drop apostrophes, turn underscores and punctuation to spaces, collapse spaces."""
    text = text.lower().replace("\u2019", "'").replace("'", "").replace("_", " ").replace("%", " percent ")
    return " ".join(LOOSE_DOT.sub(" ", NON_WORD.sub(" ", text)).split())


def normal(name: str) -> str:
    """Return the form a name or a phrase is compared in: `words` without filler words."""
    return " ".join(w for w in words(name).split() if w not in FILLER)


def contains(said: str, name: str) -> bool:
    """Say whether the normalised phrase `said` contains the name as whole words."""
    wanted = normal(name)
    return bool(wanted) and f" {wanted} " in f" {said} "
