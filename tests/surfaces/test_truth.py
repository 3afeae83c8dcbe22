"""Device truth through real processes: `sasha sim` with misbehaving devices, `sasha run`, an MQTT client."""

from __future__ import annotations

import asyncio
import contextlib
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


@contextlib.asynccontextmanager
async def served(broker: Mosquitto, state: Path, sim: tuple[str, ...], run: tuple[str, ...] = ()) -> AsyncIterator[str]:
    """Run `sasha sim SIM…` and `sasha run RUN…` on the broker until `online`; yield the broker URL."""
    url = broker.url
    simulator = await start_sasha("sim", "--devices", str(EXAMPLE), "--mqtt-url", url, *sim)
    daemon = await start_sasha(
        "run", "--open", "--devices", str(EXAMPLE), "--mqtt-url", url, "--state-dir", str(state), *run
    )
    try:
        async with _client(url) as watcher:
            # The daemon is ready, and the simulator has said every device's availability (the last one's last).
            waiting = {"sasha/status", "sasha-demo/front_yard_sprinkler/availability"}
            for topic in waiting:
                await watcher.subscribe(topic, qos=1)
            async with asyncio.timeout(20):
                async for message in watcher.messages:
                    if isinstance(message.payload, bytes) and b"online" in message.payload:
                        waiting.discard(message.topic.value)
                    if not waiting:
                        break
        await asyncio.sleep(0.2)  # the daemon's own connection hears the same retained messages
        yield url
    finally:
        assert await _stop(daemon) == 0
        assert await _stop(simulator) == 0


@pytest.fixture
async def home_with_faults(broker: Mosquitto, tmp_path: Path) -> AsyncIterator[str]:
    """Run `sasha sim` (a silent garage light, an office light 0.5 s late) and `sasha run`; yield the broker URL."""
    async with served(broker, tmp_path, ("--silent", "garage_light", "--late", "office_light=0.5")) as url:
        yield url


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


async def test_an_offline_device_is_said_offline_before_acting(broker: Mosquitto, tmp_path: Path) -> None:
    """Say the ceiling light is offline and sent anyway; once the simulator brings it back, it confirms."""
    async with served(broker, tmp_path, ("--offline", "living_room_ceiling")) as url, _client(url) as client:
        await client.subscribe("sasha/reply/t/#", qos=1)
        reply = await ask(client, "turn on the ceiling light", "c2")
        assert reply["status"] == "done"
        assert reply["message"] == (
            "The Living room ceiling light is offline; I sent the command anyway."
            " The Living room ceiling light did not confirm."
        )
        assert [a["confirmation"] for a in reply["actions"]] == ["unconfirmed"]
        await client.publish("sasha-sim/availability/living_room_ceiling", b"online", qos=1)
        for _ in range(50):  # the daemon hears the simulator's availability on its own connection
            again = await ask(client, "turn on the ceiling light", "c2")
            if "offline" not in again["message"]:
                break
        assert again["message"] == "Done. Living room ceiling light on."
        assert [a["confirmation"] for a in again["actions"]] == ["confirmed"]


async def test_offline_commands_can_be_skipped(broker: Mosquitto, tmp_path: Path) -> None:
    """With `--offline-commands skip`, send nothing to an offline device and say so."""
    run = ("--offline-commands", "skip")
    async with served(broker, tmp_path, ("--offline", "hallway_light"), run) as url, _client(url) as client:
        await client.subscribe("sasha/reply/t/#", qos=1)
        reply = await ask(client, "turn on the hallway light and turn on the office light", "c3")
        assert reply["status"] == "done"
        assert reply["message"] == (
            "The Hallway light is offline, so I did not send it the command."
            " Done. Office light on. Skipped: the device is offline."
        )
        results = {a["device"]: (a["result"], a["confirmation"]) for a in reply["actions"]}
        assert results == {"hallway_light": ("skipped", None), "office_light": ("published", "confirmed")}


async def test_the_story_over_mqtt(broker: Mosquitto, tmp_path: Path) -> None:
    """Ask `sasha run` why the office light is on and what happened, after turning it on in another conversation."""
    async with served(broker, tmp_path, ()) as url, _client(url) as client:
        await client.subscribe("sasha/reply/t/#", qos=1)
        before = await ask(client, "why is the office light on", "s1")
        assert before["status"] == "answer"
        assert before["message"].startswith("I have no record of Sasha having turned on the Office light")
        done = await ask(client, "turn on the office light", "s2")
        assert done["message"] == "Done. Office light on."
        why = await ask(client, "why is the office light on?", "s1")
        assert why["status"] == "answer"
        assert why["message"].startswith("Office light on at ")
        assert why["message"].endswith(": “turn on the office light”, asked over MQTT.")
        span = await ask(client, "what happened in the last hour", "s1")
        assert span["message"].startswith("In the last hour: ")
        assert span["message"].endswith(" Office light on (“turn on the office light”).")
        assert (span["usage"]["model_calls"], span["actions"]) == (0, [])


async def test_silent_devices_do_not_hold_up_another_command(home_with_faults: str) -> None:
    """Answer a command to a live device first while three commands wait for the silent garage light."""
    async with _client(home_with_faults) as client:
        await client.subscribe("sasha/reply/t/#", qos=1)
        for i in range(3):
            body = {"text": "turn on the garage light", "conversation": f"g{i}", "reply_to": f"sasha/reply/t/g{i}"}
            await client.publish("sasha/request", json.dumps(body))
        body = {"text": "turn on the bathroom light", "conversation": "b", "reply_to": "sasha/reply/t/b"}
        await client.publish("sasha/request", json.dumps(body))
        order: list[str] = []
        async with asyncio.timeout(20):
            async for message in client.messages:
                order.append(message.topic.value.rsplit("/", 1)[-1])
                if len(order) == 4:
                    break
        # Each garage reply waits out confirm_wait; the bathroom light confirms at once.
        assert order[0] == "b", order
