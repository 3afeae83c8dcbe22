"""`routines.yaml`: the routines, human-readable and hand-editable, written atomically.

Like Home Assistant's `automations.yaml`, the file is the truth: it is read at start and
whenever it changes on disk. A broken file is reported with its lines and left exactly as it
is; nothing is written over it until it is fixed.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pydantic
import yaml

from sasha.errors import SashaError, SourceProblem
from sasha.home import yamlsource
from sasha.home.inventory import Inventory
from sasha.routines.routine import Routine, Threshold, TimeTrigger, TimeWindow, check
from sasha.routines.shapes import RoutineModel

_HEADER = "# Sasha's routines. Edit freely; Sasha reloads this file when it changes.\n"


class RoutinesFileError(SashaError):
    """routines.yaml cannot be used; `problems` says where and why."""

    def __init__(self, problems: list[SourceProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def _test_data(test: Threshold) -> dict[str, Any]:
    data: dict[str, Any] = {"device": test.device, "capability": test.capability}
    for key in ("above", "below", "equals"):
        if getattr(test, key) is not None:
            data[key] = getattr(test, key)
    return data


def to_data(routine: Routine) -> dict[str, Any]:
    """Return a routine as plain data for the file and the MQTT topic."""
    trigger = routine.trigger
    if isinstance(trigger, TimeTrigger):
        trigger_data: dict[str, Any] = {"type": "time", "at": f"{trigger.at:%H:%M}"}
        if trigger.days:
            trigger_data["days"] = list(trigger.days)
    else:
        trigger_data = {"type": "state", **_test_data(trigger.test)}
        if trigger.for_seconds:
            trigger_data["for_seconds"] = trigger.for_seconds
    conditions = [
        {"type": "time", "after": f"{c.after:%H:%M}", "before": f"{c.before:%H:%M}"}
        if isinstance(c, TimeWindow)
        else {"type": "state", **_test_data(c)}
        for c in routine.conditions
    ]
    return {
        "id": routine.id,
        "name": routine.name,
        "enabled": routine.enabled,
        "created_from": routine.created_from,
        "trigger": trigger_data,
        "conditions": conditions,
        "actions": [{"device": a.device, "set": dict(a.set), "reason": a.reason} for a in routine.actions],
    }


def dump(routines: Sequence[Routine]) -> str:
    """Render the file's text."""
    body = yaml.safe_dump(
        {"routines": [to_data(r) for r in routines]}, sort_keys=False, allow_unicode=True, default_flow_style=False
    )
    return _HEADER + body


def parse(text: str, file: str, home: Inventory) -> list[Routine]:
    """Read routines from the file's text (raises RoutinesFileError with every problem)."""
    try:
        data, lines = yamlsource.load(text, file)
    except yamlsource.YamlSourceError as err:
        raise RoutinesFileError([err.problem]) from None
    if data is None:
        return []
    if not isinstance(data, dict) or not isinstance(data.get("routines", []), list):
        raise RoutinesFileError([lines.problem((), "the file must be a mapping with a list under 'routines'")])
    routines: list[Routine] = []
    problems: list[SourceProblem] = []
    for index, item in enumerate(data.get("routines") or []):
        at = ("routines", index)
        if not isinstance(item, dict):
            problems.append(lines.problem(at, "each routine must be a mapping"))
            continue
        try:
            model = RoutineModel.model_validate(item)
        except pydantic.ValidationError as err:
            first = err.errors(include_url=False)[0]
            where = (*at, *first["loc"])
            field = ".".join(str(p) for p in first["loc"])
            problems.append(
                lines.problem(where, f"routine {item.get('name', index + 1)!r}: {field}: {first['msg'].lower()}")
            )
            continue
        routine, found = check(home, model, request=str(item.get("created_from") or ""))
        problems.extend(lines.problem(at, f"routine {model.name!r}: {message}") for message in found)
        if routine is None:
            continue
        ident = str(item.get("id") or routine.id)
        if any(r.id == ident for r in routines):
            problems.append(lines.problem((*at, "id"), f"duplicate routine id '{ident}'"))
            continue
        enabled = item.get("enabled", True)
        if not isinstance(enabled, bool):
            problems.append(lines.problem((*at, "enabled"), "enabled must be true or false"))
            continue
        routines.append(
            Routine(
                ident, routine.name, routine.trigger, routine.actions, routine.conditions, enabled, routine.created_from
            )
        )
    if problems:
        raise RoutinesFileError(problems)
    return routines


class RoutineStore:
    """The routines file of a state directory."""

    def __init__(self, path: Path, home: Inventory) -> None:
        self.path = path
        self._home = home
        self.problems: list[SourceProblem] = []
        self._mtime: float | None = None

    def load(self) -> list[Routine]:
        """Read the file; a missing file is no routines (raises RoutinesFileError when broken)."""
        try:
            text = self.path.read_text(encoding="utf-8")
            self._mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            self.problems = []
            self._mtime = None
            return []
        except (OSError, UnicodeDecodeError) as err:
            self.problems = [SourceProblem(str(self.path), 0, f"cannot read: {err}")]
            raise RoutinesFileError(self.problems) from None
        try:
            routines = parse(text, str(self.path), self._home)
        except RoutinesFileError as err:
            self.problems = err.problems
            raise
        self.problems = []
        return routines

    def changed(self) -> bool:
        """Tell whether the file changed on disk since it was last read or written."""
        try:
            mtime: float | None = self.path.stat().st_mtime
        except FileNotFoundError:
            mtime = None
        return mtime != self._mtime

    def save(self, routines: Sequence[Routine]) -> None:
        """Write the file atomically: a temporary file, flushed to disk, renamed over the old one."""
        if self.problems:
            raise RoutinesFileError(
                [SourceProblem(str(self.path), 0, "is broken, so it is left as it is; fix it first"), *self.problems]
            )
        write_atomically(self.path, dump(routines))
        self._mtime = self.path.stat().st_mtime


def write_atomically(path: Path, text: str) -> None:
    """Write a state file so a crash leaves the old one or the new one: a temporary file, flushed, renamed over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
