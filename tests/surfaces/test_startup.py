"""`sasha run` says online only when it can answer, at any size: a request sent at that moment is answered."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

import yaml

from sasha.adapters import adapter_for
from sasha.home import inventory
from sasha.mqtt.mosquitto import Mosquitto
from sasha.planning.llm.scripted import ScriptedModel
from sasha.sim import synthetic
from tests.conftest import EXAMPLE, ROOT, clean_env, start_sasha
from tests.planning.test_planner import COZY
from tests.surfaces.test_daemon import _client

STARTS = 20


async def _first_online_then_ask(url: str, ident: str, text: str = "make it cozy") -> dict[str, Any]:
    """Wait for the first `online`, publish a request at once and return its reply."""
    async with _client(url) as client:
        await client.subscribe("sasha/status", qos=1)
        await client.subscribe("sasha/response", qos=1)
        async with asyncio.timeout(30):
            async for message in client.messages:
                if message.topic.matches("sasha/status") and message.payload == b"online":
                    await client.publish("sasha/request", json.dumps({"id": ident, "text": text}), qos=1)
                elif message.topic.matches("sasha/response"):
                    reply: dict[str, Any] = json.loads(message.payload)  # type: ignore[arg-type]
                    if reply.get("id") == ident:
                        return reply
    raise AssertionError("no reply")


async def test_a_request_sent_on_the_first_online_is_answered(scripted: ScriptedModel, tmp_path: Path) -> None:
    """Twenty fresh starts (new broker, new state, a model configured): every first request is answered."""
    env = clean_env(OPENAI_BASE_URL=scripted.base_url, OPENAI_API_KEY="sk-test", SASHA_MODEL="scripted")
    answered = []
    for start in range(STARTS):
        scripted.add(COZY)
        # A fresh broker each time: a session kept from the previous start would hold the
        # subscription and hide a daemon that subscribes after saying online.
        async with Mosquitto() as broker:
            state = tmp_path / f"start-{start}"
            args = ("run", "--open", "--devices", str(EXAMPLE), "--mqtt-url", broker.url, "--state-dir", str(state))
            process = await start_sasha(*args, env=env)
            try:
                reply = await _first_online_then_ask(broker.url, f"start-{start}")
                answered.append(reply["status"])
            finally:
                process.send_signal(signal.SIGTERM)
                async with asyncio.timeout(15):
                    await process.wait()
    assert answered == ["done"] * STARTS
    assert scripted.calls == STARTS


async def _subscriptions(url: str) -> int:
    """Read the broker's own count of subscriptions (`$SYS`, refreshed every second here)."""
    async with _client(url) as client:
        await client.subscribe("$SYS/broker/subscriptions/count")
        async with asyncio.timeout(10):
            async for message in client.messages:
                return int(message.payload)  # type: ignore[arg-type]
    raise AssertionError("no $SYS count")


async def test_a_home_of_3000_devices_answers_and_subscribes_a_few_filters(
    scripted: ScriptedModel, tmp_path: Path
) -> None:
    """`sasha run` on 3,000 generated devices with a model: online, a command answered, a few dozen filters."""
    devices = tmp_path / "devices.yaml"
    devices.write_text(yaml.safe_dump(synthetic.home_data(3000), sort_keys=False))
    env = clean_env(OPENAI_BASE_URL=scripted.base_url, OPENAI_API_KEY="sk-test", SASHA_MODEL="scripted")
    async with Mosquitto(extra=["sys_interval 1"]) as broker:
        before = await _subscriptions(broker.url)
        args = (
            "run",
            "--open",
            "--devices",
            str(devices),
            "--mqtt-url",
            broker.url,
            "--state-dir",
            str(tmp_path / "state"),
        )
        process = await start_sasha(*args, env=env)
        try:
            reply = await _first_online_then_ask(broker.url, "big", "turn on guest room 47 media player 2999")
            assert (reply["id"], reply["status"]) == ("big", "done")
            assert reply["actions"][0]["device"] == "guest_room_47_media_player_2999"
            await asyncio.sleep(1.5)  # the next $SYS count
            # ~5,000 state topics, one filter each, were what kept requests from ever arriving.
            assert await _subscriptions(broker.url) - before <= 40
        finally:
            process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(15):
                await process.wait()
    assert scripted.calls == 0


async def test_a_home_of_3000_devices_that_report_answers_the_request_sent_at_online(
    scripted: ScriptedModel, tmp_path: Path
) -> None:
    """`sasha sim` has published 3,000 devices' retained states: the request sent at online is done and confirmed.

    The daemon meets about 6,600 retained messages when it subscribes; `online` comes before
    them, and the command and its device's report come after them.
    """
    data = synthetic.home_data(3000)
    devices = tmp_path / "devices.yaml"
    devices.write_text(yaml.safe_dump(data, sort_keys=False))
    last = list(inventory.from_dict(data).devices.values())[-1]
    env = clean_env(OPENAI_BASE_URL=scripted.base_url, OPENAI_API_KEY="sk-test", SASHA_MODEL="scripted")
    async with Mosquitto() as broker:
        common = ("--devices", str(devices), "--mqtt-url", broker.url)
        simulator = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "sasha", "sim", *common, cwd=ROOT, env=env, stderr=asyncio.subprocess.DEVNULL
        )
        try:
            async with _client(broker.url) as client:  # the simulator publishes in order: the last device last
                await client.subscribe(adapter_for(last).state_topics(last)[0], qos=1)
                async with asyncio.timeout(60):
                    await anext(aiter(client.messages))
            process = await start_sasha("run", "--open", *common, "--state-dir", str(tmp_path / "state"), env=env)
            try:
                reply = await _first_online_then_ask(broker.url, "big", f"turn on {last.name}")
            finally:
                process.send_signal(signal.SIGTERM)
                async with asyncio.timeout(15):
                    await process.wait()
        finally:
            simulator.terminate()
            await simulator.wait()
    assert (reply["id"], reply["status"]) == ("big", "done")
    assert [(a["device"], a["confirmation"]) for a in reply["actions"]] == [(last.id, "confirmed")]
    assert scripted.calls == 0
