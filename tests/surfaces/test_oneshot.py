"""`sasha ask`, `sasha history` and `sasha health` as processes against a live simulated home."""

from __future__ import annotations

import json
from pathlib import Path

from sasha.planning.llm.scripted import ScriptedModel
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
