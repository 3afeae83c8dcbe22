"""Relevance selection: large homes keep prompts bounded, locally when the request names things."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime

import pytest

from sasha.home.inventory import Inventory
from sasha.planning.llm.client import ModelClient
from sasha.planning.llm.scripted import ScriptedModel
from sasha.planning.planner import Planner
from sasha.planning.relevance import focus, mentioned, sensors_for
from sasha.sim import synthetic
from tests.conftest import model_settings

BIG = synthetic.home(100)  # over the 40-device limit: a selection call for vague goals
HUGE = synthetic.home(400)  # over four times the limit: rooms are picked first


def test_mentioned_rooms_and_names(home: Inventory) -> None:
    """Find the devices of named rooms and devices named by name or alias, whole words only."""
    bathroom = {d.id for d in mentioned(home, "Make the BATHROOM nice!")}
    assert bathroom == {"bathroom_light", "bathroom_fan", "bathroom_humidity"}
    assert [d.id for d in mentioned(home, "turn on the reading lamp")] == ["living_room_lamp"]
    assert mentioned(home, "help me sleep better") == []
    assert mentioned(home, "turn on the tvs") == []  # "tv" is an alias; "tvs" is not


@pytest.fixture
async def big_planner(scripted: ScriptedModel) -> AsyncIterator[Planner]:
    """Plan over a 100-device home with at most 40 devices in a prompt."""
    client = ModelClient(model_settings(scripted))
    yield Planner(BIG, client, state=lambda: {}, max_devices_in_prompt=40)
    await client.close()


_SHOWN = re.compile(r"^([a-z0-9_]+)(?::| \|) ")


def _prompt_devices(request: dict[str, object]) -> list[str]:
    """Return the devices the live message of a decision call shows (current values or full lines)."""
    content = str(request["messages"][-1]["content"])  # type: ignore[index]
    return [m.group(1) for line in content.splitlines() if (m := _SHOWN.match(line))]


async def test_a_named_room_needs_no_selection_call(big_planner: Planner, scripted: ScriptedModel) -> None:
    """Plan with the devices of the room the request names, without a selection call."""
    room = next(iter(BIG.rooms.values()))
    light = next(d for d in BIG.in_room(room.id) if d.type.value == "light")
    scripted.add(
        {"kind": "plan", "message": "ok", "actions": [{"device": light.id, "set": {"power": "on"}, "reason": "r"}]}
    )
    result = await big_planner.plan(f"make the {room.name} cozy", "r")
    assert result.kind == "plan"
    assert [c.purpose for c in result.calls] == ["plan"]
    assert sorted(_prompt_devices(scripted.requests[0])) == sorted(d.id for d in BIG.in_room(room.id))
    # Feedback names nothing, but the devices of the last turn carry over: still no selection.
    scripted.add(
        {"kind": "plan", "message": "ok", "actions": [{"device": light.id, "set": {"brightness": 20}, "reason": "r"}]}
    )
    result = await big_planner.plan("too bright", "r")
    assert [c.purpose for c in result.calls] == ["plan"]
    assert light.id in _prompt_devices(scripted.requests[1])


async def test_a_vague_goal_gets_a_selection_call(big_planner: Planner, scripted: ScriptedModel) -> None:
    """Ask the model which devices matter, ignore ids it made up, and plan with the rest."""
    lights = [d.id for d in BIG.devices.values() if d.type.value == "light"][:3]
    scripted.add(
        {"devices": [*lights, "moon_lamp_9000"]},
        {"kind": "plan", "message": "ok", "actions": [{"device": lights[0], "set": {"power": "off"}, "reason": "r"}]},
    )
    result = await big_planner.plan("help me sleep better")
    assert [c.purpose for c in result.calls] == ["select", "plan"]
    select = scripted.requests[0]
    assert select["response_format"]["json_schema"]["name"] == "sasha_select"  # type: ignore[index]
    assert "moon_lamp_9000" not in _prompt_devices(scripted.requests[1])
    assert _prompt_devices(scripted.requests[1]) == lights
    assert result.devices == tuple(lights)
    assert len(str(scripted.requests[1]["messages"][-1]["content"])) < 5000  # type: ignore[index]


async def test_an_unreadable_selection_still_plans(big_planner: Planner, scripted: ScriptedModel) -> None:
    """Plan with no devices (and so say it cannot) when the selection answer is garbage."""
    scripted.add({"raw": "lights, I guess"}, {"kind": "infeasible", "message": "I do not know which devices."})
    result = await big_planner.plan("help me sleep better")
    assert result.kind == "infeasible"
    assert _prompt_devices(scripted.requests[1]) == []


async def test_a_huge_home_picks_rooms_first(scripted: ScriptedModel) -> None:
    """Narrow a 400-device home by room before any device catalog is sent."""
    rooms = list(HUGE.rooms)[:2]
    in_rooms = [d.id for d in HUGE.devices.values() if d.room in rooms]
    scripted.add(
        {"rooms": [*rooms, "moon_base"]},
        {"kind": "clarify", "message": "Which bedroom?", "actions": [], "routine": None},
    )
    client = ModelClient(model_settings(scripted))
    planner = Planner(HUGE, client, state=lambda: {}, max_devices_in_prompt=40)
    result = await planner.plan("help me sleep better")
    await client.close()
    assert [c.purpose for c in result.calls] == ["rooms", "plan"]
    assert scripted.requests[0]["response_format"]["json_schema"]["name"] == "sasha_rooms"  # type: ignore[index]
    catalog = str(scripted.requests[0]["messages"])
    assert HUGE.devices[in_rooms[0]].id not in catalog  # rooms and kinds only, no device ids
    assert sorted(_prompt_devices(scripted.requests[1])) == sorted(in_rooms)
    assert result.kind == "clarify"


def test_focus_is_the_named_rooms_plus_sensors_they_lack(home: Inventory) -> None:
    """Take the named rooms' devices, and sensors elsewhere only for readings those rooms cannot take."""
    living = {d.id for d in home.in_room("living_room")}
    # The living room reads its own temperature: no other room's thermometer is needed.
    assert {d.id for d in focus(home, "make the living room cozy")} == living
    kitchen = {d.id for d in home.in_room("kitchen")}
    warmer = {d.id for d in focus(home, "warm up the kitchen")}
    assert kitchen < warmer
    assert {"garden_sensor", "bedroom_climate"} <= warmer
    assert all(not home.devices[i].writable for i in warmer - kitchen)
    assert focus(home, "help me sleep better") == []
    assert {d.id for d in sensors_for(home, "the bathroom is too humid")} >= {"bathroom_humidity"}


async def test_a_named_room_narrows_the_prompt_of_a_small_home(home: Inventory, scripted: ScriptedModel) -> None:
    """List only the named room's devices even under the prompt limit; a vague goal keeps the whole home."""
    client = ModelClient(model_settings(scripted))
    planner = Planner(home, client, state=lambda: {}, max_devices_in_prompt=40)
    answer = {"kind": "answer", "message": "ok", "actions": [], "routine": None}
    scripted.add(answer, answer)
    await planner.plan("make the bathroom nice")
    await planner.plan("make it cozy")
    await client.close()
    assert sorted(_prompt_devices(scripted.requests[0])) == sorted(d.id for d in home.in_room("bathroom"))
    assert len(_prompt_devices(scripted.requests[1])) == len(home)
    enum = scripted.requests[0]["response_format"]["json_schema"]["schema"]["properties"]["actions"]  # type: ignore[index]
    assert set(enum["items"]["properties"]["device"]["enum"]) <= {d.id for d in home.in_room("bathroom")}


def test_room_aliases_floors_and_ids_focus(home: Inventory) -> None:
    """Focus a request on the rooms its aliases and floors name, and on devices named by id."""
    assert {d.room for d in focus(home, "turn the lounge lamps down")} == {"living_room"}
    assert {d.room for d in focus(home, "is the study too warm?")} == {"office"}
    upstairs = {d.room for d in mentioned(home, "it is too dark upstairs")}
    assert upstairs == {"bedroom", "bathroom", "office"}
    assert [d.id for d in mentioned(home, "is main_water_valve shut?")] == ["main_water_valve"]
    assert mentioned(home, "it is too dark") == []


async def test_the_stable_start_is_byte_identical_across_requests_states_and_times(
    home: Inventory, scripted: ScriptedModel
) -> None:
    """Send the same system message for two requests with different states and clocks; only the live part differs."""
    client = ModelClient(model_settings(scripted))
    states = iter([{"living_room_lamp": {"power": "off"}}, {"living_room_lamp": {"power": "on", "brightness": 80}}])
    clocks = iter([datetime(2026, 11, 26, 7, 0), datetime(2026, 12, 24, 23, 59)])
    state = next(states)
    clock = next(clocks)
    planner = Planner(home, client, state=lambda: state, clock=lambda: clock, max_devices_in_prompt=40)
    answer = {"kind": "answer", "message": "ok", "actions": [], "routine": None}
    scripted.add(answer, answer)
    await planner.plan("is the lounge lamp on?", "a")
    state, clock = next(states), next(clocks)
    await planner.plan("is the lounge lamp on?", "b")
    await client.close()
    first, second = (r["messages"] for r in scripted.requests)
    assert first[0] == second[0]  # type: ignore[index]
    assert first[1] != second[1]  # type: ignore[index]
    live = (str(first[1]), str(second[1]))  # type: ignore[index]
    assert ("07:00" in live[0], "power=off" in live[0]) == (True, True)
    assert ("23:59" in live[1], "brightness=80" in live[1]) == (True, True)
    for text in ("07:00", "23:59", "power=o", "brightness=80"):
        assert text not in str(first[0])  # type: ignore[index]


async def test_selection_calls_share_the_stable_start(scripted: ScriptedModel) -> None:
    """Start the rooms, select and decision calls of a huge home with the same system message."""
    rooms = list(HUGE.rooms)[:3]
    in_rooms = [d.id for d in HUGE.devices.values() if d.room in rooms]
    scripted.add(
        {"rooms": rooms},
        {"devices": in_rooms[:40]},
        {"kind": "answer", "message": "ok", "actions": [], "routine": None},
    )
    client = ModelClient(model_settings(scripted))
    planner = Planner(HUGE, client, state=lambda: {}, max_devices_in_prompt=10)
    result = await planner.plan("help me sleep better")
    await client.close()
    assert [c.purpose for c in result.calls][:1] == ["rooms"]
    starts = {str(r["messages"][0]) for r in scripted.requests}  # type: ignore[index]
    assert len(scripted.requests) >= 2
    assert len(starts) == 1
