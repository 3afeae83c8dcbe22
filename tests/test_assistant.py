"""The assistant end to end: fast path without the model, policy, confirmation, undo, audit."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sasha.assistant import Assistant
from sasha.history.audit import AuditLog
from sasha.planning.llm.client import ModelClient
from sasha.planning.llm.scripted import ScriptedModel
from sasha.planning.planner import Planner
from sasha.policy import ConfirmMode
from tests.conftest import Rig, model_settings


@dataclass
class Home:
    """An assistant on the simulated home, with the scripted model behind its planner."""

    rig: Rig
    model: ScriptedModel
    assistant: Assistant
    audit: AuditLog
    now: list[float]

    def state(self, device: str) -> dict[str, Any]:
        """Return what the simulated device holds."""
        return self.rig.simulator.values(device)


async def _home(rig: Rig, scripted: ScriptedModel, tmp_path: Path, confirm: ConfirmMode) -> AsyncIterator[Home]:
    client = ModelClient(model_settings(scripted))
    planner = Planner(rig.home, client, state=rig.mirror.snapshot)
    audit = AuditLog(tmp_path / "audit.db")
    now = [1000.0]
    assistant = Assistant(rig.home, rig.executor, planner, confirm=confirm, audit=audit, clock=lambda: now[0])
    try:
        yield Home(rig, scripted, assistant, audit, now)
    finally:
        await client.close()
        audit.close()


@pytest.fixture
async def home_(rig: Rig, scripted: ScriptedModel, tmp_path: Path) -> AsyncIterator[Home]:
    """Run the assistant with the default policy (sensitive devices wait for a yes)."""
    async for value in _home(rig, scripted, tmp_path, ConfirmMode.SENSITIVE):
        yield value


EXPLICIT = [
    ("turn on the living room lamp", {"living_room_lamp": {"power": "on"}}),
    ("turn off the reading lamp", {"living_room_lamp": {"power": "off"}}),
    ("switch on the ceiling light", {"living_room_ceiling": {"power": "on"}}),
    ("set the living room lamp to 30%", {"living_room_lamp": {"brightness": 30, "power": "on"}}),
    ("set the bedroom light brightness to 40 percent", {"bedroom_light": {"brightness": 40}}),
    ("set the ceiling light to red", {"living_room_ceiling": {"color": "#ff0000"}}),
    ("set the tv backlight to blue", {"living_room_led_strip": {"color": "#0000ff"}}),
    (
        "turn off the lights in the living room",
        {"living_room_lamp": {"power": "off"}, "living_room_led_strip": {"power": "off"}},
    ),
    ("turn on the kitchen light", {"kitchen_light": {"power": "on"}}),
    ("set the bedroom temperature to 19 degrees", {"bedroom_heater": {"target_temperature": 19}}),
    ("set the living room thermostat to 21.5", {"living_room_thermostat": {"target_temperature": 21.5}}),
    ("set the air conditioner to 22 degrees", {"office_air_conditioner": {"target_temperature": 22}}),
    ("close the curtains", {"bedroom_curtains": {"position": 0}}),
    ("open the curtains", {"bedroom_curtains": {"position": 100}}),
    ("open the living room blinds to 40%", {"living_room_blinds": {"position": 40}}),
    ("close the living room blinds", {"living_room_blinds": {"position": 0}}),
    ("set the curtains to 50%", {"bedroom_curtains": {"position": 50}}),
    ("turn on the ceiling fan", {"bedroom_fan": {"power": "on"}}),
    ("set the ceiling fan speed to 30%", {"bedroom_fan": {"fan_speed": 30}}),
    ("turn on the extractor fan", {"bathroom_fan": {"power": "on"}}),
    ("turn off the bathroom fan", {"bathroom_fan": {"power": "off"}}),
    ("set the television volume to 25", {"living_room_tv": {"volume": 25}}),
    ("set the bedroom speaker volume to 10", {"bedroom_speaker": {"volume": 10}}),
    ("pause the television", {"living_room_tv": {"playback": "paused"}}),
    ("resume the bedroom speaker", {"bedroom_speaker": {"playback": "playing"}}),
    ("turn on the garage light", {"garage_light": {"power": "on"}}),
    ("turn on the garden lights", {"garden_lights": {"power": "on"}}),
    ("turn on the kettle", {"kitchen_kettle_plug": {"power": "on"}}),
    ("turn on the desk plug", {"office_plug": {"power": "on"}}),
    ("set the hallway light to 70%", {"hallway_light": {"brightness": 70, "power": "on"}}),
    ("turn on the bedside lamp", {"bedroom_bedside_lamp": {"power": "on"}}),
    ("turn on the heater", {"bedroom_heater": {"power": "on"}}),
    ("Turn ON the Office Light!", {"office_light": {"power": "on"}}),
    ("set the office light color temperature to 4000 kelvin", {"office_light": {"color_temp": 4000}}),
    ("set the color temperature of the bedroom light to warm white", {"bedroom_light": {"color_temp": 2700}}),
]


async def test_explicit_commands_need_no_model(home_: Home) -> None:
    """Run 30+ explicit commands locally: devices change and the model is never called."""
    assert len(EXPLICIT) >= 30
    for text, expected in EXPLICIT:
        reply = await home_.assistant.handle(text)
        assert reply.status == "done", (text, reply)
        assert reply.path == "fast"
        for device, values in expected.items():
            assert await home_.rig.mirror.wait_for(device, values, timeout=5), (text, device)
    assert home_.model.calls == 0


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("turn off the light", "Which light"),
        ("turn on the fan", "Ceiling fan, Bathroom fan"),
        ("switch off the lamp", "Which lamp"),
    ],
)
async def test_ambiguous_commands_ask_and_do_nothing(rig: Rig, text: str, fragment: str) -> None:
    """Ask which device rather than guess, with no model configured, and act on nothing."""
    assistant = Assistant(rig.home, rig.executor, Planner(rig.home, None, state=rig.mirror.snapshot))
    before = rig.mirror.snapshot()
    reply = await assistant.handle(text)
    assert (reply.status, reply.actions) == ("clarify", ())
    assert fragment in reply.message
    assert rig.mirror.snapshot() == before


async def test_ambiguous_commands_go_to_the_model_when_there_is_one(home_: Home) -> None:
    """Let the planner resolve "turn off the light" when a model is configured."""
    home_.model.add({"kind": "clarify", "message": "Which room?", "actions": []})
    reply = await home_.assistant.handle("turn off the light")
    assert (reply.status, reply.path, home_.model.calls) == ("clarify", "model", 1)


async def test_impossible_explicit_command_is_refused(home_: Home) -> None:
    """Refuse "set the bathroom fan speed" (it has no speed) without acting or calling the model."""
    reply = await home_.assistant.handle("set the bathroom fan speed to 50%")
    assert reply.status == "infeasible"
    assert "cannot do that" in reply.message
    assert home_.model.calls == 0


async def test_goals_go_to_the_model(home_: Home) -> None:
    """Send what the fast path does not match to the planner."""
    home_.model.add(
        {
            "kind": "plan",
            "message": "Cozy.",
            "actions": [{"device": "living_room_lamp", "set": {"power": "on", "brightness": 25}, "reason": "warm"}],
        }
    )
    reply = await home_.assistant.handle("make it cozy")
    assert (reply.status, reply.path, home_.model.calls) == ("done", "model", 1)
    assert await home_.rig.mirror.wait_for("living_room_lamp", {"brightness": 25}, timeout=5)
    assert reply.to_json()["usage"]["model_calls"] == 1


async def test_sensitive_devices_wait_for_a_yes(home_: Home) -> None:
    """Hold "unlock the front door" until confirmed, whoever proposed it."""
    reply = await home_.assistant.handle("unlock the front door")
    assert reply.status == "needs_confirmation"
    assert reply.confirm_token
    assert [a.result for a in reply.actions] == ["skipped"]
    assert home_.state("front_door")["lock"] == "locked"
    done = await home_.assistant.confirm(reply.confirm_token, approve=True)
    assert done.status == "done"
    assert await home_.rig.mirror.wait_for("front_door", {"lock": "unlocked"}, timeout=5)
    # The same token cannot be used twice.
    again = await home_.assistant.confirm(reply.confirm_token, approve=True)
    assert again.status == "rejected"


async def test_a_model_plan_with_a_sensitive_device_waits_too(home_: Home) -> None:
    """Hold a model's plan that opens the garage; a no leaves it shut."""
    home_.model.add(
        {
            "kind": "plan",
            "message": "Opening up.",
            "actions": [{"device": "garage_door", "set": {"position": 100}, "reason": "car"}],
        }
    )
    reply = await home_.assistant.handle("I'm leaving with the car")
    assert reply.status == "needs_confirmation"
    declined = await home_.assistant.handle("no")
    assert declined.status == "done"
    assert "left everything" in declined.message
    assert home_.state("garage_door")["position"] == 0


async def test_confirmation_expires(home_: Home) -> None:
    """Refuse a confirmation that comes after the token expired."""
    reply = await home_.assistant.handle("open the garage door")
    assert reply.confirm_token is not None
    home_.now[0] += 121
    late = await home_.assistant.confirm(reply.confirm_token, approve=True)
    assert late.status == "rejected"
    assert "expired" in late.message
    assert home_.state("garage_door")["position"] == 0


async def test_review_mode_holds_every_plan(rig: Rig, scripted: ScriptedModel, tmp_path: Path) -> None:
    """In `confirm: always` even a lamp waits, and "yes" in the conversation runs it."""
    async for home in _home(rig, scripted, tmp_path, ConfirmMode.ALWAYS):
        reply = await home.assistant.handle("turn on the living room lamp", conversation="r")
        assert reply.status == "needs_confirmation"
        assert home.state("living_room_lamp")["power"] == "off"
        yes = await home.assistant.handle("yes", conversation="r")
        assert yes.status == "done"
        assert await home.rig.mirror.wait_for("living_room_lamp", {"power": "on"}, timeout=5)


async def test_undo_restores_the_last_plan(home_: Home) -> None:
    """Put back what the last request changed, by saying "undo"."""
    await home_.assistant.handle("set the living room lamp to 30%")
    assert await home_.rig.mirror.wait_for("living_room_lamp", {"brightness": 30, "power": "on"}, timeout=5)
    reply = await home_.assistant.handle("undo")
    assert (reply.status, reply.path) == ("done", "undo")
    assert await home_.rig.mirror.wait_for("living_room_lamp", {"brightness": 80, "power": "off"}, timeout=5)
    nothing = await home_.assistant.handle("undo")
    assert nothing.status == "infeasible"


async def test_undo_says_what_the_devices_did_not_confirm(home_: Home) -> None:
    """Undo a change to a lamp that has gone silent: the reply says it did not confirm, not that all is restored."""
    await home_.assistant.handle("set the living room lamp to 30%")
    assert await home_.rig.mirror.wait_for("living_room_lamp", {"brightness": 30, "power": "on"}, timeout=5)
    home_.rig.simulator.silent = frozenset({"living_room_lamp"})
    home_.assistant.confirm_wait = 0.3
    reply = await home_.assistant.handle("undo")
    assert (reply.status, reply.path) == ("done", "undo")
    assert [a.confirmation for a in reply.actions] == ["unconfirmed"]
    assert reply.message.startswith("Restored the previous state. "), reply.message
    assert "did not confirm" in reply.message, reply.message


async def test_undoing_a_sensitive_change_needs_a_yes(home_: Home) -> None:
    """Ask before undo unlocks anything; undo that re-locks runs at once (the safe direction)."""
    home_.rig.simulator.set_values("front_door", {"lock": "unlocked"})
    assert await home_.rig.mirror.wait_for("front_door", {"lock": "unlocked"}, timeout=5)
    locked = await home_.assistant.handle("lock the front door")
    assert locked.status == "done"
    assert await home_.rig.mirror.wait_for("front_door", {"lock": "locked"}, timeout=5)
    reply = await home_.assistant.handle("undo")
    assert reply.status == "needs_confirmation"
    assert reply.confirm_token is not None
    await home_.assistant.confirm(reply.confirm_token, approve=True)
    assert await home_.rig.mirror.wait_for("front_door", {"lock": "unlocked"}, timeout=5)


async def test_every_request_is_audited(home_: Home) -> None:
    """Write each request, its path, status, actions and model usage to SQLite."""
    await home_.assistant.handle("turn on the garage light", source="chat")
    home_.model.add({"kind": "answer", "message": "21 °C", "actions": []})
    await home_.assistant.handle("how warm is it?", source="mqtt", request_id="r-1")
    entries = home_.audit.recent()
    assert [(e.source, e.path, e.status) for e in entries] == [("chat", "fast", "done"), ("mqtt", "model", "answer")]
    assert entries[0].actions[0]["device"] == "garage_light"
    assert entries[1].request_id == "r-1"
    assert entries[1].model_calls[0]["purpose"] == "plan"
    assert entries[1].tokens > 0
    files = [home_.audit.path, home_.audit.path.with_name("audit.db-wal")]
    assert all(b"sk-test-secret" not in f.read_bytes() for f in files if f.exists())


async def test_cached_tokens_reach_the_audit_log(rig: Rig, tmp_path: Path) -> None:
    """Write the prompt tokens the server took from its cache, summed over the request's calls."""
    answer = {"kind": "answer", "message": "21 °C", "actions": []}
    async with ScriptedModel([answer, answer], reports_cache="llama.cpp") as server:
        async for home in _home(rig, server, tmp_path, ConfirmMode.SENSITIVE):
            await home.assistant.handle("how warm is it?")
            await home.assistant.handle("how warm is it upstairs?")
            await home.assistant.handle("turn on the garage light")
            entries = home.audit.recent()
    assert entries[0].cached_tokens == 0
    assert (entries[1].cached_tokens or 0) > 0
    assert entries[2].cached_tokens is None  # the fast path made no model call


def test_an_audit_file_from_before_cached_tokens_gains_the_column(tmp_path: Path) -> None:
    """Open an audit.db written without `cached_tokens`: the column is added, old rows read as None."""
    path = tmp_path / "audit.db"
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE requests (id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, request_id TEXT,"
        " conversation TEXT, source TEXT NOT NULL, text TEXT NOT NULL, status TEXT NOT NULL, message TEXT NOT NULL,"
        " path TEXT NOT NULL, actions TEXT NOT NULL, model_calls TEXT NOT NULL, tokens INTEGER NOT NULL,"
        " latency_ms REAL NOT NULL)"
    )
    old.execute(
        "INSERT INTO requests (at, source, text, status, message, path, actions, model_calls, tokens, latency_ms)"
        " VALUES (1, 'cli', 'hello', 'done', '', 'fast', '[]', '[]', 0, 1)"
    )
    old.commit()
    old.close()
    log = AuditLog(path)
    try:
        [entry] = log.recent()
    finally:
        log.close()
    assert (entry.text, entry.cached_tokens) == ("hello", None)


async def test_a_model_plan_says_what_is_offline_and_what_did_not_confirm(rig: Rig, scripted: ScriptedModel) -> None:
    """Mark the offline device in the prompt, say so before the model's message, and append what did not confirm."""
    client = ModelClient(model_settings(scripted))
    planner = Planner(rig.home, client, state=rig.mirror.snapshot, offline=rig.mirror.offline)
    assistant = Assistant(rig.home, rig.executor, planner, mirror=rig.mirror, confirm_wait=1.0)
    rig.simulator.set_online("living_room_ceiling", False)
    assert await rig.mirror.wait_until(lambda: rig.mirror.available("living_room_ceiling") is False, 5)
    scripted.add(
        {
            "kind": "plan",
            "message": "Lights up for reading.",
            "actions": [
                {"device": "living_room_ceiling", "set": {"power": "on"}, "reason": "bright"},
                {"device": "living_room_lamp", "set": {"power": "on", "brightness": 80}, "reason": "reading"},
            ],
        }
    )
    try:
        reply = await assistant.handle("I want to read in the lounge", conversation="read")
    finally:
        await client.close()
    prompt = scripted.requests[-1]["messages"][-1]["content"]
    assert "Offline now (a command may not arrive; say so if you use them): living_room_ceiling" in prompt
    assert reply.status == "done"
    assert reply.message == (
        "The Living room ceiling light is offline; I sent the command anyway."
        " Lights up for reading. The Living room ceiling light did not confirm."
    )
    assert [a.confirmation for a in reply.actions] == ["unconfirmed", "confirmed"]
