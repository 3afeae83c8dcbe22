"""Routines end to end: from the model's answer to fan commands on the broker, and across restarts."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sasha.assistant import Assistant
from sasha.history.audit import AuditLog
from sasha.mqtt.connection import Incoming, MqttSettings
from sasha.planning.llm.client import ModelClient
from sasha.planning.llm.scripted import ScriptedModel
from sasha.planning.planner import Planner
from sasha.routines.book import RoutineBook
from sasha.routines.engine import RoutineEngine
from sasha.routines.store import RoutineStore
from tests.conftest import EXAMPLE, Rig, clean_env, fast, model_settings, run_sasha, start_sasha

FAN_TOPIC = "zigbee2mqtt/bathroom_fan/set"
HUMID: dict[str, Any] = {
    "kind": "routine",
    "message": "I'll run the bathroom fan whenever it gets humid.",
    "actions": [],
    "routine": {
        "name": "Bathroom fan on when humid",
        "trigger": {
            "type": "state",
            "device": "bathroom_humidity",
            "capability": "humidity",
            "above": 60,
            "below": None,
            "equals": None,
            "for_seconds": 0,
        },
        "conditions": [],
        "actions": [{"device": "bathroom_fan", "set": {"power": "on"}, "reason": "clear the steam"}],
    },
}


def _routine_answer(**changes: Any) -> dict[str, Any]:
    routine = {**HUMID["routine"], **changes}
    return {**HUMID, "routine": routine}


@dataclass
class Setup:
    """An assistant with routines on the simulated home, and a spy on the broker."""

    rig: Rig
    model: ScriptedModel
    assistant: Assistant
    book: RoutineBook
    engine: RoutineEngine
    wire: list[Incoming]
    path: Path

    def fan_commands(self) -> int:
        """Count the bathroom fan commands that crossed the broker."""
        return sum(1 for m in self.wire if m.topic == FAN_TOPIC)

    async def humidity(self, value: float) -> None:
        """Set the simulated humidity and wait until the mirror has it."""
        self.rig.simulator.set_values("bathroom_humidity", {"humidity": value})
        assert await self.rig.mirror.wait_for("bathroom_humidity", {"humidity": value}, timeout=5)
        await asyncio.sleep(0.3)  # the engine reacts and the command crosses the broker


@pytest.fixture
async def setup(rig: Rig, scripted: ScriptedModel, tmp_path: Path) -> AsyncIterator[Setup]:
    """Run the engine on the real clock next to an assistant that can create routines."""
    client = ModelClient(model_settings(scripted))
    engine = RoutineEngine(rig.mirror, rig.executor, zone=__import__("zoneinfo").ZoneInfo("Europe/Berlin"))
    path = tmp_path / "routines.yaml"
    book = RoutineBook(RoutineStore(path, rig.home), engine)
    book.load()
    assistant = Assistant(rig.home, rig.executor, Planner(rig.home, client, state=rig.mirror.snapshot), routines=book)
    wire: list[Incoming] = []
    async with fast(MqttSettings.from_url(rig.broker.url)) as spy:
        await spy.subscribe([FAN_TOPIC], wire.append)
        await spy.wait_connected(5)
        running = asyncio.create_task(engine.run(interval=0.05))
        try:
            yield Setup(rig, scripted, assistant, book, engine, wire, path)
        finally:
            running.cancel()
            await client.close()


async def test_humid_bathroom_routine_fires_once_per_rise(setup: Setup) -> None:
    """Create the routine from the model's answer after a yes; fire on each rise above 60 %, once."""
    setup.model.add(HUMID)
    proposed = await setup.assistant.handle("keep the bathroom dry", conversation="r")
    assert proposed.status == "needs_confirmation"
    assert proposed.routine is not None
    assert proposed.routine["trigger"]["above"] == 60
    assert not setup.path.exists()  # nothing is stored before the yes
    done = await setup.assistant.handle("yes", conversation="r")
    assert done.status == "done"
    assert "bathroom_humidity.humidity above 60" in done.message
    assert "Bathroom fan on when humid" in setup.path.read_text()

    await setup.humidity(72)
    assert setup.fan_commands() == 1
    await setup.humidity(75)
    await setup.humidity(81)
    assert setup.fan_commands() == 1  # not on every reading
    await setup.humidity(50)
    assert setup.fan_commands() == 1
    await setup.humidity(66)
    assert setup.fan_commands() == 2  # again after it fell and rose


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        (
            _routine_answer(actions=[{"device": "bathroom_vent", "set": {"power": "on"}, "reason": "r"}]),
            "no device 'bathroom_vent'",
        ),
        (
            _routine_answer(actions=[{"device": "bathroom_humidity", "set": {"humidity": 40}, "reason": "r"}]),
            "sensor reading",
        ),
        (
            _routine_answer(actions=[{"device": "main_water_valve", "set": {"power": "on"}, "reason": "r"}]),
            "sensitive",
        ),
        (_routine_answer(trigger={"type": "time", "at": "24:61", "days": None}), "not a time"),
    ],
    ids=["unknown device", "sensor as target", "sensitive action", "bad time"],
)
async def test_invalid_routines_are_repaired_or_refused(setup: Setup, bad: dict[str, Any], problem: str) -> None:
    """Send a bad routine back once; a repaired one is proposed, a still-bad one refused and never stored."""
    setup.model.add(bad, HUMID)
    repaired = await setup.assistant.handle("keep the bathroom dry", conversation="a")
    assert repaired.status == "needs_confirmation"
    assert problem in setup.model.requests[1]["messages"][-1]["content"]
    await setup.assistant.handle("no", conversation="a")
    assert not setup.path.exists()

    setup.model.add(bad, bad)
    refused = await setup.assistant.handle("keep the bathroom dry", conversation="b")
    assert refused.status == "infeasible"
    assert problem in refused.message
    assert refused.confirm_token is None
    assert not setup.path.exists()


async def test_routines_are_managed_in_words(setup: Setup) -> None:
    """Stop, start and delete a routine by saying so."""
    setup.model.add(HUMID)
    await setup.assistant.handle("keep the bathroom dry", conversation="m")
    await setup.assistant.handle("yes", conversation="m")
    stopped = await setup.assistant.handle("stop the bathroom fan routine")
    assert (stopped.status, stopped.message) == ("done", "The routine 'Bathroom fan on when humid' is off.")
    assert "enabled: false" in setup.path.read_text()
    await setup.humidity(90)
    assert setup.fan_commands() == 0
    assert (await setup.assistant.handle("start the humid routine")).status == "done"
    unknown = await setup.assistant.handle("delete the night routine")
    assert unknown.status == "infeasible"
    assert "Bathroom fan on when humid" in unknown.message
    deleted = await setup.assistant.handle("delete the bathroom fan routine")
    assert deleted.status == "done"
    assert setup.book.routines == []
    assert setup.model.calls == 1  # managing routines needs no model


async def _until(check: Callable[[], bool], timeout: float) -> None:
    """Poll for something another process does; there is no event to wait on across processes."""
    async with asyncio.timeout(timeout):
        while not check():  # noqa: ASYNC110
            await asyncio.sleep(0.1)


async def _online(url: str) -> None:
    """Wait until the daemon's status says online and its API is subscribed (discovery follows it)."""
    seen: dict[str, bytes] = {}
    async with fast(MqttSettings.from_url(url)) as watcher:
        await watcher.subscribe(["sasha/status"], lambda m: seen.__setitem__(m.topic, m.payload))
        await _until(lambda: seen.get("sasha/status") == b"online", 15)
    await asyncio.sleep(0.5)  # the API subscriptions follow the status by a few milliseconds


async def _daemon(url: str, state: Path, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await start_sasha(
        "run", "--open", "--devices", str(EXAMPLE), "--mqtt-url", url, "--state-dir", str(state), env=env
    )


async def _stop(process: asyncio.subprocess.Process) -> str:
    process.send_signal(signal.SIGTERM)
    async with asyncio.timeout(15):
        _, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return err.decode()


async def test_routines_survive_a_daemon_restart(rig: Rig, scripted: ScriptedModel, tmp_path: Path) -> None:
    """Create a routine through `sasha run`, stop it, start it again: the routine is there and fires."""
    from tests.surfaces.test_daemon import request

    url = rig.broker.url
    env = clean_env(OPENAI_BASE_URL=scripted.base_url)
    scripted.add(HUMID)
    process = await _daemon(url, tmp_path, env)
    try:
        await _online(url)
        proposed, _ = await request(url, json.dumps({"text": "keep the bathroom dry", "id": "1"}), timeout=15)
        assert proposed["status"] == "needs_confirmation"
        token = proposed["confirm_token"]
        done, _ = await request(url, json.dumps({"token": token, "approve": True}), topic="sasha/confirm")
        assert done["status"] == "done"
    finally:
        await _stop(process)
    assert "bathroom_fan_on_when_humid" in (tmp_path / "routines.yaml").read_text()

    wire: list[Incoming] = []
    async with fast(MqttSettings.from_url(url)) as spy:
        await spy.subscribe([FAN_TOPIC, "sasha/routines"], wire.append)
        process = await _daemon(url, tmp_path, env)
        try:
            await _online(url)
            await asyncio.sleep(0.5)  # retained states reach the new daemon's mirror
            await _until(lambda: any(m.topic == "sasha/routines" and b"bathroom_fan" in m.payload for m in wire), 15)
            listing = json.loads(next(m.payload for m in wire if m.topic == "sasha/routines"))
            assert listing[0]["description"].startswith("when bathroom_humidity.humidity above 60")
            rig.simulator.set_values("bathroom_humidity", {"humidity": 77})
            await _until(lambda: any(m.topic == FAN_TOPIC for m in wire), 10)
        finally:
            await _stop(process)
    log = AuditLog(tmp_path / "audit.db")
    firings = [e for e in log.recent() if e.source == "routine"]
    log.close()
    assert [(e.text, e.actions[0]["result"]) for e in firings] == [("routine Bathroom fan on when humid", "published")]


async def test_a_corrupted_routines_file_stops_only_its_own_loading(rig: Rig, tmp_path: Path) -> None:
    """Serve requests with a broken routines.yaml, report its line, and never write over it."""
    from tests.surfaces.test_daemon import request

    broken = "routines:\n  - name: Night\n    trigger: {type: time, at: '22:30'\n"
    path = tmp_path / "routines.yaml"
    path.write_text(broken)
    process = await _daemon(rig.broker.url, tmp_path, clean_env())
    try:
        await _online(rig.broker.url)
        reply, _ = await request(rig.broker.url, "turn on the hallway light", timeout=15)
        assert reply["status"] == "done"
        stopped, _ = await request(rig.broker.url, "stop the night routine", timeout=15)
        assert stopped["status"] == "infeasible"
    finally:
        err = await _stop(process)
    assert f"{path}:4" in err
    assert path.read_text() == broken


async def test_routines_command(tmp_path: Path, rig: Rig) -> None:
    """List, show, disable and delete routines from the command line."""
    from sasha.routines.routine import check
    from sasha.routines.shapes import RoutineModel

    routine, _ = check(rig.home, RoutineModel.model_validate(HUMID["routine"]))
    assert routine is not None
    RoutineStore(tmp_path / "routines.yaml", rig.home).save([routine])

    async def sasha(*args: str) -> tuple[int, str]:
        code, out, _ = await run_sasha("routines", *args, "--state-dir", str(tmp_path), "--devices", str(EXAMPLE))
        return code, out

    code, out = await sasha("list")
    assert code == 0
    assert "bathroom_fan_on_when_humid" in out
    assert (await sasha("disable", "bathroom_fan_on_when_humid"))[0] == 0
    code, out = await sasha("show", "bathroom_fan_on_when_humid")
    assert "enabled: false" in out
    assert (await sasha("delete", "nope"))[0] == 1
    assert (await sasha("delete", "bathroom_fan_on_when_humid"))[0] == 0
    assert "No routines" in (await sasha("list"))[1]


async def test_a_new_routine_waits_for_a_yes_even_when_confirm_is_never(setup: Setup) -> None:
    """Hold a new routine for confirmation whatever the review policy says."""
    from sasha.policy import ConfirmMode

    setup.assistant.confirm_mode = ConfirmMode.NEVER
    setup.model.add(HUMID)
    reply = await setup.assistant.handle("keep the bathroom dry")
    assert reply.status == "needs_confirmation"
    assert setup.book.routines == []


async def test_routines_yaml_edited_under_a_running_daemon(rig: Rig, tmp_path: Path) -> None:  # noqa: PLR0915  (one story)
    """Edit routines.yaml by hand, break it, change it with `sasha routines`: `sasha run` keeps serving and firing."""
    from sasha.routines.routine import check
    from sasha.routines.shapes import RoutineModel
    from tests.surfaces.test_daemon import request

    routine, _ = check(rig.home, RoutineModel.model_validate(HUMID["routine"]))
    assert routine is not None
    path = tmp_path / "routines.yaml"
    RoutineStore(path, rig.home).save([routine])
    url = rig.broker.url

    def edit(text: str) -> None:
        stamp = path.stat().st_mtime + 1  # a new mtime even within the file system's granularity
        path.write_text(text)
        os.utime(path, (stamp, stamp))

    async def humid(fires: bool) -> None:
        assert not rig.simulator.set_values("bathroom_fan", {"power": "off"})
        assert not rig.simulator.set_values("bathroom_humidity", {"humidity": 40})
        await asyncio.sleep(0.5)
        assert not rig.simulator.set_values("bathroom_humidity", {"humidity": 75})
        fired = await rig.mirror.wait_for("bathroom_fan", {"power": "on"}, timeout=4)
        assert fired is fires

    async def say(text: str) -> str:
        reply, _ = await request(url, text, timeout=15)
        return str(reply["status"])

    process = await _daemon(url, tmp_path, clean_env())
    try:
        await _online(url)
        await humid(fires=True)
        edit(path.read_text().replace("name: Bathroom fan on when humid", "name: Dry bathroom"))
        await asyncio.sleep(3)
        assert await say("turn off the dry bathroom routine") == "done"
        assert await say("turn on the dry bathroom routine") == "done"
        good = path.read_text()
        edit(good + "  - name: Broken\n    trigger: {type: time, at: '22:30'\n")
        await asyncio.sleep(3)
        assert await say("turn on the hallway light") == "done"
        await humid(fires=True)  # the last good routines still run
        edit(good)
        await asyncio.sleep(3)
        code, _, err = await run_sasha("routines", "disable", routine.id, "--state-dir", str(tmp_path))
        assert code == 0, err
        await asyncio.sleep(3)
        await humid(fires=False)
        code, _, err = await run_sasha("routines", "delete", routine.id, "--state-dir", str(tmp_path))
        assert code == 0, err
        await asyncio.sleep(3)
        assert await say("turn on the dry bathroom routine") == "infeasible"
        assert process.returncode is None
    finally:
        err = await _stop(process)
    assert "Traceback" not in err
    assert "no running event loop" not in err
    assert f"{path}:" in err  # the broken edit, by file and line


async def test_a_new_routine_is_previewed_over_the_recorded_history(
    rig: Rig, scripted: ScriptedModel, tmp_path: Path
) -> None:
    """Record humidity through one `sasha run`, restart it, and hear how often the new routine would have run."""
    from tests.surfaces.test_daemon import request

    url = rig.broker.url
    env = clean_env(OPENAI_BASE_URL=scripted.base_url)
    process = await _daemon(url, tmp_path, env)
    try:
        await _online(url)
        for humidity in (50, 72, 55, 75):
            rig.simulator.set_values("bathroom_humidity", {"humidity": humidity})
            await asyncio.sleep(0.3)  # one report at a time reaches the daemon's mirror
    finally:
        await _stop(process)  # the last changes are flushed on the way out
    assert (tmp_path / "states.db").exists()
    scripted.add(HUMID)
    process = await _daemon(url, tmp_path, env)
    try:
        await _online(url)
        proposed, _ = await request(url, json.dumps({"text": "keep the bathroom dry", "id": "p"}), timeout=15)
        assert proposed["status"] == "needs_confirmation"
        assert "It would have run twice since " in proposed["message"]
        assert "(as far back as the history goes)" in proposed["message"]
        assert proposed["message"].endswith("Shall I set it up?")
        declined, _ = await request(
            url, json.dumps({"token": proposed["confirm_token"], "approve": False}), topic="sasha/confirm"
        )
        assert declined["status"] == "done"
    finally:
        await _stop(process)
    assert not (tmp_path / "routines.yaml").exists() or "bathroom_fan" not in (tmp_path / "routines.yaml").read_text()
