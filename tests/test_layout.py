"""The package layout's import rules, checked by reading every module's imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

# Lower layers never import higher ones; a layer may import itself and anything below it.
# The order is the request's path: the home model, wire formats, the broker, the request path's
# core, routines and planning, understanding and policy, the assistant, then what runs it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("sasha", "sasha.errors", "sasha.jsonlimit", "sasha.ports"),
    ("sasha.home",),
    ("sasha.adapters",),
    ("sasha.mqtt",),
    ("sasha.discovery",),
    ("sasha.state", "sasha.executor", "sasha.history"),
    ("sasha.routines",),
    ("sasha.planning",),
    ("sasha.understanding", "sasha.policy"),
    ("sasha.assistant", "sasha.config"),
    ("sasha.sim",),
    ("sasha.scenarios",),
    ("sasha.surfaces", "sasha.__main__"),
)
# Narrower rules inside a layer: these may import only what is listed (and themselves).
ONLY: dict[str, tuple[str, ...]] = {
    "sasha.home": ("sasha.errors",),
    "sasha.adapters": ("sasha.home", "sasha.errors", "sasha.jsonlimit"),
    "sasha.mqtt": ("sasha.errors", "sasha.ports"),
    # jsonlimit: Home Assistant's inventory is one large JSON document from the network.
    "sasha.discovery": ("sasha.home", "sasha.adapters", "sasha.mqtt", "sasha.errors", "sasha.jsonlimit"),
    "sasha.planning.llm": ("sasha.errors", "sasha.home", "sasha.ports"),
    # Understanding reads text against the home; the state it answers from is handed to it.
    "sasha.understanding": ("sasha.home", "sasha.errors"),
}
# Pure packages compute; they never touch the network, the event loop or a database.
PURE = (
    "sasha.home",
    "sasha.adapters",
    "sasha.routines.shapes",
    "sasha.planning.decision",
    # Local understanding reads text against the inventory and the readings it is handed.
    "sasha.understanding",
    # Topic filters as values; the connection that subscribes them is apart.
    "sasha.mqtt.topics",
    # Discovery parses, assembles, merges and renders without I/O; only `listen` talks to the broker.
    "sasha.discovery.found",
    "sasha.discovery.abbreviations",
    "sasha.discovery.homeassistant",
    "sasha.discovery.hass",
    "sasha.discovery.zigbee2mqtt",
    "sasha.discovery.tasmota",
    "sasha.discovery.assemble",
    "sasha.discovery.merge",
    "sasha.discovery.safety",
    "sasha.discovery.render",
    "sasha.discovery.build",
)
IO_LIBRARIES = ("asyncio", "aiomqtt", "paho", "openai", "aiohttp", "socket", "sqlite3", "subprocess", "amqtt")


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _layer(module: str) -> int:
    best, index = -1, -1
    for i, group in enumerate(LAYERS):
        for package in group:
            # The root package holds only the version; its name prefixes everything else.
            matches = module == package if package == "sasha" else _within(module, package)
            if matches and len(package) > best:
                best, index = len(package), i
    if index < 0:
        raise LookupError(f"{module} is in no layer: add it to LAYERS")
    return index


def imported(source: str) -> list[str]:
    """Return every module a source imports, at any depth (TYPE_CHECKING and function bodies too)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
            # `from sasha.planning import prompts` imports the module sasha.planning.prompts.
            found.extend(f"{node.module}.{alias.name}" for alias in node.names if node.module.startswith("sasha"))
    return found


def violations(module: str, source: str) -> list[str]:
    """Return the import rules a module's source breaks."""
    problems = []
    own = _layer(module)
    for target in imported(source):
        if target == "sasha":
            continue  # `from sasha import x` names the module sasha.x, checked on its own
        if _within(target, "sasha"):
            try:
                layer = _layer(target)
            except LookupError:
                continue  # `from sasha.x import Name`: the name is not a module
            if layer > own:
                problems.append(f"{module} imports {target}, which is above it")
            for package, allowed in ONLY.items():
                if _within(module, package) and not any(_within(target, p) for p in (package, *allowed)):
                    problems.append(f"{module} imports {target}; {package} may import only {', '.join(allowed)}")
        elif any(_within(module, p) for p in PURE) and target.split(".")[0] in IO_LIBRARIES:
            problems.append(f"{module} imports {target}, but it is pure")
    return problems


def _modules() -> list[tuple[str, Path]]:
    modules = []
    for path in sorted((ROOT / "sasha").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules.append((name, path))
    return modules


def test_every_module_keeps_the_import_rules() -> None:
    """Check every module of the package against the layers and the narrower rules."""
    modules = _modules()
    assert len(modules) > 50
    problems = [p for name, path in modules for p in violations(name, path.read_text(encoding="utf-8"))]
    assert problems == []


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("sasha.home.inventory", "from sasha.mqtt.connection import MqttConnection", "above it"),
        ("sasha.home.inventory", "from sasha.planning import prompts", "above it"),
        ("sasha.routines.engine", "from sasha.planning.planner import Planner", "above it"),
        ("sasha.planning.planner", "from sasha.surfaces.render import describe", "above it"),
        ("sasha.adapters.generic", "import asyncio", "pure"),
        ("sasha.adapters.generic", "from sasha.mqtt.connection import Incoming", "may import only"),
        ("sasha.mqtt.connection", "from sasha.home.inventory import Inventory", "may import only"),
        ("sasha.planning.llm.client", "from sasha.planning.planner import Planner", "may import only"),
        ("sasha.executor", "if TYPE_CHECKING:\n    from sasha.assistant import Assistant", "above it"),
        ("sasha.state", "def f():\n    from sasha.sim import simulator", "above it"),
        ("sasha.discovery.homeassistant", "import asyncio", "pure"),
        ("sasha.discovery.listen", "from sasha.executor import Executor", "above it"),
        ("sasha.discovery.merge", "from sasha.planning.planner import Planner", "above it"),
        ("sasha.understanding.intents", "import asyncio", "pure"),
        ("sasha.understanding.answers", "from sasha.state import StateMirror", "may import only"),
    ],
)
def test_a_broken_rule_is_found(module: str, source: str, expected: str) -> None:
    """Report an import that breaks a rule, wherever in the module it sits."""
    found = violations(module, source)
    assert any(expected in problem for problem in found), found


def test_allowed_imports_pass() -> None:
    """Accept imports downwards and within a layer."""
    assert violations("sasha.surfaces.cli", "from sasha.assistant import Assistant\nimport asyncio") == []
    assert violations("sasha.executor", "from sasha.state import StateMirror") == []
    assert violations("sasha.adapters.tasmota", "from sasha.home.inventory import Device") == []


def test_the_top_of_the_package_stays_small() -> None:
    """Keep at most ten modules at the top of sasha/: the rest live in packages named by concept."""
    top = sorted(path.name for path in (ROOT / "sasha").glob("*.py"))
    assert len(top) <= 10, top


def test_a_module_outside_every_layer_is_named() -> None:
    """Refuse a new top-level module until it is given a layer."""
    with pytest.raises(LookupError, match=r"sasha\.newthing"):
        violations("sasha.newthing", "")
