"""Read YAML text into plain data while remembering the line of every node.

The inventory, routines and scenario loaders report problems as `file:line`; this
module is the file layer they share. It only parses text: it knows no schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml._yaml import CParser
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from sasha.errors import SourceProblem

Path = tuple[str | int, ...]

# A document nested deeper than this is not a hand-written config (or is an alias bomb).
_MAX_DEPTH = 50
# Aliases let a few bytes stand for a huge tree ("billion laughs": 342 bytes, 10**9 nodes).
# What aliases expand to is capped while the file is composed, before anything is expanded;
# their number is not: `yaml.safe_dump` writes an anchor for every map a program shares, so a
# generated 1,000-device file holds thousands of small aliases. The cap grows with the file's
# own nodes (ALIAS_RATIO values per value written out), so expansion stays linear in its size.
MAX_ALIAS_NODES = 10_000
ALIAS_RATIO = 10
_BOOL_TAG = "tag:yaml.org,2002:bool"
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"


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
        loader = _BoundedLoader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except _Refused as err:
        raise YamlSourceError(SourceProblem(file, err.line, err.message)) from None
    except RecursionError:
        # Unreachable while _MAX_DEPTH is far below Python's recursion limit; kept as a net.
        raise YamlSourceError(SourceProblem(file, 0, "document is nested too deeply")) from None
    except yaml.MarkedYAMLError as err:
        if err.problem and "maximum nesting depth" in err.problem:
            # libyaml's own limit on flow collections, met before ours.
            line = err.problem_mark.line + 1 if err.problem_mark is not None else 0
            raise YamlSourceError(SourceProblem(file, line, "document is nested too deeply")) from None
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


class _Refused(Exception):
    """The composer stopped a document that would cost too much to expand."""

    def __init__(self, line: int, message: str) -> None:
        self.line = line
        self.message = message
        super().__init__(message)


class _Loader(CParser, Composer, SafeConstructor, Resolver):
    """libyaml's parser under PyYAML's composer: six times faster, and compose_node can still be hooked."""

    def __init__(self, stream: str) -> None:
        CParser.__init__(self, stream)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)

    def get_single_node(self) -> yaml.Node | None:
        """Compose in Python: libyaml's own composer would skip `compose_node`."""
        return Composer.get_single_node(self)


class _BoundedLoader(_Loader):
    """A safe loader whose composer refuses deep nesting and alias bombs as it goes.

    PyYAML's composer is recursive and shares one node per anchor, so counting here is cheap;
    the expansion only happens later, when the walker follows each alias, and by then the
    document is known to be small.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._written = 0  # nodes written out in the file (not reached through an alias)
        self._alias_nodes = 0
        # Anchors of the nodes being composed: an alias to one of them is a cycle.
        self._open: list[str] = []
        # Nodes of a subtree with its aliases expanded, by node identity; only for the subtrees
        # aliases reach, so a file without aliases costs nothing here.
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        """Compose one node, counting depth, alias references and what they expand to."""
        # Called once per node of the file (136,000 at 10,000 devices): one event lookup.
        event = self.peek_event()
        anchor = getattr(event, "anchor", None)
        if type(event) is yaml.AliasEvent:
            line = self._line()
            node = super().compose_node(parent, index)
            # An alias to a node still being composed (a cycle) counts as one; the walker's
            # depth limit stops the cycle.
            cycle = anchor in self._open
            self._alias_nodes += self._expanded(node) if node is not None and not cycle else 1
            cap = max(MAX_ALIAS_NODES, ALIAS_RATIO * self._written)
            if self._alias_nodes > cap:
                raise _Refused(line, f"aliases expand to more than {cap} values (an alias bomb?); write them out")
            return node
        self._depth += 1
        if self._depth > _MAX_DEPTH + 1:
            raise _Refused(self._line(), "document is nested too deeply")
        if anchor is not None:
            self._open.append(anchor)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
            if anchor is not None:
                self._open.pop()
        if node is not None:
            self._written += 1
        return node

    def _expanded(self, root: yaml.Node) -> int:
        """Return how many nodes `root` stands for with its aliases expanded (a cycle counts once)."""
        sizes = self._sizes
        # Depth first without recursion: a chain of anchors, each aliasing the last, runs deep.
        stack: list[tuple[yaml.Node, bool]] = [(root, False)]
        on_path: set[int] = set()
        while stack:
            node, children_done = stack.pop()
            key = id(node)
            if children_done:
                on_path.discard(key)
                sizes[key] = 1 + sum(sizes.get(id(child), 1) for child in _children(node))
            elif key not in sizes and key not in on_path:
                on_path.add(key)
                stack.append((node, True))
                stack.extend((child, False) for child in _children(node))
        return sizes[id(root)]

    def _line(self) -> int:
        event = self.peek_event()
        return event.start_mark.line + 1 if event is not None and event.start_mark is not None else 0


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


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
        return self._scalar(node)

    def _scalar(self, node: yaml.Node) -> Any:
        if node.tag == _STR_TAG:
            return node.value  # what the constructor would return, at a tenth of the cost
        try:
            return self._scalars.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as err:
            if node.tag == _MERGE_TAG:
                raise YamlSourceError(self._problem(node, "merge keys (<<) are not supported")) from None
            raise YamlSourceError(self._problem(node, f"invalid value: {err.problem}")) from None
        except (ValueError, OverflowError) as err:
            # A plain scalar that looks like a timestamp but is no date (2024-13-45).
            raise YamlSourceError(self._problem(node, f"invalid value: {err}")) from None

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlSourceError(self._problem(key_node, "a key must be a plain value"))
            key = self._scalar(key_node)
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
