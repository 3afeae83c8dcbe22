"""One-shot timers: read off a sentence, kept on disk, fired by the engine, listed and cancelled."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sasha.assistant import Assistant
from sasha.history.audit import AuditLog
from sasha.home.actions import Action
from sasha.home.inventory import Inventory
from sasha.home.readings import Reading
from sasha.planning.planner import Planner
from sasha.routines.engine import ManualClock, RoutineEngine
from sasha.routines.timers import GRACE, Timers, TimersFileError, revert
from sasha.understanding import timing
from sasha.understanding.timing import When
from tests.conftest import Rig
from tests.routines.test_routine_flow import _daemon, _online, _stop
from tests.surfaces.test_daemon import request

BERLIN = ZoneInfo("Europe/Berlin")
NOON = datetime(2026, 12, 6, 11, 0, tzinfo=UTC)  # 12:00 in Berlin


@pytest.mark.parametrize(
    ("said", "when", "command", "seconds", "clock"),
    [
        ("turn off lights in 10 minutes", When.IN, "turn off lights", 600, None),
        ("turn on fan for 10 minutes", When.FOR, "turn on fan", 600, None),
        ("in half an hour turn off tv", When.IN, "turn off tv", 1800, None),
        ("turn off lights in 1.5 hours", When.IN, "turn off lights", 5400, None),
        ("turn off lights at 11pm", When.AT, "turn off lights", 0, time(23)),
        ("turn off lights at 11 30pm", When.AT, "turn off lights", 0, time(23, 30)),
        ("turn off lights at 23 15", When.AT, "turn off lights", 0, time(23, 15)),
        ("turn off lights at 07 30", When.AT, "turn off lights", 0, time(7, 30)),
        ("turn off lights at midnight", When.AT, "turn off lights", 0, time(0)),
    ],
)
def test_a_time_phrase_is_read_off_the_sentence(
    said: str, when: When, command: str, seconds: float, clock: time | None
) -> None:
    """Cut "in 10 minutes", "for 10 minutes", "at 11pm" off a sentence and keep the command."""
    found = timing.split(said)
    assert found is not None
    assert (found.when, found.command, found.seconds, found.clock) == (when, command, seconds, clock)


@pytest.mark.parametrize("said", ["turn off lights at 7", "turn off lights at 7 30", "turn off lights in 9 days"])
def test_a_time_that_could_be_either_is_not_read(said: str) -> None:
    """Leave "at 7" (morning or evening?) and timers beyond a week to a person or a model."""
    assert timing.split(said) is None


def test_at_means_the_next_such_time_in_the_home_zone() -> None:
    """Place "at 11pm" today when it is still ahead, and "at 07:30" tomorrow when it has passed."""
    tonight = timing.split("turn off lights at 11pm")
    morning = timing.split("turn off lights at 07 30")
    assert tonight is not None
    assert morning is not None
    assert tonight.due(NOON, BERLIN) == datetime(2026, 12, 6, 23, 0, tzinfo=BERLIN)
    assert morning.due(NOON, BERLIN) == datetime(2026, 12, 7, 7, 30, tzinfo=BERLIN)


def test_timers_are_kept_on_disk_and_a_broken_file_is_named(tmp_path: Path, home: Inventory) -> None:
    """Write every change atomically; drop actions the home no longer takes; name a broken file."""
    path = tmp_path / "timers.json"
    timers = Timers(path, home)
    kept = timers.add(100.0, (Action("kitchen_light", {"power": "off"}),), "Kitchen light off")
    again = Timers(path, home)
    again.load()
    assert [t.id for t in again.pending] == [kept.id]
    data = json.loads(path.read_text())
    data[0]["actions"].append({"device": "unicorn", "set": {"power": "on"}})
    path.write_text(json.dumps(data))
    again.load()
    assert [a.device for a in again.pending[0].actions] == ["kitchen_light"]
    path.write_text("{not json")
    with pytest.raises(TimersFileError, match=r"timers\.json"):
        Timers(path, home).load()
    assert path.read_text() == "{not json"


def test_for_puts_back_what_was_reported(home: Inventory) -> None:
    """Return the reported values, or the opposite power when none was reported, or None when unknown."""
    seen = {("bedroom_fan", "power"): "off"}

    def reading(device: str, capability: str) -> Reading | None:
        value = seen.get((device, capability))
        return Reading(value, 0.0) if value is not None else None

    back = revert(home, (Action("bedroom_fan", {"power": "on"}),), reading)
    assert back is not None
    assert [(a.device, dict(a.set)) for a in back] == [("bedroom_fan", {"power": "off"})]
    lamp = revert(home, (Action("kitchen_light", {"power": "on"}),), None)
    assert lamp is not None
    assert dict(lamp[0].set) == {"power": "off"}
    assert revert(home, (Action("kitchen_light", {"brightness": 30}),), None) is None


async def test_a_timer_fires_once_and_a_late_one_is_dropped(rig: Rig, tmp_path: Path) -> None:
    """Fire a due timer through the executor once; drop one Sasha missed by more than the grace."""
    clock = ManualClock(NOON)
    timers = Timers(tmp_path / "timers.json", rig.home)
    audit = AuditLog(tmp_path / "audit.db")
    engine = RoutineEngine(rig.mirror, rig.executor, zone=BERLIN, clock=clock, timers=timers, audit=audit)
    assert not rig.simulator.set_values("kitchen_light", {"power": "on"})
    timers.add(NOON.timestamp() + 60, (Action("kitchen_light", {"power": "off"}),), "Kitchen light off")
    timers.add(NOON.timestamp() - GRACE - 60, (Action("office_light", {"power": "on"}),), "Office light on")
    clock.advance(30)
    fired = await engine.tick()
    assert [f.results for f in fired] == [()]  # the missed one, dropped
    clock.advance(40)
    fired = await engine.tick()
    assert [f.results for f in fired] == [("kitchen_light:published",)]
    assert await rig.mirror.wait_for("kitchen_light", {"power": "off"}, timeout=5)
    assert await engine.tick() == []
    assert timers.pending == []
    sources = [(e.source, e.status) for e in audit.recent()]
    audit.close()
    assert sorted(sources) == [("timer", "done"), ("timer", "infeasible")]


async def test_a_conversation_sets_lists_and_cancels_timers(rig: Rig, tmp_path: Path) -> None:
    """Ask which lamp, set the timer for the one chosen, list it, refuse an unsafe one, cancel it."""
    timers = Timers(tmp_path / "timers.json", rig.home)
    planner = Planner(rig.home, None, state=rig.mirror.snapshot)
    noon = NOON.timestamp  # the order of the list depends on the time of day
    assistant = Assistant(rig.home, rig.executor, planner, mirror=rig.mirror, timers=timers, clock=noon)
    asked = await assistant.handle("turn off the lamp in 10 minutes", conversation="c")
    assert asked.status == "clarify", asked.message
    set_ = await assistant.handle("the bedside one", conversation="c")
    assert set_.status == "done", set_.message
    assert set_.message == "Timer set: Bedside lamp off at 12:10 (in 10 min)."
    assert [(a.device, a.result) for a in set_.actions] == [("bedroom_bedside_lamp", "skipped")]
    assert [a.device for t in timers.pending for a in t.actions] == ["bedroom_bedside_lamp"]
    unsafe = await assistant.handle("unlock the front door in 5 minutes", conversation="c")
    assert unsafe.status == "infeasible"
    assert "only towards safety" in unsafe.message
    locked = await assistant.handle("lock the front door at 11pm", conversation="c")
    assert locked.status == "done", locked.message
    listed = await assistant.handle("what timers are set?", conversation="c")
    assert listed.status == "answer"
    assert "1) Bedside lamp off" in listed.message
    assert "Front door lock locked" in listed.message
    which = await assistant.handle("cancel the timer", conversation="c")
    assert which.status == "clarify"
    one = await assistant.handle("cancel timer 1", conversation="c")
    assert (one.status, one.message) == ("done", "Cancelled 1 timer: Bedside lamp off.")
    rest = await assistant.handle("cancel all timers", conversation="c")
    assert rest.status == "done"
    assert timers.pending == []


async def test_for_acts_now_and_sets_the_way_back(rig: Rig, tmp_path: Path) -> None:
    """Turn the fan on now and keep a timer that turns it off again."""
    assert not rig.simulator.set_values("bedroom_fan", {"power": "off"})
    assert await rig.mirror.wait_for("bedroom_fan", {"power": "off"}, timeout=5)
    timers = Timers(tmp_path / "timers.json", rig.home)
    planner = Planner(rig.home, None, state=rig.mirror.snapshot)
    assistant = Assistant(rig.home, rig.executor, planner, mirror=rig.mirror, timers=timers)
    reply = await assistant.handle("turn on the ceiling fan for 10 minutes")
    assert reply.status == "done", reply.message
    assert "Back at" in reply.message
    assert await rig.mirror.wait_for("bedroom_fan", {"power": "on"}, timeout=5)
    assert [dict(a.set) for t in timers.pending for a in t.actions] == [{"power": "off"}]


async def test_without_sasha_run_a_timer_is_refused(rig: Rig) -> None:
    """Say that timers need `sasha run` where nothing would fire them, and set nothing."""
    planner = Planner(rig.home, None, state=rig.mirror.snapshot)
    assistant = Assistant(rig.home, rig.executor, planner, mirror=rig.mirror)
    reply = await assistant.handle("turn off the kitchen light in 10 minutes")
    assert reply.status == "infeasible"
    assert "sasha run" in reply.message


async def test_a_timer_survives_a_restart_of_sasha_run(rig: Rig, tmp_path: Path) -> None:
    """Set a timer through `sasha run`, stop it, start it again: the timer fires on time."""
    url = rig.broker.url
    assert not rig.simulator.set_values("kitchen_light", {"power": "on"})
    assert await rig.mirror.wait_for("kitchen_light", {"power": "on"}, timeout=5)
    process = await _daemon(url, tmp_path, {})
    try:
        await _online(url)
        set_, _ = await request(url, json.dumps({"text": "turn off the kitchen light in 6 seconds"}), timeout=10)
        assert set_["status"] == "done", set_
        listed, _ = await request(url, json.dumps({"text": "what timers are set"}), timeout=10)
        assert "Kitchen light off" in listed["message"]
    finally:
        await _stop(process)
    assert "kitchen_light" in (tmp_path / "timers.json").read_text()
    assert rig.mirror.get("kitchen_light", "power").value == "on"  # type: ignore[union-attr]
    process = await _daemon(url, tmp_path, {})
    try:
        await _online(url)
        assert await rig.mirror.wait_for("kitchen_light", {"power": "off"}, timeout=15)
    finally:
        await _stop(process)
    assert json.loads((tmp_path / "timers.json").read_text()) == []
