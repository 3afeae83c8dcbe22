"""Routines and actions as they arrive from the model or a file: lenient shapes, checked later.

`sasha.routines.routine.check` turns these into checked routines; the planner's decision
reuses `ActionModel` and `RoutineModel` for its own answer.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Lenient(BaseModel):
    """A shape that ignores extra fields."""

    # Models add fields of their own; ignoring them costs nothing, refusing them costs a call.
    model_config = ConfigDict(extra="ignore", frozen=True)


class ActionModel(Lenient):
    """One proposed change of one device."""

    device: str
    set: dict[str, Any]
    reason: str = ""


class TriggerModel(Lenient):
    """When a routine fires."""

    type: Literal["time", "state"]
    at: str | None = None
    days: list[str] | str | None = None  # a list of days, or one string: `daily`, `mon, fri`
    device: str | None = None
    capability: str | None = None
    above: float | None = None
    below: float | None = None
    equals: Any = None
    for_seconds: float = 0


class ConditionModel(Lenient):
    """What must hold for a routine to run."""

    type: Literal["time", "state"]
    after: str | None = None
    before: str | None = None
    device: str | None = None
    capability: str | None = None
    above: float | None = None
    below: float | None = None
    equals: Any = None


class RoutineModel(Lenient):
    """A routine the model proposes."""

    name: str
    trigger: TriggerModel
    conditions: list[ConditionModel] = Field(default_factory=list)
    actions: list[ActionModel]
