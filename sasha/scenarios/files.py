"""Scenario files (docs/design.md, section 7): a home, a start state, and steps with expectations.

This module only reads and checks files; `sasha.scenarios.runner` plays them. A broken scenario file
is reported as `file:line: problem`, like a broken inventory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sasha.errors import InventoryError, SashaError, SourceProblem
from sasha.home import inventory, yamlsource
from sasha.home.inventory import Inventory


class ScenarioError(SashaError):
    """A scenario file cannot be used; `problems` says where and why."""

    def __init__(self, problems: list[SourceProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Expect(_Strict):
    """What must hold after a step."""

    status: str | None = None
    state: dict[str, dict[str, Any]] = Field(default_factory=dict)
    unchanged: list[str] = Field(default_factory=list)
    message_contains: list[str] = Field(default_factory=list)
    model_calls: int | None = None
    published: list[str] | None = None  # exactly these devices got commands during the step


class Step(_Strict):
    """One step: say something, set sensor values, or move the clock."""

    say: str | None = None
    conversation: str | None = None
    model: list[dict[str, Any]] = Field(default_factory=list)
    set: dict[str, dict[str, Any]] | None = None
    advance: float | None = Field(default=None, ge=0)
    expect: Expect = Field(default_factory=Expect)

    @model_validator(mode="after")
    def _one_kind(self) -> Step:
        kinds = [k for k in ("say", "set", "advance") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("a step has exactly one of say, set or advance")
        if self.model and self.say is None:
            raise ValueError("model answers belong to a say step")
        return self


class _File(_Strict):
    name: str
    home: str | dict[str, Any]
    initial: dict[str, dict[str, Any]] = Field(default_factory=dict)
    config: dict[str, Any] = Field(default_factory=dict)
    start: str | None = None  # ISO time the scenario clock starts at, e.g. 2026-03-27T21:00:00+01:00
    steps: list[Step]


@dataclass(frozen=True, slots=True)
class Scenario:
    """A checked scenario."""

    name: str
    file: Path
    home: Inventory
    steps: tuple[Step, ...]
    initial: dict[str, dict[str, Any]] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    start: str | None = None
    lines: tuple[int, ...] = ()  # the line of each step, for failure reports


_HOMES: dict[Path, Inventory] = {}


def _home(value: str | dict[str, Any], base: Path, lines: yamlsource.LineMap) -> Inventory:
    try:
        if isinstance(value, dict):
            return inventory.from_dict(value, lines)
        path = (base / value).resolve()
        if path not in _HOMES:
            _HOMES[path] = inventory.from_file(path)
        return _HOMES[path]
    except InventoryError as err:
        first = err.problems[0]
        raise ScenarioError([lines.problem(("home",), f"home: {first}")]) from None


def load(path: Path) -> Scenario:
    """Read and check one scenario file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ScenarioError([SourceProblem(str(path), 0, f"cannot read: {err.strerror}")]) from None
    except UnicodeDecodeError as err:
        raise ScenarioError([SourceProblem(str(path), 0, f"cannot read: not UTF-8 ({err.reason})")]) from None
    try:
        data, lines = yamlsource.load(text, str(path))
    except yamlsource.YamlSourceError as err:
        raise ScenarioError([err.problem]) from None
    if not isinstance(data, dict):
        raise ScenarioError([lines.problem((), "a scenario is a mapping with name, home and steps")])
    try:
        parsed = _File.model_validate(data)
    except pydantic.ValidationError as err:
        problems = []
        for error in err.errors(include_url=False):
            loc = tuple(error["loc"])
            where = ".".join(str(p) for p in loc) or "scenario"
            message = error["msg"].removeprefix("Value error, ")
            problems.append(lines.problem(loc, f"{where}: {message}"))
        raise ScenarioError(problems) from None
    home = _home(parsed.home, path.parent, lines)
    problems = []
    for index, step in enumerate(parsed.steps):
        named = [*(step.set or {}), *step.expect.state, *step.expect.unchanged, *(step.expect.published or [])]
        problems.extend(
            lines.problem(("steps", index), f"step {index + 1}: no device '{d}' in this home")
            for d in named
            if d not in home.devices
        )
    problems.extend(
        lines.problem(("initial", d), f"initial: no device '{d}' in this home")
        for d in parsed.initial
        if d not in home.devices
    )
    if problems:
        raise ScenarioError(problems)
    step_lines = tuple(lines.line(("steps", i)) for i in range(len(parsed.steps)))
    return Scenario(
        parsed.name, path, home, tuple(parsed.steps), parsed.initial, parsed.config, parsed.start, step_lines
    )


def discover(paths: list[Path]) -> list[Path]:
    """Expand folders into their scenario files (`*.yaml` below them, homes/ excluded)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(p for p in sorted(path.rglob("*.yaml")) if "homes" not in p.relative_to(path).parts)
        else:
            found.append(path)
    return found
