"""The model's answer: find the JSON in its text and check its shape.

The model is untrusted: its content may be bare JSON, JSON in a ```json fence, JSON with
prose around it, or something else entirely. `parse_decision` returns a checked
`Decision` or raises `DecisionError` saying what was wrong, which is what goes back to
the model in a repair round.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

import pydantic
from pydantic import Field

from sasha import jsonlimit
from sasha.errors import SashaError
from sasha.routines.shapes import ActionModel, Lenient, RoutineModel

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)
# A decision is small; an answer this long is runaway generation, not a plan.
MAX_ANSWER = 100_000

Kind = Literal["plan", "routine", "clarify", "answer", "infeasible"]


class DecisionError(SashaError):
    """The model's answer could not be read as a decision."""


class Decision(Lenient):
    """What the model decided."""

    kind: Kind
    message: str = ""
    actions: list[ActionModel] = Field(default_factory=list)
    routine: RoutineModel | None = None


class Selection(Lenient):
    """The answer of a relevance selection call."""

    devices: list[str]


class RoomSelection(Lenient):
    """The answer of a room selection call, which comes first in very large homes."""

    rooms: list[str]


def extract_json(text: str) -> dict[str, Any]:
    """Find the one JSON object in a model's answer: bare, fenced, or with prose around it."""
    if len(text) > MAX_ANSWER:
        raise DecisionError(f"the answer is {len(text)} characters long; a decision is one short JSON object")
    stripped = text.strip()
    if not stripped:
        raise DecisionError("the answer was empty; answer with one JSON object")
    too_deep = jsonlimit.depth_error(stripped)
    if too_deep is not None:
        # Checked once for the whole answer: every candidate below is a part of it.
        raise DecisionError(f"the answer is {too_deep.msg}; a decision is one short JSON object")
    candidates = [stripped, *(m.strip() for m in _FENCE.findall(stripped))]
    # strict=False: llama.cpp's schema grammar lets raw newlines into strings, which strict JSON
    # refuses; they are harmless in a message, and every id and value is validated anyway.
    for candidate in candidates:
        try:
            data = json.loads(candidate, strict=False)
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict):
            return data
    # Prose around the object: try each "{" until one decodes to an object.
    decoder = json.JSONDecoder(strict=False)
    for match in re.finditer(r"\{", stripped):
        try:
            data, _ = decoder.raw_decode(stripped, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict):
            return data
    raise DecisionError("the answer contains no JSON object; answer with exactly one JSON object")


def _shape_error(err: pydantic.ValidationError) -> str:
    parts = []
    for error in err.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "answer"
        parts.append(f"{where}: {error['msg'].lower()}")
    return "; ".join(parts[:8])


def parse_decision(text: str) -> Decision:
    """Read a decision from a model's answer (raises DecisionError)."""
    data = extract_json(text)
    try:
        return Decision.model_validate(data)
    except pydantic.ValidationError as err:
        raise DecisionError(f"the answer is not a valid decision: {_shape_error(err)}") from None


def parse_rooms(text: str) -> RoomSelection:
    """Read a room selection answer `{"rooms": [...]}` (raises DecisionError)."""
    try:
        return RoomSelection.model_validate(extract_json(text))
    except pydantic.ValidationError as err:
        raise DecisionError(f"the answer is not a valid room selection: {_shape_error(err)}") from None


def parse_selection(text: str) -> Selection:
    """Read a selection answer `{"devices": [...]}` (raises DecisionError)."""
    try:
        return Selection.model_validate(extract_json(text))
    except pydantic.ValidationError as err:
        raise DecisionError(f"the answer is not a valid selection: {_shape_error(err)}") from None
