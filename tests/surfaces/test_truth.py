"""Device truth through real processes: `sasha sim` with misbehaving devices, `sasha run`, an MQTT client."""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from sasha.mqtt.mosquitto import Mosquitto
from tests.conftest import EXAMPLE, start_sasha


def _client(url: str) -> aiomqtt.Client:
    host, port = url.removeprefix("mqtt://").split(":")
    return aiomqtt.Client(host, int(port), identifier=f"t-{uuid.uuid4().hex[:8]}")


async def _stop(process: asyncio.subprocess.Process) -> int:
    process.send_signal(signal.SIGTERM)
    async with asyncio.timeout(15):
        return await process.wait()


@pytest.fixture
async def home_with_faults(broker: Mosquitto, tmp_path: Path) -> AsyncIterator[str]:
    """Run `sasha sim` (a silent garage light, an office light 0.5 s late) and `sasha run`; yield the broker URL."""
    url = broker.url
    sim = await start_sasha(
        "sim", "--devices", str(EXAMPLE), "--mqtt-url", url, "--silent", "garage_light", "--late", "office_light=0.5"
    )
    run = await start_sasha("run", "--devices", str(EXAMPLE), "--mqtt-url", url, "--state-dir", str(tmp_path))
    try:
        async with _client(url) as watcher:
            await watcher.subscribe("sasha/status", qos=1)
            async with asyncio.timeout(20):
                async for message in watcher.messages:
                    if message.payload == b"online":
                        break
        yield url
    finally:
        assert await _stop(run) == 0
        assert await _stop(sim) == 0


async def ask(client: aiomqtt.Client, text: str, conversation: str) -> dict[str, Any]:
    """Send one request in a conversation and return its reply."""
    reply_to = f"sasha/reply/t/{conversation}"
    request = {"text": text, "conversation": conversation, "reply_to": reply_to}
    await client.publish("sasha/request", json.dumps(request))
    async with asyncio.timeout(15):
        async for message in client.messages:
            if message.topic.matches(reply_to):
                assert isinstance(message.payload, bytes)
                reply: dict[str, Any] = json.loads(message.payload)
                return reply
    raise AssertionError("no reply")


async def test_a_silent_device_is_said_not_to_confirm(home_with_faults: str) -> None:
    """Confirm the late office light, say the silent garage light did not confirm, and answer the next question true."""
    async with _client(home_with_faults) as client:
        await client.subscribe("sasha/reply/t/#", qos=1)
        reply = await ask(client, "turn on the office light and turn on the garage light", "c1")
        assert reply["status"] == "done"
        confirmations = {a["device"]: a["confirmation"] for a in reply["actions"]}
        assert confirmations == {"office_light": "confirmed", "garage_light": "unconfirmed"}
        assert reply["message"] == "Office light on. The Garage light did not confirm."
        # The next turn does not claim what the device never said.
        answer = await ask(client, "is the garage light on", "c1")
        assert answer["status"] == "answer"
        assert "no reading" in answer["message"]
        confirmed = await ask(client, "turn off the office light", "c1")
        assert confirmed["message"] == "Done. Office light off."
        assert [a["confirmation"] for a in confirmed["actions"]] == ["confirmed"]
