"""`sasha demo`: a private broker, the simulated home, and a short walk-through of it.

Until the chat exists this shows the foundation at work: commands go through validation,
the protocol adapters and a real MQTT broker to the simulated devices, and come back
through their state topics into the state mirror.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from sasha.broker import Mosquitto
from sasha.executor import Action, Result
from sasha.inventory import Inventory
from sasha.mqtt import MqttSettings
from sasha.testbed import simulated_home

_STEPS: list[tuple[str, list[Action]]] = [
    (
        "A warm, dim living room",
        [
            Action("living_room_lamp", {"power": "on", "brightness": 30, "color_temp": 2700}, "warm and dim"),
            Action("living_room_ceiling", {"power": "on", "brightness": 20, "color": "orange"}, "soft colour"),
            Action("living_room_led_strip", {"power": "on", "brightness": 40, "color": "#8000ff"}, "backlight"),
            Action("living_room_blinds", {"position": 20}, "privacy"),
        ],
    ),
    (
        "Bedtime climate",
        [
            Action("bedroom_heater", {"power": "on", "target_temperature": 18}, "cool bedroom for sleep"),
            Action("bedroom_fan", {"power": "on", "fan_speed": 25}, "gentle air"),
            Action("office_air_conditioner", {"hvac_mode": "off"}, "nobody works at night"),
        ],
    ),
    (
        "What the validator refuses",
        [
            Action("living_room_lamp", {"brightness": 150}, "out of range"),
            Action("coffee_machine", {"power": "on"}, "does not exist"),
            Action("bathroom_humidity", {"humidity": 30}, "a sensor cannot be set"),
            Action("living_room_thermostat", {"target_temperature": 21.3}, "not a multiple of 0.5"),
        ],
    ),
]


async def walkthrough(home: Inventory, console: Console) -> int:
    """Run the walk-through; return 0 when every valid command came back from its device."""
    failures = 0
    async with Mosquitto() as broker:
        settings = MqttSettings.from_url(broker.url)
        console.print(f"[bold]Private MQTT broker[/bold] at {broker.url}")
        console.print(f"  watch it:  mosquitto_sub -h 127.0.0.1 -p {broker.port} -t '#' -v\n")
        async with simulated_home(home, settings) as bed:
            executor, mirror = bed.executor, bed.mirror
            for title, actions in _STEPS:
                console.rule(title)
                table = Table("device", "protocol", "asked", "result", "device now reports")
                for action, outcome in zip(actions, await executor.execute(actions), strict=True):
                    device = home.get(action.device)
                    reported = ""
                    if outcome.result is Result.PUBLISHED and device is not None:
                        arrived = await mirror.wait_for(device.id, outcome.action.set, timeout=3)
                        failures += not arrived
                        now = mirror.values(device.id)
                        reported = ", ".join(f"{k}={now.get(k)}" for k in outcome.action.set)
                    asked = ", ".join(f"{k}={v}" for k, v in action.set.items())
                    result = outcome.result.value + (f": {outcome.error}" if outcome.error else "")
                    protocol = device.protocol.value if device else "-"
                    table.add_row(action.device, protocol, asked, result, reported)
                console.print(table)
            console.rule("Undo the last change")
            for outcome in await executor.undo():
                console.print(f"  {outcome.action.device}: {outcome.result.value} {dict(outcome.action.set)}")
    console.print(
        "\nThe chat and the model-driven planner come next; `sasha sim --mqtt-url URL` runs this home on your broker."
    )
    return 1 if failures else 0
