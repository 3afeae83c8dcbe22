"""Routines: checking, the file, time triggers across DST, edge-triggered state triggers."""

from __future__ import annotations

from datetime import UTC, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sasha.home import inventory
from sasha.routines.engine import ManualClock, RoutineEngine, occurrences
from sasha.routines.routine import DAYS, Routine, TimeTrigger, TimeWindow, check, describe
from sasha.routines.shapes import RoutineModel
from sasha.routines.store import RoutinesFileError, RoutineStore, dump, parse
from tests.conftest import EXAMPLE, Rig, run_sasha

HOME = inventory.from_file(EXAMPLE)
BERLIN = ZoneInfo("Europe/Berlin")

HUMID = {
    "name": "Bathroom fan on when humid",
    "trigger": {"type": "state", "device": "bathroom_humidity", "capability": "humidity", "above": 60},
    "conditions": [],
    "actions": [{"device": "bathroom_fan", "set": {"power": "on"}, "reason": "clear the steam"}],
}
NIGHT = {
    "name": "Night",
    "trigger": {"type": "time", "at": "22:30", "days": ["mon", "tue", "wed", "thu", "fri"]},
    "conditions": [],
    "actions": [{"device": "bedroom_light", "set": {"power": "on", "brightness": 10}, "reason": "wind down"}],
}


def _routine(data: dict[str, object]) -> Routine:
    routine, problems = check(HOME, RoutineModel.model_validate(data))
    assert routine is not None, problems
    return routine


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"trigger": {"type": "state", "device": "ghost", "capability": "humidity", "above": 60}}, "does not have"),
        ({"trigger": {"type": "state", "device": "bathroom_humidity", "capability": "co2", "above": 60}}, "co2"),
        (
            {"trigger": {"type": "state", "device": "bathroom_humidity", "capability": "humidity"}},
            "above, below or equals",
        ),
        ({"trigger": {"type": "time", "at": "25:99"}}, "not a time"),
        ({"trigger": {"type": "time", "at": "07:00", "days": ["funday"]}}, "day 'funday'"),
        ({"trigger": {"type": "time", "at": "07:00", "days": ["sunshine"]}}, "day 'sunshine'"),
        ({"trigger": {"type": "time", "at": "07:00", "days": "mo"}}, "day 'mo'"),
        ({"actions": [{"device": "bathroom_humidity", "set": {"humidity": 40}}]}, "sensor reading"),
        ({"actions": [{"device": "front_door", "set": {"lock": "unlocked"}}]}, "sensitive"),
        ({"actions": [{"device": "coffee_machine", "set": {"power": "on"}}]}, "no device"),
        ({"actions": []}, "no actions"),
        ({"conditions": [{"type": "time", "after": "late", "before": "06:00"}]}, "not a time"),
    ],
)
def test_invalid_routines_are_refused(change: dict[str, object], fragment: str) -> None:
    """Refuse unknown devices, sensors as targets, sensitive actions and bad times, saying why."""
    routine, problems = check(HOME, RoutineModel.model_validate({**HUMID, **change}))
    assert routine is None
    assert any(fragment in p for p in problems), problems


@pytest.mark.parametrize(
    ("device", "values", "allowed"),
    [
        ("front_door", {"lock": "locked"}, True),
        ("front_door", {"lock": "unlocked"}, False),
        ("garage_door", {"position": 0}, True),
        ("garage_door", {"position": 100}, False),
        ("main_water_valve", {"power": "off"}, True),
        ("main_water_valve", {"power": "on"}, False),
        ("kitchen_oven", {"power": "off"}, True),
        ("kitchen_oven", {"power": "on"}, False),
    ],
)
def test_a_routine_may_move_a_sensitive_device_only_towards_safety(
    device: str, values: dict[str, object], allowed: bool
) -> None:
    """Accept "lock the front door at night" and refuse "unlock it at 7", whoever wrote the routine."""
    model = RoutineModel.model_validate({**HUMID, "actions": [{"device": device, "set": values}]})
    routine, problems = check(HOME, model)
    assert (routine is not None) is allowed, problems
    if not allowed:
        assert any("may only move it towards safety" in p for p in problems)


# Every form of `days` the docs promise (design.md 5.3, running.md "Routines"), as YAML would give it.
DAY_FORMS = [
    ("daily", ()),
    ("everyday", ()),
    ("weekdays", DAYS[:5]),
    ("weekends", ("sat", "sun")),
    (["weekdays"], DAYS[:5]),
    (["mon", "wed", "fri"], ("mon", "wed", "fri")),
    (["Monday", "friday", "SUNDAY"], ("mon", "fri", "sun")),
    (["tues", "thurs"], ("tue", "thu")),
    ("mon, wed, fri", ("mon", "wed", "fri")),
    (["weekends", "fri", "sat"], ("fri", "sat", "sun")),
    (list(DAYS), ()),
    ([], ()),
    (None, ()),
]
FILE_WITH_EVERY_DAY_FORM = """\
routines:
- name: Daily
  trigger: {type: time, at: "07:00", days: daily}
  actions: [{device: hallway_light, set: {power: 'on'}}]
- name: Everyday
  trigger: {type: time, at: "07:01", days: everyday}
  actions: [{device: hallway_light, set: {power: 'on'}}]
- name: Weekdays
  trigger: {type: time, at: "07:02", days: weekdays}
  actions: [{device: hallway_light, set: {power: 'on'}}]
- name: Weekends
  trigger: {type: time, at: "07:03", days: [weekends]}
  actions: [{device: hallway_light, set: {power: 'on'}}]
- name: Short names
  trigger:
    type: time
    at: "07:04"
    days:
    - mon
    - wed
    - fri
  actions: [{device: hallway_light, set: {power: 'on'}}]
- name: Full names
  trigger: {type: time, at: "07:05", days: [Tuesday, thursday]}
  actions: [{device: hallway_light, set: {power: 'on'}}]
- name: In one string
  trigger: {type: time, at: "07:06", days: "sat, sun"}
  actions: [{device: hallway_light, set: {power: 'on'}}]
"""
EXPECTED_DAYS = {
    "daily": (),
    "everyday": (),
    "weekdays": DAYS[:5],
    "weekends": ("sat", "sun"),
    "short_names": ("mon", "wed", "fri"),
    "full_names": ("tue", "thu"),
    "in_one_string": ("sat", "sun"),
}


@pytest.mark.parametrize(("days", "expected"), DAY_FORMS)
def test_every_documented_form_of_days_is_read(days: object, expected: tuple[str, ...]) -> None:
    """Read daily, weekdays, weekends, day names and lists of them; all seven days is every day."""
    routine = _routine({**NIGHT, "trigger": {"type": "time", "at": "22:30", "days": days}})
    assert isinstance(routine.trigger, TimeTrigger)
    assert routine.trigger.days == expected
    assert ("every day" in describe(routine)) is (expected == ())


def test_a_routines_file_with_every_form_of_days_loads_and_round_trips() -> None:
    """Load a hand-written routines.yaml using each form of `days`, and read what Sasha writes back."""
    routines = parse(FILE_WITH_EVERY_DAY_FORM, "routines.yaml", HOME)
    days = {r.id: r.trigger.days for r in routines if isinstance(r.trigger, TimeTrigger)}
    assert days == EXPECTED_DAYS
    assert parse(dump(routines), "routines.yaml", HOME) == routines


async def test_sasha_routines_list_reads_every_form_of_days(tmp_path: Path) -> None:
    """Run `sasha routines list` on a file with every form of `days`: it loads and names the days."""
    (tmp_path / "routines.yaml").write_text(FILE_WITH_EVERY_DAY_FORM, encoding="utf-8")
    code, out, err = await run_sasha("routines", "list", "--devices", str(EXAMPLE), "--state-dir", str(tmp_path))
    assert code == 0, out + err
    for ident in EXPECTED_DAYS:
        assert ident in out
    assert out.count("(every day)") == 2
    assert "(mon,tue,wed,thu,fri)" in out
    assert "(tue,thu)" in out


def test_time_window_wraps_midnight() -> None:
    """Hold from 22:00 to 06:00 across midnight, and not at noon."""
    window = TimeWindow(time(22), time(6))
    assert window.holds(time(23, 30))
    assert window.holds(time(2))
    assert not window.holds(time(12))
    assert not window.holds(time(6))
    assert TimeWindow(time(7), time(9)).holds(time(8))


def test_time_trigger_across_dst() -> None:
    """Fire at 22:30 Berlin time on weekdays, before and after the spring and autumn changes."""
    trigger = TimeTrigger(time(22, 30), ("mon", "tue", "wed", "thu", "fri"))
    spring = occurrences(trigger, BERLIN, datetime(2026, 3, 26, 12, tzinfo=UTC), datetime(2026, 3, 31, 12, tzinfo=UTC))
    assert spring == [
        datetime(2026, 3, 26, 21, 30, tzinfo=UTC),  # Thursday, CET (UTC+1)
        datetime(2026, 3, 27, 21, 30, tzinfo=UTC),  # Friday
        datetime(2026, 3, 30, 20, 30, tzinfo=UTC),  # Monday, CEST (UTC+2) after 29 March
    ]
    autumn = occurrences(
        trigger, BERLIN, datetime(2026, 10, 23, 12, tzinfo=UTC), datetime(2026, 10, 27, 12, tzinfo=UTC)
    )
    assert autumn == [datetime(2026, 10, 23, 20, 30, tzinfo=UTC), datetime(2026, 10, 26, 21, 30, tzinfo=UTC)]
    # 02:30 does not exist on 29 March and exists twice on 25 October: once a day either way.
    early = TimeTrigger(time(2, 30))
    gap = occurrences(early, BERLIN, datetime(2026, 3, 28, 12, tzinfo=UTC), datetime(2026, 3, 29, 12, tzinfo=UTC))
    fold = occurrences(early, BERLIN, datetime(2026, 10, 24, 12, tzinfo=UTC), datetime(2026, 10, 25, 12, tzinfo=UTC))
    assert len(gap) == 1
    assert len(fold) == 1


def test_the_file_round_trips_and_reports_lines(tmp_path: Path) -> None:
    """Write readable YAML and read it back; report a broken file by line and leave it alone."""
    routines = [_routine(HUMID), _routine(NIGHT)]
    text = dump(routines)
    assert "Bathroom fan on when humid" in text
    assert parse(text, "routines.yaml", HOME) == routines
    path = tmp_path / "routines.yaml"
    store = RoutineStore(path, HOME)
    store.save(routines)
    assert store.load() == routines
    broken = text.replace("device: bathroom_fan", "device: bathroom_fann")
    path.write_text(broken)
    assert store.changed()
    with pytest.raises(RoutinesFileError) as caught:
        store.load()
    line = next(
        n for n, text in enumerate(broken.splitlines(), 1) if text.strip() == "- id: bathroom_fan_on_when_humid"
    )
    assert caught.value.problems[0].line == line
    assert "no device 'bathroom_fann'" in str(caught.value)
    with pytest.raises(RoutinesFileError, match="is broken"):
        store.save(routines)
    assert path.read_text() == broken  # never overwritten
    path.write_text("routines: [\n")
    with pytest.raises(RoutinesFileError, match=r"routines\.yaml:2"):
        store.load()


async def test_state_trigger_fires_once_per_crossing(rig: Rig) -> None:
    """Fire when humidity rises above 60 %, not again on higher readings, again after it fell."""
    clock = ManualClock(datetime(2026, 6, 1, 12, tzinfo=UTC))
    engine = RoutineEngine(rig.mirror, rig.executor, zone=BERLIN, clock=clock)
    engine.load([_routine(HUMID)])

    async def humidity(value: float) -> None:
        rig.simulator.set_values("bathroom_humidity", {"humidity": value})
        assert await rig.mirror.wait_for("bathroom_humidity", {"humidity": value}, timeout=5)
        await engine.tick()

    await humidity(72)
    assert [f.routine for f in engine.fired] == ["bathroom_fan_on_when_humid"]
    assert await rig.mirror.wait_for("bathroom_fan", {"power": "on"}, timeout=5)
    rig.simulator.set_values("bathroom_fan", {"power": "off"})
    await humidity(75)
    await humidity(80)
    assert len(engine.fired) == 1
    await humidity(50)
    await humidity(65)
    assert len(engine.fired) == 2
    assert await rig.mirror.wait_for("bathroom_fan", {"power": "on"}, timeout=5)


async def test_for_seconds_needs_the_condition_to_hold(rig: Rig) -> None:
    """Fire only after the value stayed above the threshold for the whole time."""
    clock = ManualClock(datetime(2026, 6, 1, 12, tzinfo=UTC))
    engine = RoutineEngine(rig.mirror, rig.executor, zone=BERLIN, clock=clock)
    held = {**HUMID, "trigger": {**HUMID["trigger"], "for_seconds": 300}}  # type: ignore[dict-item]
    engine.load([_routine(held)])

    async def humidity(value: float) -> None:
        rig.simulator.set_values("bathroom_humidity", {"humidity": value})
        assert await rig.mirror.wait_for("bathroom_humidity", {"humidity": value}, timeout=5)

    await humidity(70)
    clock.advance(200)
    assert await engine.tick() == []
    await humidity(55)  # dips below: the wait starts over
    clock.advance(50)
    await humidity(71)
    clock.advance(200)
    assert await engine.tick() == []
    clock.advance(100)
    fired = await engine.tick()
    assert [f.routine for f in fired] == ["bathroom_fan_on_when_humid"]


async def test_time_routine_fires_on_the_right_days_with_a_moved_clock(rig: Rig) -> None:
    """Fire the weeknight routine at 22:30 local time, skipping the weekend, across DST."""
    clock = ManualClock(datetime(2026, 3, 27, 12, tzinfo=UTC))  # Friday
    engine = RoutineEngine(rig.mirror, rig.executor, zone=BERLIN, clock=clock)
    engine.load([_routine(NIGHT)])
    for _ in range(4 * 24):  # four days, an hour at a time
        clock.advance(3600)
        await engine.tick()
    assert [f.at for f in engine.fired] == [
        datetime(2026, 3, 27, 21, 30, tzinfo=UTC),
        datetime(2026, 3, 30, 20, 30, tzinfo=UTC),
    ]
    assert await rig.mirror.wait_for("bedroom_light", {"power": "on", "brightness": 10}, timeout=5)


async def test_time_window_condition_gates_a_state_trigger(rig: Rig) -> None:
    """Run the humidity routine only inside a window that wraps midnight."""
    clock = ManualClock(datetime(2026, 6, 1, 10, tzinfo=UTC))  # 12:00 in Berlin
    engine = RoutineEngine(rig.mirror, rig.executor, zone=BERLIN, clock=clock)
    nightly = {**HUMID, "conditions": [{"type": "time", "after": "22:00", "before": "06:00"}]}
    engine.load([_routine(nightly)])
    rig.simulator.set_values("bathroom_humidity", {"humidity": 80})
    assert await rig.mirror.wait_for("bathroom_humidity", {"humidity": 80}, timeout=5)
    assert await engine.tick() == []
    rig.simulator.set_values("bathroom_humidity", {"humidity": 40})
    assert await rig.mirror.wait_for("bathroom_humidity", {"humidity": 40}, timeout=5)
    clock.set(datetime(2026, 6, 1, 22, tzinfo=UTC))  # midnight in Berlin
    rig.simulator.set_values("bathroom_humidity", {"humidity": 81})
    assert await rig.mirror.wait_for("bathroom_humidity", {"humidity": 81}, timeout=5)
    assert [f.routine for f in await engine.tick()] == ["bathroom_fan_on_when_humid"]


async def test_a_value_already_past_the_threshold_at_start_does_not_fire() -> None:
    """Arm from the first reading after loading: only a crossing seen by the engine fires."""
    from sasha.executor import Executor
    from sasha.mqtt.connection import Incoming, MqttConnection, MqttSettings
    from sasha.state import StateMirror

    mirror = StateMirror(HOME)
    link = MqttConnection(MqttSettings.from_url("mqtt://127.0.0.1:1"))  # never started: commands are held
    engine = RoutineEngine(
        mirror,
        Executor(HOME, link, mirror, ack_wait=0.01),
        zone=BERLIN,
        clock=ManualClock(datetime(2026, 6, 1, 12, tzinfo=UTC)),
    )
    engine.load([_routine(HUMID)])

    def reading(value: str) -> None:
        mirror.handle(Incoming("sasha-demo/bathroom_humidity/humidity", value.encode()))

    reading("75")  # a restart while it is humid: no crossing was seen
    assert await engine.tick() == []
    reading("40")
    reading("70")
    assert [f.routine for f in await engine.tick()] == ["bathroom_fan_on_when_humid"]
    assert link.held == 1


async def test_state_condition_gates_a_time_trigger(rig: Rig) -> None:
    """Skip the evening routine while nobody is in the hallway; run it when someone is."""
    clock = ManualClock(datetime(2026, 6, 1, 17, tzinfo=UTC))  # 19:00 in Berlin
    engine = RoutineEngine(rig.mirror, rig.executor, zone=BERLIN, clock=clock)
    evening = {
        **NIGHT,
        "trigger": {"type": "time", "at": "19:30"},
        "conditions": [{"type": "state", "device": "hallway_presence", "capability": "occupancy", "equals": True}],
    }
    engine.load([_routine(evening)])
    clock.advance(3600)
    assert await engine.tick() == []
    rig.simulator.set_values("hallway_presence", {"occupancy": True})
    assert await rig.mirror.wait_for("hallway_presence", {"occupancy": True}, timeout=5)
    clock.advance(24 * 3600)
    assert len(await engine.tick()) == 1
