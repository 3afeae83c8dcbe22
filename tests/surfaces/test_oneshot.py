"""`sasha ask`, `sasha history`, `sasha health` and `sasha routines` as processes against a live simulated home."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from sasha.mqtt.connection import MqttConnection, MqttSettings
from sasha.mqtt.mosquitto import Mosquitto
from sasha.planning.llm.scripted import ScriptedModel, common_prefix, estimate_tokens, prompt_text
from tests.conftest import EXAMPLE, Rig, clean_env, run_sasha


async def test_ask_exit_codes_json_and_yes(rig: Rig, tmp_path: Path) -> None:
    """Answer one request: done is 0, a held plan is 3, --yes runs it, and --json prints the reply."""
    common = ["--devices", str(EXAMPLE), "--mqtt-url", rig.broker.url, "--state-dir", str(tmp_path)]
    code, out, err = await run_sasha("ask", "turn on the office light", "--json", *common)
    assert code == 0, err
    reply = json.loads(out)
    assert (reply["status"], reply["actions"][0]["device"]) == ("done", "office_light")
    assert await rig.mirror.wait_for("office_light", {"power": "on"}, timeout=5)

    code, out, _ = await run_sasha("ask", "open the garage door", *common)
    assert code == 3
    assert "needs_confirmation" in out
    assert rig.simulator.values("garage_door")["position"] == 0

    code, out, _ = await run_sasha("ask", "open the garage door", "--yes", *common)
    assert code == 0
    assert await rig.mirror.wait_for("garage_door", {"position": 100}, timeout=5)

    code, out, _ = await run_sasha("ask", "make it cozy", *common)
    assert code == 1
    assert "No language model is configured" in out

    code, out, _ = await run_sasha("history", "--state-dir", str(tmp_path))
    assert code == 0
    assert "turn on the office light" in out
    assert out.count("cli") >= 4


async def test_ask_uses_the_model_from_the_environment(rig: Rig, scripted: ScriptedModel, tmp_path: Path) -> None:
    """Plan a goal with the model named by OPENAI_BASE_URL and SASHA_MODEL."""
    scripted.add(
        {
            "kind": "plan",
            "message": "Cozy.",
            "actions": [{"device": "living_room_lamp", "set": {"power": "on", "brightness": 20}, "reason": "warm"}],
        }
    )
    env = clean_env(OPENAI_BASE_URL=scripted.base_url, SASHA_MODEL="local")
    code, out, err = await run_sasha(
        "ask",
        "make it cozy",
        "--json",
        "--devices",
        str(EXAMPLE),
        "--mqtt-url",
        rig.broker.url,
        "--state-dir",
        str(tmp_path),
        env=env,
    )
    assert code == 0, err
    reply = json.loads(out)
    assert reply["usage"]["model_calls"] == 1
    assert scripted.requests[0]["model"] == "local"
    assert await rig.mirror.wait_for("living_room_lamp", {"brightness": 20}, timeout=5)


async def test_health(rig: Rig) -> None:
    """Exit 0 only while the daemon's status is online."""
    code, _, _ = await run_sasha("health", "--mqtt-url", rig.broker.url, "--devices", str(EXAMPLE))
    assert code == 1  # nobody announced online
    await rig.link.publish("sasha/status", b"online", retain=True, wait=5)
    code, _, _ = await run_sasha("health", "--mqtt-url", rig.broker.url, "--devices", str(EXAMPLE))
    assert code == 0


async def test_health_prints_exact_json_into_a_pipe(broker: Mosquitto) -> None:
    """Print the status and the counters as one exact JSON line, however long, when stdout is a pipe."""
    # Longer than any console width, with spaces a wrapping console would break the line at.
    counters = {f"counter_{n}": n for n in range(40)} | {"note": "a long value " * 30}
    async with MqttConnection(MqttSettings.from_url(broker.url)) as link:
        await link.wait_connected(5)
        await link.publish("sasha/status", b"online", retain=True, wait=5)
        await link.publish("sasha/stats", json.dumps(counters).encode(), retain=True, wait=5)
    code, out, err = await run_sasha("health", "--mqtt-url", broker.url)
    assert code == 0, err
    status, line = out.splitlines()
    assert status == "online"
    assert json.loads(line) == counters
    assert line == json.dumps(counters, ensure_ascii=False)


async def test_health_says_when_the_counters_are_not_json(broker: Mosquitto) -> None:
    """Print no counters line for a stats payload that is not a JSON object, and say so on stderr."""
    async with MqttConnection(MqttSettings.from_url(broker.url)) as link:
        await link.wait_connected(5)
        await link.publish("sasha/status", b"online\x1b[2J", retain=True, wait=5)
        await link.publish("sasha/stats", b"[1, 2", retain=True, wait=5)
    code, out, err = await run_sasha("health", "--mqtt-url", broker.url)
    assert code == 1  # the status is not exactly `online`
    assert out == "online?[2J\n"  # the terminal escape is not passed on
    assert "the counters on sasha/stats are not a JSON object" in err


async def test_routines_show_prints_yaml_that_loads_into_a_pipe(tmp_path: Path) -> None:
    """Print `sasha routines show` as YAML that loads again, even with a request longer than a console line."""
    request = "keep the hall lit " + "x" * 300
    (tmp_path / "routines.yaml").write_text(
        "routines:\n"
        f"- name: Hall light\n  created_from: {request}\n"
        "  trigger: {type: time, at: '07:00', days: weekdays}\n"
        "  actions: [{device: hallway_light, set: {power: 'on'}}]\n",
        encoding="utf-8",
    )
    code, out, err = await run_sasha(
        "routines", "show", "hall_light", "--devices", str(EXAMPLE), "--state-dir", str(tmp_path)
    )
    assert code == 0, err
    shown = yaml.safe_load(out)["routines"][0]
    assert shown["created_from"] == request
    assert shown["trigger"]["days"] == ["mon", "tue", "wed", "thu", "fri"]


async def test_two_asks_share_the_stable_start_and_history_shows_the_cache(rig: Rig, tmp_path: Path) -> None:
    """Run `sasha ask` twice as processes: the same system message both times, cached tokens in `sasha history`."""
    answer = {"kind": "answer", "message": "It is dim.", "actions": [], "routine": None}
    async with ScriptedModel([answer, answer], reports_cache="openai") as server:
        env = clean_env(OPENAI_BASE_URL=server.base_url, SASHA_MODEL="local")
        common = ["--devices", str(EXAMPLE), "--mqtt-url", rig.broker.url, "--state-dir", str(tmp_path)]
        for text in ("is it too dark in the lounge?", "is it too dark upstairs?"):
            code, _, err = await run_sasha("ask", text, *common, env=env)
            assert code == 0, err
    first, second = (r["messages"] for r in server.requests)
    assert first[0] == second[0]
    assert first[1] != second[1]
    code, out, _ = await run_sasha("history", "--state-dir", str(tmp_path))
    assert code == 0
    assert "cached" in out
    rows = [line for line in out.splitlines() if "too dark" in line]
    assert len(rows) == 2
    cached = estimate_tokens(prompt_text(first)[: common_prefix(prompt_text(first), prompt_text(second))])
    assert cached > 500
    assert str(cached) in rows[1]
