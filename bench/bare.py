"""The same round trip with nothing but aiomqtt: the ceiling the executor is measured against."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator

from harness import mqtt_client


@contextlib.asynccontextmanager
async def bare_echo(url: str) -> AsyncIterator[None]:
    """Run a device that answers every `bare/<id>/set` with its payload on `bare/<id>`."""
    async with mqtt_client(url) as device:
        await device.subscribe("bare/+/set", qos=1)

        async def echo() -> None:
            async for message in device.messages:
                if message.topic.value == "bare/stop/set":
                    return  # ends on a message: cancelling aiomqtt's message iterator can hang
                await device.publish(message.topic.value.removesuffix("/set"), message.payload, qos=1)

        echoing = asyncio.create_task(echo())
        try:
            yield
        finally:
            await device.publish("bare/stop/set", b"", qos=1)
            await echoing


async def bare_roundtrip(url: str, commands: int, devices: int = 9) -> float:
    """Publish a command, let an echoing device publish its state, wait for it; return commands/s."""
    async with bare_echo(url), mqtt_client(url) as controller:
        await controller.subscribe("bare/+", qos=1)
        start = time.perf_counter()
        for i in range(commands):
            topic = f"bare/light_{i % devices}"
            payload = json.dumps({"brightness": i % 100 + 1})
            await controller.publish(f"{topic}/set", payload, qos=1)
            async for message in controller.messages:
                if message.topic.value == topic and json.loads(message.payload) == json.loads(payload):  # type: ignore[arg-type]
                    break
        return commands / (time.perf_counter() - start)
