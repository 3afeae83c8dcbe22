"""The terminal chat, driven with scripted input and read from the rich console's file."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from sasha.assistant import Assistant
from sasha.history.audit import AuditLog
from sasha.planning.llm.client import ModelClient
from sasha.planning.llm.scripted import ScriptedModel
from sasha.planning.planner import Planner
from sasha.policy import ConfirmMode
from sasha.surfaces.chat import Chat
from tests.conftest import Rig, model_settings


def _plan(device: str, values: dict[str, object], message: str) -> dict[str, object]:
    return {"kind": "plan", "message": message, "actions": [{"device": device, "set": values, "reason": "mood"}]}


async def _chat(rig: Rig, scripted: ScriptedModel, tmp_path: Path, lines: list[str], confirm: ConfirmMode) -> str:
    client = ModelClient(model_settings(scripted))
    audit = AuditLog(tmp_path / "audit.db")
    assistant = Assistant(
        rig.home, rig.executor, Planner(rig.home, client, state=rig.mirror.snapshot), confirm=confirm, audit=audit
    )
    out = io.StringIO()
    console = Console(file=out, width=160, force_terminal=False, color_system=None)
    script = iter(lines)

    async def read(prompt: str) -> str | None:
        line = next(script, None)
        console.print(f"{prompt}{line}")
        return line

    try:
        assert await Chat(assistant, rig.mirror, console, read).run() == 0
    finally:
        await client.close()
        audit.close()
    return out.getvalue()


async def test_review_feedback_and_undo(rig: Rig, scripted: ScriptedModel, tmp_path: Path) -> None:
    """Show a plan for review, revise it on feedback, run it on yes, and undo it."""
    scripted.add(
        _plan("living_room_lamp", {"power": "on", "brightness": 90}, "Bright reading light."),
        _plan("living_room_lamp", {"power": "on", "brightness": 40}, "Softer light."),
    )
    out = await _chat(
        rig,
        scripted,
        tmp_path,
        ["make it cozy", "too bright", "yes", "/state living room lamp", "/undo", "/history", "/quit"],
        ConfirmMode.ALWAYS,
    )
    assert "Bright reading light. Shall I go ahead? (review mode" in out
    assert "Softer light. Shall I go ahead?" in out
    assert "brightness → 40" in out
    assert "waiting" in out
    assert "published" in out
    assert "Restored the previous state." in out
    # The feedback reached the model with the first plan in context.
    assert '"brightness":90' in scripted.requests[1]["messages"][1]["content"]
    assert scripted.requests[1]["messages"][1]["content"].rstrip().endswith("Request: too bright")
    assert await rig.mirror.wait_for("living_room_lamp", {"power": "off", "brightness": 80}, timeout=5)
    assert "make it cozy" in out.split("/history")[-1]
    # The same story the MQTT API tells: what was sent today, by which request.
    assert "Today: " in out.split("/history")[-1]
    assert "Living room lamp on, brightness 40 % (confirmed: “Softer light.”)" in out.split("/history")[-1]
    assert "Living room lamp off, brightness 80 % (“undo”)" in out.split("/history")[-1]


async def test_no_leaves_things_alone_and_commands_show_the_home(
    rig: Rig, scripted: ScriptedModel, tmp_path: Path
) -> None:
    """Drop a plan on no; list devices and state; explain unknown commands."""
    out = await _chat(
        rig,
        scripted,
        tmp_path,
        ["unlock the front door", "no", "/devices", "/state hallway", "/state nowhere", "/routines", "/help", "/bogus"],
        ConfirmMode.SENSITIVE,
    )
    assert "OK, I left everything as it was." in out
    assert rig.simulator.values("front_door")["lock"] == "locked"
    assert "Front door lock ⚠" in out
    assert "target_temperature 5-30°C step 0.5" in out
    assert "Hallway light" in out
    assert "No device or room called 'nowhere'." in out
    assert "/undo" in out
    assert "Unknown command /bogus" in out
    assert "Bye." in out
    assert scripted.calls == 0
