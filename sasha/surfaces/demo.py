"""`sasha demo` and `sasha chat`: the simulated home (for the demo) and a conversation with it.

With no broker configured the demo starts an embedded one (amqtt) in the process, so it needs
nothing installed. It runs the simulated home from the inventory and opens the chat. Without
a terminal it plays a short tour first, then reads requests from standard input.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from rich.console import Console

from sasha.config import Settings
from sasha.home.inventory import Inventory
from sasha.mqtt.connection import MqttConnection
from sasha.mqtt.embedded import EmbeddedBroker
from sasha.planning.planner import NO_MODEL
from sasha.sim.simulator import Simulator
from sasha.surfaces.chat import PROMPT, Chat, ReadLine, terminal_reader
from sasha.surfaces.runtime import running

TOUR = [
    "turn on the living room lamp",
    "dim the kitchen lights to 30 percent",
    "turn off all the lights upstairs",
    "turn on the kitchen light and turn off the living room lamp",
    "what's the temperature in the bedroom?",
    "is the front door locked?",
    "resume the tv",
    "turn the volume up on the tv",
    "set the fan to 40 percent",
    "the ceiling one",
    "lock the front door",
    "open the garage door",
    "make it cozy",
    "/state living room",
    "undo",
]


def _tour_then_stdin(console: Console) -> ReadLine:
    """Type the tour's requests, then read standard input (EOF ends the chat)."""
    queue = list(TOUR)
    stdin = terminal_reader(console)

    async def read(prompt: str) -> str | None:
        if queue and prompt == PROMPT:
            line = queue.pop(0)
            console.print(f"{prompt}{line}")
            return line
        return await stdin(prompt)

    return read


@contextlib.asynccontextmanager
async def _simulated(home: Inventory, settings: Settings) -> AsyncIterator[Simulator]:
    async with MqttConnection(settings.mqtt(), client_id="sasha-demo-sim") as link:
        simulator = Simulator(home, link, seed=1)
        await simulator.attach()
        physics = asyncio.create_task(simulator.run_physics(5.0), name="demo-physics")
        try:
            yield simulator
        finally:
            physics.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await physics


async def chat(
    home: Inventory, settings: Settings, console: Console, read: ReadLine | None = None, *, run_routines: bool = False
) -> int:
    """Open the chat on the configured broker; the demo also runs the routines (`sasha run` does otherwise)."""
    async with running(home, settings, run_routines=run_routines) as rt:
        try:
            await rt.link.wait_connected(5)
        except TimeoutError:
            console.print(f"Cannot reach the broker at {settings.mqtt().url}.", markup=False)
            return 1
        await rt.mirror.wait_until(lambda: rt.mirror.complete, 3)
        if rt.model is None:
            console.print(f"[yellow]{NO_MODEL}[/yellow]")
        engine = asyncio.create_task(rt.engine.run(), name="routines") if rt.engine else None
        try:
            return await Chat(rt.assistant, rt.mirror, console, read or terminal_reader(console)).run()
        finally:
            if engine is not None:
                engine.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await engine


async def demo(home: Inventory, settings: Settings, console: Console) -> int:
    """Run the simulated home on an embedded (or the configured) broker and chat with it."""
    async with contextlib.AsyncExitStack() as stack:
        update: dict[str, object] = {}
        if "mqtt_url" not in settings.model_fields_set:
            broker = await stack.enter_async_context(EmbeddedBroker())
            update["mqtt_url"] = broker.url
            console.print(f"Embedded MQTT broker at [bold]{broker.url}[/bold]")
            console.print(f"  watch it:  mosquitto_sub -h 127.0.0.1 -p {broker.port} -t '#' -v")
        if "state_dir" not in settings.model_fields_set:
            update["state_dir"] = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sasha-demo-")))
        settings = settings.model_copy(update=update)
        await stack.enter_async_context(_simulated(home, settings))
        console.print(f"Simulating {len(home)} devices of {home.home.name} ({len(home.rooms)} rooms).")
        read = None if sys.stdin.isatty() else _tour_then_stdin(console)
        return await chat(home, settings, console, read, run_routines=True)
    return 0
