"""The documentation against the code: commands, flags, settings, links, and the README's shape."""

from __future__ import annotations

import itertools
import json
import os
import re
from pathlib import Path

import pytest

from sasha import config
from sasha.assistant import Reply
from sasha.home import inventory
from sasha.mqtt.connection import MqttSettings
from sasha.mqtt.mosquitto import Mosquitto
from sasha.planning.decision import parse_decision
from sasha.routines.routine import check
from sasha.routines.shapes import RoutineModel
from sasha.routines.store import parse
from sasha.scenarios.files import load
from sasha.scenarios.runner import run_scenario
from sasha.surfaces import daemon
from sasha.surfaces.cli import main
from sasha.understanding.answers import Answer, Answers
from sasha.understanding.intents import FastPath
from tests.conftest import EXAMPLE, ROOT

DESIGN = ROOT / "docs" / "design.md"
RUNNING = ROOT / "docs" / "running.md"
SECURITY = ROOT / "docs" / "security.md"
HOMEASSISTANT = ROOT / "docs" / "homeassistant.md"
README = ROOT / "README.md"
# docs/changes/ holds drafts waiting to be folded into design.md; they are not pages.
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]

# A fence opens with ``` and an info string without backticks (CommonMark), and closes with ```.
_FENCE = re.compile(r"^```[^`\n]*\n.*?^```", re.MULTILINE | re.DOTALL)
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*$", re.MULTILINE)
_FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z-]*|-[a-z])\b")


def _help(*args: str, capsys: pytest.CaptureFixture[str]) -> str:
    """Return what `sasha ARGS --help` prints."""
    with pytest.raises(SystemExit) as exited:
        main([*args, "--help"])
    assert exited.value.code == 0
    return capsys.readouterr().out


def commands(help_text: str) -> list[str]:
    """Return the sub-commands `sasha --help` lists (indented names under COMMAND)."""
    return re.findall(r"^ {4}([a-z]+)\b", help_text, re.MULTILINE)


def flags(help_text: str) -> set[str]:
    """Return the option strings a `--help` text names, without -h/--help."""
    return set(_FLAG.findall(help_text)) - {"-h", "--help"}


def prose(text: str) -> str:
    """Return Markdown without its fenced code blocks."""
    return _FENCE.sub("", text)


def example(section: str, language: str = "yaml") -> str:
    """Return the first fenced block of a language in a section of the design."""
    text = DESIGN.read_text(encoding="utf-8")
    start = text.index(f"\n{section}")
    found = re.search(rf"^```{language}\n(.*?)^```", text[start:], re.MULTILINE | re.DOTALL)
    assert found is not None, section
    return found.group(1)


def slug(heading: str) -> str:
    """Return the anchor GitHub gives a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def broken_links(page: Path, text: str) -> list[str]:
    """Return the relative links of a Markdown page that point at no file or no heading."""
    problems = []
    for target in _LINK.findall(prose(text)):
        if re.match(r"^[a-z]+:", target):
            continue  # https:, mailto: — not ours to check
        path_part, _, anchor = target.partition("#")
        path = (page.parent / path_part).resolve() if path_part else page
        if not path.exists():
            problems.append(f"{page.name}: {target} points at no file")
        elif anchor and path.suffix == ".md":
            anchors = {slug(h) for h in _HEADING.findall(prose(path.read_text(encoding="utf-8")))}
            if anchor not in anchors:
                problems.append(f"{page.name}: {target} points at no heading of {path.name}")
    return problems


def test_every_command_is_in_the_design(capsys: pytest.CaptureFixture[str]) -> None:
    """Name every sub-command of `sasha --help` in the design's command table."""
    listed = commands(_help(capsys=capsys))
    assert {"run", "ask", "scenario", "demo"} <= set(listed)
    design = DESIGN.read_text(encoding="utf-8")
    assert [c for c in listed if f"`sasha {c}" not in design] == []


def test_every_flag_is_in_the_design(capsys: pytest.CaptureFixture[str]) -> None:
    """Name every option of every command somewhere in the design."""
    top = _help(capsys=capsys)
    seen = flags(top)
    for command in commands(top):
        args = ["scenario", "run"] if command == "scenario" else [command]
        seen |= flags(_help(*args, capsys=capsys))
    assert {"--config", "--mqtt-url", "--max-model-calls", "--live", "-k"} <= seen
    design = DESIGN.read_text(encoding="utf-8")
    assert sorted(f for f in seen if not re.search(rf"(?<![\w-]){re.escape(f)}(?![\w-])", design)) == []


# The one setting without a flag, by design: a password on a command line is readable by every
# local user (`ps`), so it comes only from the environment, the config file or a password file.
NO_FLAG = {"mqtt_password"}


def test_every_setting_has_its_row() -> None:
    """Give every setting a row in the design's table with its config key, variable and flag."""
    sections = {"planner": config.PlannerSettings, "api": config.ApiSettings, "budget": config.BudgetSettings}
    keys = [k for k in config.Settings.model_fields if k not in sections]
    keys += [f"{name}.{k}" for name, model in sections.items() for k in model.model_fields]
    rows = [line for line in DESIGN.read_text(encoding="utf-8").splitlines() if line.startswith("|")]
    missing = []
    for key in keys:
        row = next((r for r in rows if f"| `{key}` |" in r), None)
        variable = config.ENVIRONMENT.get(key, "<no variable in config.ENVIRONMENT>")
        # A setting in NO_FLAG must have no flag in its row, and no flag on the command line.
        has_flag = row is not None and "`--" in row
        if row is None or f"`{variable}`" not in row or has_flag != (key not in NO_FLAG):
            missing.append(key)
    assert missing == []


def test_the_password_has_no_flag(capsys: pytest.CaptureFixture[str]) -> None:
    """Offer no flag that takes the broker password itself, on any command that connects."""
    for command in ["run", "sim", "plan", "health"]:
        assert "--mqtt-password " not in _help(command, capsys=capsys)
        assert "--mqtt-password-file" in _help(command, capsys=capsys)


def _between(text: str, start: str, end: str) -> str:
    """Return the text from `start` up to the next `end`, in one line (Markdown wraps sentences)."""
    found = re.search(rf"{re.escape(start)}(.*?){re.escape(end)}", " ".join(text.split()))
    assert found is not None, start
    return found.group(1)


def test_the_pages_name_the_credential_flags_each_command_has(capsys: pytest.CaptureFixture[str]) -> None:
    """Check running.md's and security.md's lists of who takes the credential flags and --mqtt-ca-file."""
    top = _help(capsys=capsys)
    helps = {c: _help(*(["scenario", "run"] if c == "scenario" else [c]), capsys=capsys) for c in commands(top)}
    credentials = {"--mqtt-ca-file", "--mqtt-username", "--mqtt-password-file", "--mqtt-cert", "--mqtt-key"}
    running = RUNNING.read_text(encoding="utf-8")
    named = set(re.findall(r"`(--[a-z-]+)`", _between(running, "The credential flags (", ")")))
    assert named == credentials
    connecting = set(re.findall(r"`([a-z]+)`", _between(running, "every command that connects (", ")")))
    assert all(credentials <= flags(helps[c]) for c in connecting)
    discover = _between(SECURITY.read_text(encoding="utf-8"), "It takes the credential flags", ", like")
    assert set(re.findall(r"`(--[a-z-]+)`", discover)) == credentials <= flags(helps["discover"])
    stands = _between(DESIGN.read_text(encoding="utf-8"), "`[credentials]` stands for", "(8.2)")
    assert set(re.findall(r"`(--[a-z-]+) [A-Z]+`", stands)) == credentials


def test_the_questions_said_to_need_no_model_are_answered_locally(home: inventory.Inventory) -> None:
    """Answer homeassistant.md's local questions on the fast path, and leave its model-only ones to the model."""
    fast = FastPath(home, answers=Answers(home, lambda device, capability: None))
    text = HOMEASSISTANT.read_text(encoding="utf-8")
    local, model_only = [], []
    for row in re.findall(r"^\| (\"[^|]*) \| ([^|]*) \|", text, re.MULTILINE):
        sentences = re.findall(r'"([^"]+)"', row[0])
        if row[1].startswith("answered locally"):
            local += sentences
        elif row[1] == "error: no model":
            model_only += sentences
    local += re.findall(r'"([^"…]+)"', _between(text, "The questions answered locally are", "The answer gives"))
    assert len(local) >= 10
    assert len(model_only) >= 4
    assert [s for s in local if not isinstance(fast.match(s), Answer)] == []
    assert [s for s in model_only if fast.match(s) is not None] == []


def test_the_documented_forms_of_days_load(home: inventory.Inventory) -> None:
    """Load a routine with each form of `days` that running.md and design.md 5.3 name."""
    forms = re.findall(r"`days: ([^`]+)`|`(\[[^`]+\])`", RUNNING.read_text(encoding="utf-8"))
    triggers = _between(DESIGN.read_text(encoding="utf-8"), "- Triggers:", '`{"type": "state"')
    words = re.findall(r"`([a-z]+)`", triggers)
    shown = [a or b for a, b in forms] + [f"[{w}]" for w in words] + words
    assert {"daily", "weekdays", "weekends", "everyday", "[mon, wed, fri]"} <= set(shown)
    for days in shown:
        text = f"routines:\n- name: R\n  trigger: {{type: time, at: '07:00', days: {days}}}\n"
        text += "  actions: [{device: hallway_light, set: {power: 'on'}}]\n"
        assert len(parse(text, "routines.yaml", home)) == 1, days


def test_links_point_at_files_and_headings() -> None:
    """Resolve every relative link of the README and docs/ to a file (and heading) that exists."""
    assert len(PAGES) >= 5
    problems = [p for page in PAGES for p in broken_links(page, page.read_text(encoding="utf-8"))]
    assert problems == []


def test_a_broken_link_is_found(tmp_path: Path) -> None:
    """Report a link to a missing file and one to a missing heading, and skip code blocks."""
    (tmp_path / "there.md").write_text("# A heading: here\n", encoding="utf-8")
    page = tmp_path / "page.md"
    text = "[a](missing.md) [b](there.md#a-heading-here) [c](there.md#nope) [d](https://x.y)\n```\n[e](gone.md)\n```\n"
    assert broken_links(page, text) == [
        "page.md: missing.md points at no file",
        "page.md: there.md#nope points at no heading of there.md",
    ]


def test_nothing_points_at_the_shared_design() -> None:
    """Keep every text file of the repository free of links outside it to the shared design."""
    needle = "../" + "shared/"  # split, so this file does not match itself
    skip = {"build", "dist", "__pycache__"}
    texts = {".py", ".md", ".yaml", ".yml", ".toml", ".txt", ".conf", ".cfg"}
    found = []
    for folder, subfolders, files in os.walk(ROOT):
        # Prune in place: .venv, .git and build output are not the repository's text.
        subfolders[:] = [d for d in subfolders if not (d in skip or d.startswith(".") or d.endswith(".egg-info"))]
        for name in files:
            path = Path(folder) / name
            if path.suffix not in texts and name not in {"Makefile", "Dockerfile"}:
                continue
            if needle in path.read_text(encoding="utf-8", errors="replace"):
                found.append(str(path.relative_to(ROOT)))
    assert found == []


def test_the_readme_starts_with_the_two_commands() -> None:
    """Open the README with `make demo` and `make test`, and keep it short enough to read to the end."""
    text = README.read_text(encoding="utf-8")
    first = _FENCE.search(text)
    assert first is not None
    lines = [line.split("#")[0].strip() for line in first.group(0).splitlines()[1:-1]]
    assert lines == ["make demo", "make test"]
    assert text.index(first.group(0)) < text.index("\n## ")
    assert len(text.splitlines()) < 200


def test_the_inventory_example_is_valid() -> None:
    """Load the design's inventory example as `sasha check` would."""
    home = inventory.from_yaml(example("## 2. Inventory"))
    assert home.devices["front_door"].sensitive


def test_the_routines_file_example_is_valid(home: inventory.Inventory) -> None:
    """Read the design's routines.yaml example against the example home."""
    routines = parse(example("### 5.3 The routine object"), "routines.yaml", home)
    assert [r.id for r in routines] == ["bathroom_fan_on_when_humid"]


def test_the_model_answer_examples_are_valid(home: inventory.Inventory) -> None:
    """Read the design's decision example and check its routine example against the example home."""
    # The example spells out every kind where one goes; any one of them makes it an answer.
    shown = example("### 5.2 The decision object", "json").replace(
        "plan | routine | clarify | answer | infeasible", "plan"
    )
    decision = parse_decision(shown)
    assert decision.kind == "plan"
    assert decision.actions[0].device == "living_room_lamp"
    routine, problems = check(home, RoutineModel.model_validate(json.loads(example("### 5.3", "json"))))
    assert problems == []
    assert routine is not None


def test_the_reply_example_has_the_replys_fields() -> None:
    """Give the design's reply example exactly the fields a reply has, usage included."""
    shown = json.loads(example("## 6. MQTT API", "json"))
    made = Reply("done", "x").to_json()
    assert shown.keys() == made.keys()
    assert shown["usage"].keys() == made["usage"].keys()
    assert shown["actions"][0].keys() == {"device", "set", "reason", "result", "error", "confirmation"}


def test_the_config_example_is_valid(tmp_path: Path) -> None:
    """Load the design's config file example."""
    path = tmp_path / "settings.yaml"
    path.write_text(example("### 8.2 Settings"), encoding="utf-8")
    settings = config.load({}, environ={}, config_file=path)
    assert settings.mqtt().tls
    assert settings.planner.max_devices_in_prompt == 60


def test_the_reply_while_stopping_is_quoted_as_sent() -> None:
    """Quote the `busy` reply of a stopping daemon word for word."""
    assert daemon._STOPPING in DESIGN.read_text(encoding="utf-8")


async def test_the_scenario_example_passes(tmp_path: Path, broker: Mosquitto) -> None:
    """Play the design's scenario example against the example home."""
    text = example("## 7. Scenario files").replace("../../../devices.yaml", str(EXAMPLE))
    path = tmp_path / "example.yaml"
    path.write_text(text, encoding="utf-8")
    result = await run_scenario(load(path), MqttSettings.from_url(broker.url))
    assert result.passed, result.failures
    assert result.steps == 3


def test_the_discovery_safety_words_are_the_ones_the_code_uses() -> None:
    """Name, in design.md section 9, every word that makes a discovered device sensitive or harmless."""
    from sasha.discovery import safety

    tokens = re.findall(r"[a-z]+", _between(DESIGN.read_text(encoding="utf-8"), "**Sensitive.**", "**Bridges"))
    said = set(tokens) | {f"{a} {b}" for a, b in itertools.pairwise(tokens)}
    words = set().union(*(rule.words | rule.not_after for rule in safety._RULES), safety._HARMLESS)
    # "and their plurals": a plural is said by its singular.
    unsaid = {w for w in words if w not in said and w.removesuffix("s") not in said}
    assert not unsaid


def test_every_row_of_the_security_model_names_tests_that_exist() -> None:
    """Name at least one test in every row of security.md's model table, each a test function that exists."""
    text = SECURITY.read_text(encoding="utf-8")
    table = text[text.index("| who | may | may not | enforced where | test |") :].split("\n\n", 1)[0]
    rows = table.splitlines()[2:]
    assert len(rows) >= 10
    for row in rows:
        named = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", row.rsplit("|", 2)[-2])
        assert named, row
        for path, name in named:
            source = (ROOT / path).read_text(encoding="utf-8")
            assert re.search(rf"^(async )?def {name}\(", source, re.MULTILINE), f"{path}::{name}"
