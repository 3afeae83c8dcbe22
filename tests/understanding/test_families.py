"""What people say to a home, answered locally, each row on the broker and with zero model calls.

Everything off, a room's climate, named values, questions, the place a request comes from.
"""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

from sasha.assistant import Assistant
from sasha.home import inventory
from sasha.home.inventory import Inventory
from sasha.mqtt.connection import MqttSettings
from sasha.mqtt.mosquitto import Mosquitto
from sasha.planning.planner import Planner
from sasha.sim.testbed import simulated_home
from tests.conftest import EXAMPLE, ROOT, Rig, start_sasha
from tests.surfaces.test_daemon import _client, request
from tests.understanding.table import Row, answer, ask, table

LARGE = ROOT / "tests" / "scenarios" / "homes" / "large_house.yaml"
OFF = {"power": "off"}
ON = {"power": "on"}
KITCHEN_OFF = dict.fromkeys(["kitchen_light", "kitchen_oven", "kitchen_kettle_plug", "main_water_valve"], OFF)
UPSTAIRS_OFF = dict.fromkeys(
    ["bedroom_light", "bedroom_bedside_lamp", "bedroom_heater", "bedroom_fan", "bedroom_speaker", "bathroom_light"],
    OFF,
) | dict.fromkeys(["bathroom_fan", "office_light", "office_plug"], OFF)


def _everything_off(home: Inventory) -> dict[str, dict[str, str]]:
    """Every device whose power Sasha may switch off without a yes: all but the alarm (off disarms it)."""
    return {d.id: OFF for d in home.devices.values() if "power" in d.writable and d.id != "house_alarm"}


def example_rows(home: Inventory) -> list[Row]:
    """Return the rows of the example home."""
    return [
        # "everything": power off only, never an open or an unlock; the alarm stays armed
        Row("switch off everything in the kitchen", KITCHEN_OFF),
        Row("turn off everything upstairs", UPSTAIRS_OFF),
        Row("turn off all of it in the office", dict.fromkeys(["office_light", "office_plug"], OFF)),
        Row("turn everything off", _everything_off(home), says="left the House alarm", given={"house_alarm": ON}),
        ask("turn on everything", "never on"),
        # a room's climate by the room
        Row("set the bedroom to 19 degrees", {"bedroom_heater": {"target_temperature": 19}}),
        Row("set the living room to 21", {"living_room_thermostat": {"target_temperature": 21}}),
        Row(
            "turn up the heat in the living room",
            {"living_room_thermostat": {"target_temperature": 21}},
            given={"living_room_thermostat": {"target_temperature": 20}},
        ),
        Row(
            "make it warmer in the office",
            {"office_air_conditioner": {"target_temperature": 23}},
            given={"office_air_conditioner": {"target_temperature": 22}},
        ),
        Row(
            "make the bedroom cooler",
            {"bedroom_heater": {"target_temperature": 19}},
            given={"bedroom_heater": {"target_temperature": 20, "power": "on"}},
        ),
        Row(
            "make it warmer",
            {"bedroom_heater": {"target_temperature": 21, "power": "on"}},
            given={"bedroom_heater": {"target_temperature": 20, "power": "off"}},
            area="bedroom",
        ),
        ask("make it warmer", "Which one do you mean: Living room thermostat, Bedroom heater, Air conditioner"),
        ask("set upstairs to 19 degrees", "Which one do you mean: Bedroom heater, Air conditioner"),
        # modes and named values
        Row("set the ac to cool", {"office_air_conditioner": {"hvac_mode": "cool"}}),
        Row("set the ac to fan only", {"office_air_conditioner": {"hvac_mode": "fan_only"}}),
        Row("set the living room ceiling light to warm white", {"living_room_ceiling": {"color_temp": 2700, **ON}}),
        Row("set the bedside lamp to daylight", {"bedroom_bedside_lamp": {"color_temp": 6500, **ON}}),
        Row("set the bedroom light to daylight", {"bedroom_light": {"color_temp": 5000, **ON}}),  # its warmest max
        Row("turn the office light cool white", {"office_light": {"color_temp": 5000, **ON}}),
        Row("preheat the oven to 200", status="needs_confirmation", says="Oven"),
        # questions
        answer("is anything on downstairs?", "Kitchen light", kitchen_light=ON),
        answer(
            "is anything on in the office?",
            "No, nothing in the Office is on",
            office_light=OFF,
            office_plug=OFF,
        ),
        answer("what's the temperature", "Bedroom 21.5 °C", bedroom_climate={"temperature": 21.5}),
        answer("how warm is it outside", "7.5 °C (Garden weather sensor)", garden_sensor={"temperature": 7.5}),
        answer(
            "which batteries are low?",
            "Low: Kitchen smoke detector 12 %",
            kitchen_smoke={"battery": 12},
            front_door={"battery": 90},
        ),
        answer("what are the battery levels", "Front door lock 90 %", front_door={"battery": 90}),
        answer(
            "what's playing?",
            "Playing: Television",
            living_room_tv={"playback": "playing"},
            bedroom_speaker={"playback": "stopped"},
        ),
        # time: kept as timers, nothing is sent now; the routines' safety rule
        Row("turn off the lights in the kitchen in 10 minutes", says="Timer set: Kitchen light off at"),
        Row("in half an hour turn off the tv", says="Timer set: Television off at"),
        Row("lock the front door at 11pm", says="Timer set: Front door lock locked at 23:00"),
        Row("unlock the front door in 5 minutes", status="infeasible", says="only towards safety"),
        Row("turn on the ceiling fan for 10 minutes", {"bedroom_fan": ON}, says="Back at", given={"bedroom_fan": OFF}),
        answer("what timers are set", "Timers: 1) "),
        Row("cancel all timers", says="Cancelled 4 timers"),
        # the place the request comes from
        Row("turn off the lights", dict.fromkeys(["bedroom_light", "bedroom_bedside_lamp"], OFF), area="bedroom"),
        Row("turn on the lights", {"kitchen_light": ON}, area="Kitchen"),
        Row("close the blinds", {"bedroom_curtains": {"position": 0}}, area="master bedroom"),
        answer("what's the temperature", "in the Bedroom: 21.5 °C", "bedroom", bedroom_climate={"temperature": 21.5}),
        ask("turn off the lights", "Which lights do you mean", area="no such room"),
        ask("turn off the lights", "Which lights do you mean"),
    ]


LARGE_ROWS = [
    Row(
        "switch off everything in the kitchen",
        dict.fromkeys(["kitchen_ceiling", "kitchen_lamp", "kitchen_plug", "kitchen_speaker"], OFF),
    ),
    Row("set the study to 19 degrees", {"study_thermostat": {"target_temperature": 19}}),
    Row(
        "make it warmer in the library",
        {"library_thermostat": {"target_temperature": 20.5}},
        given={"library_thermostat": {"target_temperature": 19.5}},
    ),
    Row(
        "turn down the heating",
        {"nursery_thermostat": {"target_temperature": 17}},
        given={"nursery_thermostat": {"target_temperature": 18}},
        area="nursery",
    ),
    Row("set the study ceiling light to warm white", {"study_ceiling": {"color_temp": 2700, **ON}}),
    Row("turn off the lights", dict.fromkeys(["gym_ceiling", "gym_lamp"], OFF), area="gym"),
    Row("turn on the lamp", {"living_room_lamp": ON}, area="lounge"),
    answer("is anything on in the sauna", "Sauna lamp", sauna_lamp=ON),
    ask("what's the temperature", "where? I have readings in 21 rooms"),
    answer("how warm is it outside", "no room here is outdoors"),
    ask("make it warmer", "Which one do you mean"),
    answer("what's playing", "Playing: Gym speaker", gym_speaker={"playback": "playing"}),
    answer("is anything on upstairs", "Nursery lamp", nursery_lamp=ON),
    Row("turn off the gym lamp at 23 30", says="Timer set: Gym lamp off at 23:30"),
    Row("cancel the timer", says="Cancelled 1 timer: Gym lamp off."),
]


async def test_families_in_the_example_home(broker: Mosquitto, home: Inventory) -> None:
    """Answer every family locally in the example home: exactly these devices, or a question, no model call."""
    await table(broker, home, example_rows(home))


async def test_families_in_the_large_house(broker: Mosquitto) -> None:
    """Answer every family locally in the 170-device house."""
    await table(broker, inventory.from_file(LARGE), LARGE_ROWS)


async def test_a_conversation_answers_the_climate_question(broker: Mosquitto, home: Inventory) -> None:
    """Ask which thermostat, take "the bedroom one" or a number, and move only that one (no model)."""
    async with simulated_home(home, MqttSettings.from_url(broker.url), seed=3, ack_wait=2.0) as bed:
        assistant = Assistant(home, bed.executor, Planner(home, None, state=bed.mirror.snapshot), mirror=bed.mirror)
        for device in ("bedroom_heater", "office_air_conditioner", "living_room_thermostat"):
            assert not bed.simulator.set_values(device, {"target_temperature": 20})
            assert await bed.mirror.wait_for(device, {"target_temperature": 20}, timeout=5)
        asked = await assistant.handle("make it warmer", conversation="c")
        assert (asked.status, asked.actions) == ("clarify", ())
        done = await assistant.handle("the bedroom one", conversation="c")
        assert done.status == "done", done.message
        assert [(a.device, a.set) for a in done.actions] == [
            ("bedroom_heater", {"target_temperature": 21, "power": "on"})
        ]
        again = await assistant.handle("set upstairs to 18 degrees", conversation="c")
        assert again.message == "Which one do you mean: Bedroom heater, Air conditioner?"
        second = await assistant.handle("2", conversation="c")
        assert [(a.device, a.set) for a in second.actions] == [("office_air_conditioner", {"target_temperature": 18})]
        assert await bed.mirror.wait_for("office_air_conditioner", {"target_temperature": 18}, timeout=5)
        assert bed.mirror.get("living_room_thermostat", "target_temperature").value == 20  # type: ignore[union-attr]


async def test_a_conversation_picks_the_room_of_a_reading(broker: Mosquitto) -> None:
    """Ask where in a large house, then answer "in the study" with the study's reading."""
    house = inventory.from_file(LARGE)
    async with simulated_home(house, MqttSettings.from_url(broker.url), seed=3, ack_wait=2.0) as bed:
        assistant = Assistant(house, bed.executor, Planner(house, None, state=bed.mirror.snapshot), mirror=bed.mirror)
        assert not bed.simulator.set_values("study_climate", {"temperature": 19.5})
        assert await bed.mirror.wait_for("study_climate", {"temperature": 19.5}, timeout=5)
        asked = await assistant.handle("what's the temperature?", conversation="t")
        assert asked.status == "clarify", asked.message
        told = await assistant.handle("in the study", conversation="t")
        assert (told.status, told.message) == (
            "answer",
            "The temperature of the Study climate sensor: 19.5 °C (Study climate sensor).",
        )


async def test_sasha_run_reads_the_area_of_a_request(rig: Rig, tmp_path: Path) -> None:
    """A real `sasha run`: "turn off the lights" from the bedroom turns off the bedroom's, and only those."""
    lights = {"bedroom_light": ON, "bedroom_bedside_lamp": ON, "kitchen_light": ON}
    for device, values in lights.items():
        assert not rig.simulator.set_values(device, values)
        assert await rig.mirror.wait_for(device, values, timeout=5)
    url = rig.broker.url
    process = await start_sasha(
        "run", "--open", "--devices", str(EXAMPLE), "--mqtt-url", url, "--state-dir", str(tmp_path)
    )
    try:
        await _online(url)
        body = {"text": "turn off the lights", "conversation": "sat-1", "area": "Master bedroom"}
        reply, _ = await request(url, json.dumps(body), timeout=10)
        assert (reply["status"], reply["message"]) == ("done", "Done. Bedroom light and Bedside lamp off."), reply
        assert await rig.mirror.wait_for("bedroom_bedside_lamp", OFF, timeout=5)
        assert await rig.mirror.wait_for("bedroom_light", OFF, timeout=5)
        everything, _ = await request(url, json.dumps({"text": "switch off everything in the kitchen"}), timeout=10)
        assert everything["status"] == "done", everything
        assert await rig.mirror.wait_for("kitchen_light", OFF, timeout=5)
        long = {"text": "turn off the lights", "area": "x" * 200, "reply_to": "sasha/reply/far"}
        far, _ = await request(url, json.dumps(long), listen="sasha/reply/far", timeout=10)
        assert far["status"] == "rejected", far
    finally:
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(15):
            assert await process.wait() == 0


async def _online(url: str) -> None:
    async with _client(url) as watcher:
        await watcher.subscribe("sasha/status", qos=1)
        async with asyncio.timeout(15):
            async for message in watcher.messages:
                if message.payload == b"online":
                    return
