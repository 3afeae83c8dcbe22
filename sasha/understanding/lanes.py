"""Which lane a text takes: Sasha's own control words, the local path, or the model.

The daemon queues by it (explicit commands never wait behind the model) and the assistant
reads it too, so the two never disagree. The answer is a cheap guess about where to start,
never a decision to act: a text that the local path then cannot read still goes to the model.
"""

from __future__ import annotations

import enum
import re

from sasha.understanding import vocabulary


class Lane(enum.StrEnum):
    """Where a text starts."""

    CONTROL = "control"  # yes, no, undo, a routine's name with a verb: the assistant's own words
    LOCAL = "local"  # may be an explicit command or a question the state mirror answers
    MODEL = "model"  # a goal ("make it cozy"): only a model can plan it


LOCAL_MAX = 200
"""Longer texts are never explicit commands; the fast path's matching cost grows with length."""

_WORD = re.compile(r"[a-z']+")


def lane(text: str) -> Lane:
    """Return the lane a text starts in."""
    if len(text) > LOCAL_MAX:
        return Lane.MODEL
    said = vocabulary.spoken(text)
    if said in vocabulary.UNDO or said in vocabulary.YES or said in vocabulary.NO or vocabulary.MANAGE.match(said):
        return Lane.CONTROL
    if vocabulary.TIMERS_LIST.match(said) or vocabulary.TIMERS_CANCEL.match(said):
        return Lane.CONTROL
    if any(word in vocabulary.LOCAL_WORDS for word in _WORD.findall(said)):
        return Lane.LOCAL
    return Lane.MODEL
