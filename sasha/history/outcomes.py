"""What became of a request and which part of Sasha answered it: the words a reply and the audit log share."""

from __future__ import annotations

import enum


class Status(enum.StrEnum):
    """A reply's status (docs/design.md, section 6)."""

    DONE = "done"
    NEEDS_CONFIRMATION = "needs_confirmation"
    CLARIFY = "clarify"
    ANSWER = "answer"
    INFEASIBLE = "infeasible"
    REJECTED = "rejected"
    BUSY = "busy"
    ERROR = "error"


class ReplyPath(enum.StrEnum):
    """The part of Sasha that answered a request (a reply's and an audit row's `path`)."""

    FAST = "fast"
    MODEL = "model"
    CONFIRM = "confirm"
    UNDO = "undo"
    ROUTINES = "routines"
    ROUTINE = "routine"
    TIMER = "timer"
    HISTORY = "history"
    NONE = "none"
