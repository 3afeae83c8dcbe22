"""Read YAML text into plain data while remembering the line of every node.

The inventory, routines and scenario loaders report problems as `file:line`; this
module is the file layer they share. It only parses text: it knows no schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from sasha.errors import SourceProblem

Path = tuple[str | int, ...]

# A document nested deeper than this is not a hand-written config (or is an alias bomb).
_MAX_DEPTH = 50
_BOOL_TAG = "tag:yaml.org,2002:bool"


class YamlSourceError(Exception):
    """The text is not usable YAML; carries the located problem."""

    def __init__(self, problem: SourceProblem) -> None:
        self.problem = problem
        super().__init__(str(problem))


@dataclass(slots=True)
class LineMap:
    """Lines of the nodes of one document, by path from the root."""

    file: str
    lines: dict[Path, int] = field(default_factory=dict)

    def line(self, path: Sequence[str | int]) -> int:
        """Return the line of the deepest node on `path` that the document has."""
        key = tuple(path)
        while key:
            found = self.lines.get(key)
            if found is not None:
                return found
            key = key[:-1]
        return self.lines.get((), 1)

    def problem(self, path: Sequence[str | int], message: str) -> SourceProblem:
        """Build a problem located at `path`."""
        return SourceProblem(self.file, self.line(path), message)


def load(text: str, file: str) -> tuple[Any, LineMap]:
    """Parse one YAML document, returning its data and the line of each node."""
    lines = LineMap(file)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark is not None else 0
        reason = err.problem or err.context or "invalid YAML"
        if err.context and err.context_mark is not None and err.problem:
            # An unclosed bracket is only noticed lines later; say where it opened.
            reason = f"{err.context} (started on line {err.context_mark.line + 1}): {err.problem}"
        raise YamlSourceError(SourceProblem(file, line, f"invalid YAML: {reason}")) from None
    except yaml.YAMLError as err:
        raise YamlSourceError(SourceProblem(file, 0, f"invalid YAML: {err}")) from None
    if node is None:
        return None, lines
    return _Walker(lines).value(node, ()), lines


class _Walker:
    """Turn a composed node graph into plain data, recording lines on the way."""

    def __init__(self, lines: LineMap) -> None:
        self._lines = lines
        self._scalars = SafeConstructor()

    def value(self, node: yaml.Node, path: Path) -> Any:
        if len(path) > _MAX_DEPTH:
            raise YamlSourceError(self._problem(node, "document is nested too deeply"))
        self._lines.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.value(item, (*path, i)) for i, item in enumerate(node.value)]
        if node.tag == _BOOL_TAG and node.value.lower() not in ("true", "false"):
            # YAML 1.1 reads bare on/off/yes/no as booleans; in a home, `power: on` and
            # `values: [off, heat]` mean the words, as YAML 1.2 says too.
            return node.value
        try:
            return self._scalars.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as err:
            raise YamlSourceError(self._problem(node, f"invalid value: {err.problem}")) from None

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlSourceError(self._problem(key_node, "a key must be a plain value"))
            key = self._scalars.construct_object(key_node)
            if not isinstance(key, str | int | bool | float) or key is None:
                raise YamlSourceError(self._problem(key_node, "a key must be a plain value"))
            # PyYAML silently keeps the last of two equal keys; a hand-edited file
            # with a repeated key almost always has a copy-paste mistake.
            if key in result:
                raise YamlSourceError(self._problem(key_node, f"duplicate key '{key}'"))
            child: Path = (*path, str(key))
            self._lines.lines[child] = key_node.start_mark.line + 1
            result[key] = self.value(value_node, child)
        return result

    def _problem(self, node: yaml.Node, message: str) -> SourceProblem:
        return SourceProblem(self._lines.file, node.start_mark.line + 1, message)
