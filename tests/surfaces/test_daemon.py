"""The MQTT API against mosquitto with real MQTT v5 clients: the daemon as other programs see it."""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from sasha.assistant import Assistant
from sasha.history.audit import AuditLog
from sasha.mqtt.connection import MqttSettings
from sasha.mqtt.mosquitto import Mosquitto
from sasha.planning.llm.client import ModelClient
from sasha.planning.llm.scripted import ScriptedModel
from sasha.planning.planner import Planner
from sasha.surfaces.daemon import Daemon, DaemonOptions, _warm
from tests.conftest import EXAMPLE, Rig, fast, model_settings, start_sasha


@dataclass
class Served:
    """A daemon on the rig's broker, with a movable clock for token expiry."""

    rig: Rig
    model: ScriptedModel
    daemon: Daemon
    now: list[float]
    stop: asyncio.Event


@pytest.fixture
async def served(rig: Rig, scripted: ScriptedModel, tmp_path: Path) -> AsyncIterator[Served]:
    """Serve the MQTT API on the rig's connection until the test ends."""
    client = ModelClient(model_settings(scripted))
    # As a daemon that has been running a while: `sasha run` loads the SDK at its first quiet moment.
    await asyncio.to_thread(client.warm)
    planner = Planner(rig.home, client, state=rig.mirror.snapshot)
    now = [1000.0]
    audit = AuditLog(tmp_path / "audit.db")
    assistant = Assistant(rig.home, rig.executor, planner, audit=audit, clock=lambda: now[0])
    daemon = Daemon(assistant, rig.link, options=DaemonOptions(open=True))
    stop = asyncio.Event()
    task = asyncio.create_task(daemon.serve(stop))
    await asyncio.sleep(0.3)  # let the subscriptions reach the broker
    try:
        yield Served(rig, scripted, daemon, now, stop)
    finally:
        stop.set()
        await task
        await client.close()
        audit.close()


def _client(url: str) -> aiomqtt.Client:
    host, port = url.removeprefix("mqtt://").split(":")
    return aiomqtt.Client(host, int(port), protocol=aiomqtt.ProtocolVersion.V5, identifier=f"t-{uuid.uuid4().hex[:8]}")


async def request(
    url: str,
    payload: bytes | str,
    *,
    topic: str = "sasha/request",
    listen: str = "sasha/response",
    response_topic: str | None = None,
    correlation: bytes | None = None,
    timeout: float = 5,
) -> tuple[dict[str, Any], aiomqtt.Message]:
    """Send one message as an MQTT v5 client and return the first reply on `listen`."""
    async with _client(url) as client:
        await client.subscribe(listen, qos=1)
        properties = None
        if response_topic is not None:
            properties = Properties(PacketTypes.PUBLISH)
            properties.ResponseTopic = response_topic
            if correlation is not None:
                properties.CorrelationData = correlation
        await client.publish(topic, payload, qos=1, properties=properties)
        async with asyncio.timeout(timeout):
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                return json.loads(message.payload), message
    raise AssertionError("no reply")


async def test_plain_text_request(served: Served) -> None:
    """Answer plain text on sasha/response, and act."""
    reply, _ = await request(served.rig.broker.url, "turn on the kitchen light")
    assert reply["status"] == "done"
    assert reply["actions"][0]["device"] == "kitchen_light"
    assert reply["actions"][0]["result"] == "published"
    assert set(reply) >= {"id", "conversation", "status", "message", "actions", "routine", "confirm_token"}
    assert await served.rig.mirror.wait_for("kitchen_light", {"power": "on"}, timeout=5)


async def test_json_request_keeps_id_and_conversation(served: Served) -> None:
    """Echo the request's id and conversation in the reply."""
    body = {"text": "set the hallway light to 20%", "id": "req-7", "conversation": "hall"}
    reply, _ = await request(served.rig.broker.url, json.dumps(body))
    assert (reply["id"], reply["conversation"], reply["status"]) == ("req-7", "hall", "done")


async def test_mqtt5_response_topic_and_correlation_data(served: Served) -> None:
    """Reply on the v5 Response Topic with the request's Correlation Data."""
    reply, message = await request(
        served.rig.broker.url,
        "turn on the garage light",
        listen="sasha/reply/42",
        response_topic="sasha/reply/42",
        correlation=b"\x00corr-42",
    )
    assert reply["status"] == "done"
    assert message.properties is not None
    assert message.properties.CorrelationData == b"\x00corr-42"


async def test_reply_to(served: Served) -> None:
    """Reply on `reply_to` when the request names one."""
    body = {"text": "turn on the garden lights", "reply_to": "sasha/reply/app"}
    reply, message = await request(served.rig.broker.url, json.dumps(body), listen="sasha/reply/app")
    assert reply["status"] == "done"
    assert message.topic.value == "sasha/reply/app"


async def test_sensitive_action_runs_only_after_confirm(served: Served) -> None:
    """Return needs_confirmation for the garage door, and open it only after sasha/confirm."""
    url = served.rig.broker.url
    reply, _ = await request(url, "open the garage door")
    assert reply["status"] == "needs_confirmation"
    token = reply["confirm_token"]
    await asyncio.sleep(0.3)
    assert served.rig.simulator.values("garage_door")["position"] == 0
    confirmed, _ = await request(url, json.dumps({"token": token, "approve": True}), topic="sasha/confirm")
    assert confirmed["status"] == "done"
    assert await served.rig.mirror.wait_for("garage_door", {"position": 100}, timeout=5)


async def test_expired_token_is_rejected(served: Served) -> None:
    """Refuse a confirmation that arrives after the token expired."""
    url = served.rig.broker.url
    reply, _ = await request(url, "unlock the front door")
    served.now[0] += 3600
    late, _ = await request(url, json.dumps({"token": reply["confirm_token"], "approve": True}), topic="sasha/confirm")
    assert late["status"] == "rejected"
    await asyncio.sleep(0.2)
    assert served.rig.simulator.values("front_door")["lock"] == "locked"


async def test_ten_concurrent_clients_get_their_own_replies(served: Served) -> None:
    """Answer ten clients at once, each on its own response topic with its own correlation."""
    lights = [
        "living_room_lamp",
        "living_room_ceiling",
        "living_room_led_strip",
        "kitchen_light",
        "bedroom_light",
        "bedroom_bedside_lamp",
        "bathroom_light",
        "office_light",
        "hallway_light",
        "garage_light",
    ]
    url = served.rig.broker.url

    async def one(i: int, device: str) -> None:
        name = served.rig.home.devices[device].name.lower()
        reply, message = await request(
            url,
            f"turn on the {name}",
            listen=f"sasha/reply/c{i}",
            response_topic=f"sasha/reply/c{i}",
            correlation=f"c{i}".encode(),
        )
        assert message.properties is not None
        assert message.properties.CorrelationData == f"c{i}".encode()
        assert [a["device"] for a in reply["actions"]] == [device]

    await asyncio.gather(*(one(i, d) for i, d in enumerate(lights)))
    for device in lights:
        assert await served.rig.mirror.wait_for(device, {"power": "on"}, timeout=5)


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (b'{"text": "hi", ', "not valid JSON"),
        (b'{"id": "x"}', "missing text"),
        (json.dumps({"text": "a" * 100_000}).encode(), "over the"),
        ("x" * 2001, "over the 2000 limit"),
        (b"\xff\xfeturn on\x80", "not UTF-8"),
        (b"", "missing text"),
        (b'{"text": 42}', "text"),
    ],
    ids=["bad json", "no text", "100 KB json", "2001 chars", "invalid utf-8", "empty", "text not a string"],
)
async def test_malformed_requests_are_rejected_and_the_daemon_goes_on(
    served: Served, payload: bytes | str, fragment: str
) -> None:
    """Send `rejected` to the response topic of a malformed request, then serve the next one."""
    reply, _ = await request(served.rig.broker.url, payload, listen="sasha/reply/bad", response_topic="sasha/reply/bad")
    assert reply["status"] == "rejected"
    assert fragment in reply["message"]
    ok, _ = await request(served.rig.broker.url, "turn on the office light")
    assert ok["status"] == "done"


async def test_malformed_request_without_an_address_is_dropped(served: Served) -> None:
    """Log and drop what cannot be answered anywhere; keep serving."""
    async with _client(served.rig.broker.url) as client:
        await client.publish("sasha/request", b"{broken", qos=1)
        await client.publish("sasha/confirm", b"nonsense", qos=1)
    reply, _ = await request(served.rig.broker.url, json.dumps({"text": "turn on the kettle", "id": "after"}))
    assert (reply["id"], reply["status"]) == ("after", "done")


async def test_undo_over_mqtt(served: Served) -> None:
    """Restore the previous state when the request is "undo"."""
    url = served.rig.broker.url
    await request(url, json.dumps({"text": "set the office light to 10%", "conversation": "u"}))
    assert await served.rig.mirror.wait_for("office_light", {"brightness": 10}, timeout=5)
    reply, _ = await request(url, json.dumps({"text": "undo", "conversation": "u"}))
    assert reply["status"] == "done"
    assert await served.rig.mirror.wait_for("office_light", {"brightness": 80}, timeout=5)


async def test_sasha_run_end_to_end(rig: Rig, tmp_path: Path) -> None:
    """Run `sasha run`: status and HA discovery retained, requests served, clean stop on SIGTERM."""
    url = rig.broker.url
    process = await start_sasha(
        "run", "--open", "--devices", str(EXAMPLE), "--mqtt-url", url, "--state-dir", str(tmp_path)
    )
    try:
        seen: dict[str, bytes] = {}
        async with _client(url) as watcher:
            await watcher.subscribe("sasha/status", qos=1)
            # Only Sasha's own configs: the simulated devices announce themselves under homeassistant/ too.
            await watcher.subscribe("homeassistant/+/sasha_sasha/#", qos=1)
            async with asyncio.timeout(15):
                async for message in watcher.messages:
                    seen[message.topic.value] = message.payload  # type: ignore[assignment]
                    if seen.get("sasha/status") == b"online" and len(seen) >= 3:
                        break
        text_config = json.loads(seen["homeassistant/text/sasha_sasha/request/config"])
        # Home Assistant asks as its own MQTT user (`--ha-user`, default homeassistant).
        assert text_config["command_topic"] == "sasha/request/homeassistant"
        assert text_config["availability_topic"] == "sasha/status"
        sensor = json.loads(seen["homeassistant/sensor/sasha_sasha/reply/config"])
        assert sensor["state_topic"] == "sasha/reply/homeassistant"
        reply, _ = await request(url, "turn on the bathroom light", timeout=10)
        assert reply["status"] == "done"
        goal, _ = await request(url, "make it cozy", timeout=10)
        assert goal["status"] == "error"
        assert "No language model is configured" in goal["message"]
    finally:
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(15):
            code = await process.wait()
    assert code == 0
    async with _client(url) as watcher:
        await watcher.subscribe("sasha/status", qos=1)
        async with asyncio.timeout(5):
            async for message in watcher.messages:
                assert message.payload == b"offline"
                break
    assert (tmp_path / "audit.db").exists()


async def test_stop_finishes_requests_in_flight(served: Served) -> None:
    """Answer a request that is still thinking when the stop comes."""
    served.model.add({"delay": 1.0, "kind": "answer", "message": "It is 21 °C.", "actions": []})
    pending = asyncio.create_task(request(served.rig.broker.url, "how warm is it?", timeout=10))
    await asyncio.sleep(0.5)
    assert served.model.calls == 1  # the request is with the model now
    served.stop.set()
    reply, _ = await pending
    assert (reply["status"], reply["message"]) == ("answer", "It is 21 °C.")


async def test_a_request_that_comes_while_stopping_is_told_so(served: Served) -> None:
    """While the stop waits for a request in flight, answer a new one `busy`: nothing done, send it again."""
    served.model.add({"delay": 1.0, "kind": "answer", "message": "It is 21 °C.", "actions": []})
    pending = asyncio.create_task(request(served.rig.broker.url, "how warm is it?", timeout=10))
    await asyncio.sleep(0.5)
    before = served.rig.simulator.values("kitchen_light")
    served.stop.set()
    late, _ = await request(
        served.rig.broker.url, "toggle the kitchen light", listen="sasha/reply/late", response_topic="sasha/reply/late"
    )
    assert late["status"] == "busy", late
    assert late["message"].startswith("Sasha is restarting and took nothing from this request.")
    first, _ = await pending
    assert served.rig.simulator.values("kitchen_light") == before
    assert first["status"] == "answer"


async def test_the_model_sdk_loads_at_the_first_quiet_moment_after_online(
    broker: Mosquitto, scripted: ScriptedModel
) -> None:
    """Load the SDK neither before online nor while messages stream in (a large home's retained states)."""
    settings = MqttSettings.from_url(broker.url)
    model = ModelClient(model_settings(scripted))
    async with fast(settings, status_topic="quiet/status") as link, fast(settings) as sender:
        await link.subscribe(["busy/#"], lambda _: None)
        await sender.wait_connected(5)
        warming = asyncio.create_task(_warm(model, link, quiet=0.5))
        await asyncio.sleep(0.7)
        assert model._sdk is None  # not before online
        await link.ready()
        await link.wait_online()
        for _ in range(30):  # a message every 0.05 s: never half a second of quiet
            sender.publish_nowait("busy/x", b"1")
            await asyncio.sleep(0.05)
        assert model._sdk is None
        async with asyncio.timeout(10):
            await warming
        assert model._sdk is not None
        await model.close()
