"""The scenario suite (one test per file), the live mode, and broken scenario files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sasha.mqtt.connection import MqttSettings
from sasha.mqtt.mosquitto import Mosquitto
from sasha.planning.llm.scripted import ScriptedModel
from sasha.scenarios.files import ScenarioError, discover, load
from sasha.scenarios.runner import run_scenario
from tests.conftest import ROOT, clean_env, run_sasha

SUITE = ROOT / "tests" / "scenarios"
FILES = discover([SUITE])


def test_the_suite_is_as_large_as_promised() -> None:
    """Keep at least 40 scenarios over three homes of different sizes."""
    assert len(FILES) >= 40
    homes = {len(load(path).home) for path in FILES}
    assert min(homes) <= 10
    assert max(homes) >= 150
    assert 39 in homes


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(SUITE)) for p in FILES])
async def test_scenario(broker: Mosquitto, path: Path) -> None:
    """Play one scenario against mosquitto, the simulator and the scripted model."""
    result = await run_scenario(load(path), MqttSettings.from_url(broker.url))
    assert result.passed, "\n".join(result.failures)


LIVE = """\
name: live cozy
home: {home}
steps:
  - say: make it cozy
    model:
      # Ignored with --live: if this answer were used, the lamp would stay off.
      - {{kind: infeasible, message: "cannot", actions: []}}
    expect:
      state: {{living_room_lamp: {{power: "on", brightness: 30}}}}
      unchanged: [front_door]
      status: infeasible
"""


async def test_live_mode_uses_the_configured_model(broker: Mosquitto, tmp_path: Path) -> None:
    """Run --live against a model given by OPENAI_BASE_URL, ignoring the file's scripted answers."""
    scenario = tmp_path / "live.yaml"
    scenario.write_text(LIVE.format(home=ROOT / "devices.yaml"))
    report = tmp_path / "report.json"
    plan = {
        "kind": "plan",
        "message": "Warm light.",
        "actions": [{"device": "living_room_lamp", "set": {"power": "on", "brightness": 30}, "reason": "cozy"}],
    }
    async with ScriptedModel([plan], model="my-local-model") as server:
        env = clean_env(OPENAI_BASE_URL=server.base_url, SASHA_MODEL="my-local-model")
        args = ("scenario", "run", str(scenario), "--live", "--json", str(report), "--mqtt-url", broker.url)
        code, out, _ = await run_sasha(*args, env=env)
        assert code == 0, out
        assert server.calls == 1
        assert server.requests[0]["model"] == "my-local-model"
    data = json.loads(report.read_text())
    assert data["live"] is True
    assert data["scenarios"][0]["passed"] is True
    assert data["scenarios"][0]["model_calls"] == 1
    assert "1/1 scenarios passed (100 %, live model)" in " ".join(out.split())


async def test_scenarios_run_outside_the_repository(broker: Mosquitto, tmp_path: Path) -> None:
    """Run a scenario folder from a directory with no devices.yaml: each scenario names its home."""
    assert not (tmp_path / "devices.yaml").exists()
    code, out, err = await run_sasha("scenario", "run", str(SUITE / "studio"), "--mqtt-url", broker.url, cwd=tmp_path)
    assert code == 0, out + err
    assert "devices.yaml" not in err
    assert "scenarios passed (100 %" in " ".join(out.split())


async def test_live_mode_without_a_model(tmp_path: Path) -> None:
    """Refuse --live when no model is configured."""
    code, out, _ = await run_sasha("scenario", "run", str(FILES[0]), "--live")
    assert code == 2
    assert "--live needs a model" in out


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("name: x\nhome: ../nowhere.yaml\nsteps: []\n", 2, "cannot read file"),
        ("name: x\nhome: {home}\nsteps:\n  - say: hi\n    advance: 3\n", 4, "exactly one of say, set or advance"),
        ("name: x\nhome: {home}\nsteps:\n  - set: {{ghost: {{power: 'on'}}}}\n", 4, "no device 'ghost'"),
        ("name: x\nhome: {home}\nsteps:\n  - say: hi\n    expect: {{stat: done}}\n", 5, "extra inputs"),
        ("name: x\nhome: {home}\nsteps: [\n", 4, "invalid YAML"),
        ("home: {home}\nsteps: []\n", 1, "name: field required"),
    ],
)
def test_broken_scenario_files_name_the_line(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    """Report a broken scenario as `file:line: problem`."""
    path = tmp_path / "broken.yaml"
    path.write_text(text.format(home=ROOT / "devices.yaml"))
    with pytest.raises(ScenarioError) as caught:
        load(path)
    problems = caught.value.problems
    assert any(p.line == line and fragment.lower() in p.message.lower() for p in problems), [str(p) for p in problems]
