"""The command line: `sasha check`, settings precedence, and the console script."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sasha import config
from sasha.errors import ConfigError
from sasha.executor import Executor
from sasha.home.actions import Action
from sasha.home.inventory import Inventory
from sasha.mqtt.connection import MqttSettings
from sasha.mqtt.mosquitto import Mosquitto
from sasha.state import StateMirror
from sasha.surfaces.cli import main
from tests.conftest import EXAMPLE, ROOT, fast


def test_check_prints_the_home(capsys: pytest.CaptureFixture[str]) -> None:
    """Print every device with its room, protocol and capabilities."""
    assert main(["check", "--devices", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "39 devices in 9 rooms" in out
    assert "front_door" in out
    assert "target_temperature 5-30°C step 0.5" in out
    assert "zigbee2mqtt" in out


def test_check_reports_problems_by_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Print `file:line: problem` for each problem and exit 1."""
    broken = tmp_path / "devices.yaml"
    text = EXAMPLE.read_text().replace("room: kitchen\n    type: oven", "room: cellar\n    type: oven")
    broken.write_text(text.replace("brightness: {min: 5, max: 100}", "brightness: {min: 5, max: 120}"))
    assert main(["check", "--devices", str(broken)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert any(line.startswith(f"{broken}:") and "unknown room 'cellar'" in line for line in err)
    assert any("bathroom_light': brightness.max 120 is above 100" in line for line in err)


def test_check_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Say the file cannot be read."""
    assert main(["check", "--devices", str(tmp_path / "none.yaml")]) == 1
    assert "cannot read file" in capsys.readouterr().err


def test_console_script() -> None:
    """Run the installed `sasha` entry point."""
    done = subprocess.run(
        [sys.executable, "-m", "sasha", "check", "--devices", str(EXAMPLE)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert "Demo home" in done.stdout


def test_settings_precedence(tmp_path: Path) -> None:
    """Let flags beat the environment, and the environment beat the file."""
    file = tmp_path / "sasha.yaml"
    file.write_text("devices: from-file.yaml\nmodel: file-model\nconfirm: always\n")
    environ = {"SASHA_MODEL": "env-model", "SASHA_CONFIRM": "never"}
    settings = config.load({"confirm": "sensitive", "devices": None}, environ=environ, config_file=file)
    assert settings.devices == Path("from-file.yaml")
    assert settings.model == "env-model"
    assert settings.confirm == "sensitive"
    assert config.load(environ={}).mqtt_url == "mqtt://localhost:1883"
    assert config.load(environ={"SASHA_CONFIG": str(file)}).model == "file-model"


def test_settings_errors_name_the_line(tmp_path: Path) -> None:
    """Report a bad setting in the file with its line."""
    file = tmp_path / "sasha.yaml"
    file.write_text("model: x\nconfirm: sometimes\n")
    with pytest.raises(ConfigError, match=r"sasha\.yaml:2: confirm"):
        config.load(environ={}, config_file=file)
    file.write_text("modle: x\n")
    with pytest.raises(ConfigError, match=r"sasha\.yaml:1: modle: unknown setting"):
        config.load(environ={}, config_file=file)


def test_settings_hide_the_mqtt_password() -> None:
    """Keep the password out of the settings' repr and out of URL errors."""
    settings = config.load(environ={"SASHA_MQTT_URL": "mqtt://u:hunter2@broker:1883"})
    assert "hunter2" not in repr(settings)
    assert settings.mqtt().password == "hunter2"
    with pytest.raises(ConfigError) as caught:
        config.load(environ={"SASHA_MQTT_URL": "http://u:hunter2@broker"})
    assert "hunter2" not in str(caught.value)


async def test_sim_command_runs_the_home(broker: Mosquitto, home: Inventory) -> None:
    """Run `sasha sim` as a process: it answers commands and stops cleanly on SIGTERM."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sasha", "sim", "--mqtt-url", broker.url, "--devices", str(EXAMPLE), cwd=ROOT
    )
    try:
        mirror = StateMirror(home)
        async with fast(MqttSettings.from_url(broker.url)) as link:
            await mirror.attach(link)
            assert await mirror.wait_for("front_door", {"lock": "locked"}, timeout=10)
            executor = Executor(home, link, mirror)
            await executor.execute([Action("garage_door", {"position": 100})])
            assert await mirror.wait_for("garage_door", {"position": 100}, timeout=5)
    finally:
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            assert await process.wait() == 0


def test_demo_runs_with_no_broker_and_no_model() -> None:
    """Run `sasha demo` with nothing set up: embedded broker, simulated home, the chat's tour."""
    done = subprocess.run(
        [sys.executable, "-m", "sasha", "demo"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SASHA_"))},
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "Embedded MQTT broker at mqtt://127.0.0.1:" in out
    assert "Done. Living room lamp on." in out
    assert "Done. Bedroom light, Bedside lamp, Bathroom light and Office light off." in out
    assert "Done. Kitchen light on; Living room lamp off." in out
    assert "The temperature in the Bedroom: " in out
    assert "Yes, the Front door lock is locked." in out
    assert "Done. Television volume 30 %." in out
    assert "Which fan do you mean: Ceiling fan, Bathroom fan?" in out
    assert "Done. Ceiling fan on, fan speed 40 %." in out
    assert "Done. Front door lock locked." in out
    assert "I would set: Garage door open. Shall I go ahead? (sensitive: Garage door)" in out
    assert out.count("No language model is configured") == 2  # once at start, once for the goal
    assert "Restored the previous state." in out


def test_planner_settings_have_flags(tmp_path: Path) -> None:
    """Let a flag beat the environment for a nested planner setting too."""
    environ = {"SASHA_MODEL_TIMEOUT": "12", "SASHA_MAX_DEVICES_IN_PROMPT": "30"}
    settings = config.load({"planner.timeout": 3.5, "planner.prompts_dir": tmp_path}, environ=environ)
    assert settings.planner.timeout == 3.5
    assert settings.planner.max_devices_in_prompt == 30
    assert settings.planner.prompts_dir == tmp_path


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    """Describe every command in `sasha --help`, and each command's own flags."""
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("run", "sim", "chat", "ask", "check", "scenario", "routines", "history", "demo", "plan"):
        assert command in out
    with pytest.raises(SystemExit):
        main(["ask", "--help"])
    assert "--max-devices-in-prompt" in capsys.readouterr().out


def test_deadline_and_token_bounds_are_settings(tmp_path: Path) -> None:
    """Read the request deadline and the per-kind token bounds from the file, the environment and flags."""
    file = tmp_path / "sasha.yaml"
    file.write_text("planner:\n  deadline: 45\n  max_tokens_select: 200\n", encoding="utf-8")
    environ = {"SASHA_MODEL_DEADLINE": "60", "SASHA_MAX_TOKENS_PLAN": "500", "OPENAI_BASE_URL": "http://x/v1"}
    settings = config.load({"planner.max_tokens_rooms": 90}, environ=environ, config_file=file)
    assert settings.planner.deadline == 60
    model = settings.model_settings(environ)
    assert model is not None
    assert (model.deadline, model.max_tokens("plan"), model.max_tokens("select"), model.max_tokens("rooms")) == (
        60,
        500,
        200,
        90,
    )
    assert config.load(environ={}).planner.deadline == 90
