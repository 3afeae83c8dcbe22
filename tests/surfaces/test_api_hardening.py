"""The MQTT API on a hostile network (issue 13) and under Home Assistant's habits (issue 12).

Every test runs a real mosquitto, real MQTT v5 clients and the real `openai` SDK against the
scripted model.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import signal
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from sasha.assistant import Assistant
from sasha.executor import Executor
from sasha.history.audit import AuditLog
from sasha.home.inventory import Inventory
from sasha.mqtt.connection import Incoming, MqttConnection, MqttSettings
from sasha.mqtt.mosquitto import Mosquitto, free_port
from sasha.planning.llm.client import ModelClient
from sasha.planning.llm.scripted import ScriptedModel
from sasha.planning.planner import Planner
from sasha.policy import Approvers, ModelBudget, PendingPlans
from sasha.state import StateMirror
from sasha.surfaces.daemon import Daemon, DaemonOptions, node_id
from tests.conftest import EXAMPLE, Rig, clean_env, model_settings, run_sasha, start_sasha
from tests.surfaces.test_api import FORBIDDEN, HA_DISCOVERY
from tests.test_deploy import shipped_settings


@dataclass
class Served:
    """A daemon on the rig's broker."""

    rig: Rig
    daemon: Daemon
    assistant: Assistant
    audit: AuditLog


@contextlib.asynccontextmanager
async def serving(
    rig: Rig,
    scripted: ScriptedModel | None,
    tmp_path: Path,
    *,
    link: MqttConnection | None = None,
    executor: Executor | None = None,
    budget: ModelBudget | None = None,
    pending: PendingPlans | None = None,
    approvers: Approvers | None = None,
    **options: Any,
) -> AsyncIterator[Served]:
    """Serve the MQTT API on the rig (or on `link`) until the block ends."""
    client = ModelClient(model_settings(scripted, max_retries=0)) if scripted is not None else None
    mirror = rig.mirror
    planner = Planner(rig.home, client, state=mirror.snapshot)
    audit = AuditLog(tmp_path / f"audit-{uuid.uuid4().hex[:6]}.db")
    assistant = Assistant(
        rig.home, executor or rig.executor, planner, audit=audit, budget=budget, pending=pending, approvers=approvers
    )
    # These tests are about the anonymous topics of a single-user set-up (test_identity.py: users).
    daemon = Daemon(assistant, link or rig.link, options=DaemonOptions(**{"open": True, **options}))
    stop = asyncio.Event()
    task = asyncio.create_task(daemon.serve(stop))
    await asyncio.sleep(0.3)  # let the subscriptions reach the broker
    try:
        yield Served(rig, daemon, assistant, audit)
    finally:
        stop.set()
        await task
        if client is not None:
            await client.close()
        audit.close()


def _client(rig: Rig) -> aiomqtt.Client:
    return aiomqtt.Client(
        "127.0.0.1", rig.broker.port, protocol=aiomqtt.ProtocolVersion.V5, identifier=f"t-{uuid.uuid4().hex[:8]}"
    )


def _v5(response_topic: str, correlation: bytes | None = None) -> Properties:
    properties = Properties(PacketTypes.PUBLISH)
    properties.ResponseTopic = response_topic
    if correlation is not None:
        properties.CorrelationData = correlation
    return properties


async def _next(client: aiomqtt.Client, timeout: float = 10) -> aiomqtt.Message:
    async with asyncio.timeout(timeout):
        async for message in client.messages:
            return message
    raise AssertionError("no message")


async def _until(check: Callable[[], bool], timeout: float = 10) -> None:
    """Poll `check` until it holds (for state that no message announces)."""
    for _ in range(int(timeout / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


def _json(message: aiomqtt.Message) -> dict[str, Any]:
    assert isinstance(message.payload, bytes)
    data: dict[str, Any] = json.loads(message.payload)
    return data


async def ask(rig: Rig, body: dict[str, Any] | str, *, reply_to: str, topic: str = "sasha/request") -> dict[str, Any]:
    """Send one request and return the reply on `reply_to` (which the body names, or plain text)."""
    async with _client(rig) as client:
        await client.subscribe(reply_to, qos=1)
        payload = body if isinstance(body, str) else json.dumps(body)
        await client.publish(topic, payload, qos=1)
        return _json(await _next(client))


# --- 1. reply topics under control -------------------------------------------------------


@pytest.mark.parametrize("how", ["reply_to", "response_topic"])
@pytest.mark.parametrize("topic", FORBIDDEN.values(), ids=FORBIDDEN.keys())
async def test_a_reply_never_lands_on_a_forbidden_topic(rig: Rig, tmp_path: Path, topic: str, how: str) -> None:
    """Refuse a forbidden reply route on sasha/response, publish nothing there, and go on serving."""
    async with serving(rig, None, tmp_path), _client(rig) as client:
        await client.subscribe(topic, qos=1)
        await client.subscribe("sasha/response", qos=1)
        await client.subscribe("sasha/reply/after", qos=1)
        body = {"text": "turn on the office light", "id": "lounge_ceiling"}
        first = json.dumps(body | {"reply_to": topic} if how == "reply_to" else body)
        after = json.dumps({"text": "turn off the office light", "reply_to": "sasha/reply/after"})
        await client.publish("sasha/request", first, qos=1, properties=_v5(topic, b"c") if how != "reply_to" else None)
        # Everything the daemon sends leaves one outbox in order: once the next reply is here,
        # a misrouted one would have arrived before it.
        await client.publish("sasha/request", after, qos=1)
        seen: list[aiomqtt.Message] = []
        while (message := await _next(client)).topic.value != "sasha/reply/after":
            # Skip our own requests (when the topic is the request topic) and retained configs.
            if message.payload not in (first.encode(), after.encode()) and not message.retain:
                seen.append(message)
    assert [m.topic.value for m in seen] == ["sasha/response"]
    reply = _json(seen[0])
    assert (reply["status"], reply["id"]) == ("rejected", "lounge_ceiling")
    assert "Refused" in reply["message"]
    assert _json(message)["status"] == "done"
    assert rig.simulator.values("office_light")["power"] == "off"  # the refused request did nothing


@pytest.mark.parametrize("topic", ["sasha/reply/#", "sasha/reply/+", "$SYS/broker/x"])
async def test_wildcard_and_dollar_response_topics_are_refused(
    rig: Rig, tmp_path: Path, topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Refuse a v5 response topic with a wildcard or a `$` instead of failing later in the send."""
    async with serving(rig, None, tmp_path), _client(rig) as client:
        await client.subscribe("sasha/response", qos=1)
        await client.publish("sasha/request", b"turn on the office light", qos=1, properties=_v5(topic))
        reply = _json(await _next(client))
    assert reply["status"] == "rejected"
    assert any("refused to reply" in r.message for r in caplog.records)
    assert not any("never retrieved" in r.message for r in caplog.records)


# --- 2. a daemon that cannot be knocked over ---------------------------------------------


async def test_a_full_queue_answers_busy(rig: Rig, scripted: ScriptedModel, tmp_path: Path) -> None:
    """Answer `busy` when the model queue is full, and answer every request exactly once."""
    scripted.add(*[{"delay": 1.0, "kind": "answer", "message": "Thinking done.", "actions": []}] * 6)
    async with serving(rig, scripted, tmp_path, max_concurrent=1, queue=1), _client(rig) as client:
        await client.subscribe("sasha/reply/q/#", qos=1)
        for i in range(6):
            body = {"text": f"what a lovely day number {i}", "id": f"q{i}", "reply_to": f"sasha/reply/q/{i}"}
            await client.publish("sasha/request", json.dumps(body), qos=1)
        replies = [_json(await _next(client)) for _ in range(6)]
    assert sorted(r["id"] for r in replies) == [f"q{i}" for i in range(6)]
    busy = [r for r in replies if r["status"] == "busy"]
    assert busy
    assert "busy" in busy[0]["message"]
    assert {r["status"] for r in replies} <= {"busy", "answer"}


async def test_fast_path_works_when_the_model_budget_is_spent(
    rig: Rig, scripted: ScriptedModel, tmp_path: Path
) -> None:
    """Refuse model work past the cap with a clear `busy`, keep explicit commands working, count it."""
    scripted.add(*[{"kind": "answer", "message": "Nice weather.", "actions": []}] * 5)
    budget = ModelBudget(per_minute=2, per_day=100, per_request=1)
    async with serving(rig, scripted, tmp_path, budget=budget) as served:
        answers = [
            await ask(rig, {"text": f"tell me something {i}", "reply_to": "sasha/reply/b"}, reply_to="sasha/reply/b")
            for i in range(3)
        ]
        command = await ask(
            rig, {"text": "turn on the office light", "reply_to": "sasha/reply/b"}, reply_to="sasha/reply/b"
        )
        counters = served.daemon.counters
    assert [a["status"] for a in answers] == ["answer", "answer", "busy"]
    assert "2 calls a minute" in answers[2]["message"]
    assert scripted.calls == 2
    assert command["status"] == "done"
    assert counters["model_calls_minute"] == 2
    assert counters["model_budget_refused"] == 1


async def test_counters_are_retained_on_the_stats_topic(rig: Rig, tmp_path: Path) -> None:
    """Publish the counters as retained JSON on sasha/stats, next to the plain online/offline status."""
    async with serving(rig, None, tmp_path, stats_interval=0.2, budget=ModelBudget()):
        await ask(rig, {"text": "turn on the office light", "reply_to": "sasha/reply/s"}, reply_to="sasha/reply/s")
        async with _client(rig) as client:
            await client.subscribe("sasha/stats", qos=1)
            while True:
                stats = _json(await _next(client))
                if stats["answered"] >= 1:
                    break
    assert {"received", "rejected", "busy", "dropped", "model_calls_day"} <= set(stats)


# --- 3. confirmations bound to who asked -------------------------------------------------


async def test_another_connection_with_the_conversation_and_no_token_cannot_unlock(rig: Rig, tmp_path: Path) -> None:
    """Refuse "yes" without the token, and the token on another route; unlock only for the asker."""
    async with serving(rig, None, tmp_path) as served:
        asked = {"text": "unlock the front door", "conversation": "alice", "reply_to": "sasha/reply/alice"}
        question = await ask(rig, asked | {"id": "a1"}, reply_to="sasha/reply/alice")
        assert question["status"] == "needs_confirmation"
        token = question["confirm_token"]
        mallory = {"text": "yes", "conversation": "alice", "reply_to": "sasha/reply/alice"}
        no_token = await ask(rig, mallory, reply_to="sasha/reply/alice")
        elsewhere = await ask(
            rig, mallory | {"reply_to": "sasha/reply/mallory", "confirm_token": token}, reply_to="sasha/reply/mallory"
        )
        on_confirm = await ask(
            rig,
            {"token": token, "approve": True, "reply_to": "sasha/reply/mallory"},
            reply_to="sasha/reply/mallory",
            topic="sasha/confirm",
        )
        assert rig.simulator.values("front_door")["lock"] == "locked"
        yes = await ask(rig, mallory | {"confirm_token": token}, reply_to="sasha/reply/alice")
        audited = [e.status for e in served.audit.recent(10)]
    assert (no_token["status"], elsewhere["status"], on_confirm["status"]) == ("rejected",) * 3
    assert "confirm_token" in no_token["message"]
    assert "route" in elsewhere["message"]
    assert yes["status"] == "done"
    assert await rig.mirror.wait_for("front_door", {"lock": "unlocked"}, timeout=5)
    assert audited.count("rejected") == 3  # every refusal is in the audit log


async def test_two_plain_text_clients_cannot_confirm_each_others_plans(
    rig: Rig, scripted: ScriptedModel, tmp_path: Path
) -> None:
    """Give each plain-text request its own conversation, so a plain "yes" settles nobody's plan."""
    scripted.add({"kind": "answer", "message": "Yes to what?", "actions": []})
    async with serving(rig, scripted, tmp_path):
        first = await ask(rig, "open the garage door", reply_to="sasha/response")
        second = await ask(rig, "yes", reply_to="sasha/response")
    assert first["status"] == "needs_confirmation"
    assert first["conversation"] != second["conversation"]
    assert second["status"] != "done"
    assert rig.simulator.values("garage_door")["position"] == 0


# --- 4. Home Assistant's habits (issue 12, fixes 2-6) -------------------------------------


async def test_a_repeated_reply_is_a_new_payload(rig: Rig, tmp_path: Path) -> None:
    """Give every reply an id and a timestamp, so Home Assistant sees a repeated answer."""
    async with serving(rig, None, tmp_path):
        one = await ask(rig, "turn on the office light", reply_to="sasha/response")
        two = await ask(rig, "turn on the office light", reply_to="sasha/response")
    assert one["message"] == two["message"]
    assert one["id"] != two["id"]
    assert one["timestamp"]
    assert two["timestamp"]
    assert one != two


async def test_discovery_is_announced_again_on_home_assistants_birth(rig: Rig, tmp_path: Path) -> None:
    """Announce the discovery configs again when Home Assistant says online on its status topic."""
    async with serving(rig, None, tmp_path, root="home/sasha2", home_name="Demo home"), _client(rig) as client:
        # Sasha's own configs only: the simulated devices announce themselves on this prefix too.
        await client.subscribe(f"homeassistant/+/{node_id('home/sasha2')}/+/config", qos=1)
        first = {(m := await _next(client)).topic.value: _json(m) for _ in range(2)}
        for topic in first:
            await client.publish(topic, b"", qos=1, retain=True)  # Home Assistant forgets them
        await client.publish("homeassistant/status", b"online", qos=1)
        again: dict[str, dict[str, Any]] = {}
        while len(again) < 2:
            message = await _next(client)
            if message.payload:
                again[message.topic.value] = _json(message)
    assert again == first
    for topic, config in again.items():
        assert HA_DISCOVERY.match(topic.removeprefix("homeassistant/")), topic
        assert config["device"]["name"] == "Sasha (Demo home)"
        assert config["command_topic" if "text" in topic else "state_topic"].startswith("home/sasha2/")


async def test_the_recipe_reads_only_its_own_reply(rig: Rig, tmp_path: Path) -> None:
    """Run running.md's recipe as two users at once: each reads exactly its own reply, no model needed."""

    async def client_asks(name: str, text: str) -> list[dict[str, Any]]:
        inbox = f"sasha/reply/{name}/kitchen"
        async with _client(rig) as client:
            await client.subscribe(inbox, qos=1)
            body = {"text": text, "id": name, "reply_to": inbox}
            await client.publish(f"sasha/request/{name}", json.dumps(body), qos=1)
            got = [_json(await _next(client))]
            # A marker request on the same inbox: whatever else reached it arrives before the marker.
            marker = {"text": "turn off the garage light", "id": f"{name}-end", "reply_to": inbox}
            await client.publish(f"sasha/request/{name}", json.dumps(marker), qos=1)
            while got[-1]["id"] != f"{name}-end":
                got.append(_json(await _next(client)))
            return got

    async with serving(rig, None, tmp_path, open=False):
        ours, theirs = await asyncio.gather(
            client_asks("alice", "turn on the office light"), client_asks("bob", "turn on the bathroom light")
        )
    assert [r["id"] for r in ours] == ["alice", "alice-end"]
    assert [r["id"] for r in theirs] == ["bob", "bob-end"]
    assert ours[0]["status"] == theirs[0]["status"] == "done"


# --- 5. scaling out ------------------------------------------------------------------------


async def test_two_daemons_share_requests_and_confirmations(rig: Rig, home: Inventory, tmp_path: Path) -> None:
    """Answer each request once across two shared daemons; accept a token one issued at the other."""
    settings = MqttSettings.from_url(rig.broker.url)
    store = tmp_path / "pending.db"
    pending_one, pending_two = PendingPlans(home, path=store), PendingPlans(home, path=store)
    link_two = MqttConnection(settings, client_id="sasha-two", session_expiry=0, reconnect_min=0.05)
    link_one = MqttConnection(settings, client_id="sasha-one", session_expiry=0, reconnect_min=0.05)
    async with link_one, link_two:
        await link_one.wait_connected(5)
        await link_two.wait_connected(5)
        mirror_two = StateMirror(home)
        await mirror_two.attach(link_two)
        executor_two = Executor(home, link_two, mirror_two, ack_wait=2.0)
        async with (
            serving(rig, None, tmp_path, link=link_one, pending=pending_one, share="g") as one,
            serving(rig, None, tmp_path, link=link_two, executor=executor_two, pending=pending_two, share="g") as two,
        ):
            replies: dict[str, dict[str, Any]] = {}
            async with _client(rig) as client:
                await client.subscribe("sasha/reply/s/#", qos=1)
                for i in range(20):
                    word = "on" if i % 2 else "off"
                    body = {"text": f"turn {word} the office light", "id": f"s{i}", "reply_to": f"sasha/reply/s/{i}"}
                    await client.publish("sasha/request", json.dumps(body), qos=1)
                while len(replies) < 20:
                    reply = _json(await _next(client))
                    assert reply["id"] not in replies  # answered once
                    replies[reply["id"]] = reply
            assert one.daemon.handled > 0
            assert two.daemon.handled > 0
            assert one.daemon.handled + two.daemon.handled == 20
            # A question asked of one instance...
            before = one.daemon.handled
            question = await ask(rig, "unlock the front door", reply_to="sasha/response")
            asker, other = (one, two) if one.daemon.handled > before else (two, one)
            # ...which then leaves the group (session expiry 0: at once), so the other answers.
            await (link_one if asker is one else link_two).close()
            handled = other.daemon.handled
            confirmed = await ask(
                rig,
                {"token": question["confirm_token"], "approve": True},
                reply_to="sasha/response",
                topic="sasha/confirm",
            )
            assert other.daemon.handled == handled + 1
    assert question["status"] == "needs_confirmation"
    assert confirmed["status"] == "done"
    assert await rig.mirror.wait_for("front_door", {"lock": "unlocked"}, timeout=5)
    pending_one.close()
    pending_two.close()


# --- `sasha run` as a process ----------------------------------------------------------------


async def _stats(rig: Rig, until: Any, timeout: float = 30) -> dict[str, Any]:
    """Wait for a retained/new counters message on sasha/stats that satisfies `until`."""
    async with _client(rig) as client:
        await client.subscribe("sasha/stats", qos=1)
        async with asyncio.timeout(timeout):
            async for message in client.messages:
                if message.payload and until(stats := _json(message)):
                    return stats
    raise AssertionError("no counters")


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def _stop(process: asyncio.subprocess.Process) -> int:
    process.send_signal(signal.SIGTERM)
    async with asyncio.timeout(30):
        await process.communicate()
    return process.returncode if process.returncode is not None else -1


async def test_a_retained_request_is_not_acted_on_after_a_restart(rig: Rig, tmp_path: Path) -> None:
    """Ignore (and count) a retained request at the first start of `sasha run` and after a restart."""
    url = rig.broker.url
    before = rig.simulator.values("office_light")["power"]
    wanted = "off" if before == "on" else "on"
    async with _client(rig) as client:
        await client.publish("sasha/request", f"turn {wanted} the office light".encode(), qos=1, retain=True)
    args = ("run", "--open", "--devices", str(EXAMPLE), "--mqtt-url", url, "--state-dir", str(tmp_path))
    for _ in range(2):
        async with _client(rig) as client:  # forget the counters of the previous run
            await client.publish("sasha/stats", b"", qos=1, retain=True)
        process = await start_sasha(*args)
        try:
            stats = await _stats(rig, lambda s: s["retained_ignored"] >= 1)
            served = await ask(
                rig, {"text": "turn on the garage light", "reply_to": "sasha/reply/r"}, reply_to="sasha/reply/r"
            )
            health, printed, _ = await run_sasha("health", "--mqtt-url", url, "--devices", str(EXAMPLE))
        finally:
            code = await _stop(process)
        assert code == 0
        assert stats["retained_ignored"] == 1
        assert served["status"] == "done"
        assert health == 0
        assert '"retained_ignored": 1' in printed  # `sasha health` shows the counters
        assert rig.simulator.values("office_light")["power"] == before


async def test_a_flood_does_not_knock_the_daemon_over(rig: Rig, scripted: ScriptedModel, tmp_path: Path) -> None:
    """Stay alive through 5,000 malformed and gibberish requests, answer an explicit command, cap the model."""
    # The queue limits of the broker we ship: with mosquitto's default (1,000 messages queued per
    # client) the broker itself drops part of the flood, the explicit command too, at random.
    async with Mosquitto(extra=shipped_settings()) as broker:
        await _flood(replace(rig, broker=broker), scripted, tmp_path)


async def _flood(rig: Rig, scripted: ScriptedModel, tmp_path: Path) -> None:
    scripted.add(*[{"kind": "answer", "message": "I do not follow.", "actions": []}] * 100)
    env = clean_env(OPENAI_BASE_URL=scripted.base_url, OPENAI_API_KEY="sk-test-secret-0123456789", SASHA_MODEL="s")
    process = await start_sasha(
        "run",
        "--open",
        "--devices",
        str(EXAMPLE),
        "--mqtt-url",
        rig.broker.url,
        "--state-dir",
        str(tmp_path),
        "--max-model-calls",
        "1",
        "--model-calls-per-minute",
        "30",
        "--model-retries",
        "0",
        env=env,
    )
    try:
        await _stats(rig, lambda s: True)
        rss_start = _rss_kb(process.pid)
        legit = {"text": "turn on the office light", "id": "legit", "reply_to": "sasha/reply/legit"}
        async with _client(rig) as listener, _client(rig) as flood:
            await listener.subscribe("sasha/reply/legit", qos=1)

            async def first_reply() -> tuple[float, dict[str, Any]]:
                message = await _next(listener, timeout=90)
                return time.perf_counter(), _json(message)  # timed as it arrives, while the flood goes on

            replied = asyncio.create_task(first_reply())
            for start in range(0, 5000, 250):
                if start == 2500:
                    await flood.publish("sasha/request", json.dumps(legit), qos=1)
                    sent = time.perf_counter()
                batch = []
                for i in range(start, start + 250):
                    text: Any = 5 if i % 2 else f"zorp {i} blee frum quax"
                    body = {"text": text, "id": i, "reply_to": "sasha/reply/flood"}
                    batch.append(flood.publish("sasha/request", json.dumps(body), qos=1))
                await asyncio.gather(*batch)  # 250 in flight at once, as a flooder would
            arrived, reply = await replied
            latency = arrived - sent
        # The figure is asked for; bench/flood.py measures it with the flood from another process.
        print(f"explicit command {reply['id']} answered {latency * 1000:.0f} ms after it was sent")  # noqa: T201
        stats = await _stats(
            rig, lambda s: s["queued_model"] == 0 and s["queued_fast"] == 0 and s["received"] > 1000, timeout=60
        )
        rss_end = _rss_kb(process.pid)
        print(f"RSS {rss_start / 1024:.1f} MB -> {rss_end / 1024:.1f} MB; counters {stats}")  # noqa: T201
        assert process.returncode is None  # alive
    finally:
        code = await _stop(process)
    assert code == 0
    assert reply["status"] == "done"
    assert scripted.calls <= 30
    assert stats["busy"] + stats["model_budget_refused"] > 0
    assert rss_end - rss_start < 100 * 1024  # bounded: the queues hold at most 200 requests


async def test_a_full_outbox_drops_replies_and_the_daemon_goes_on(
    rig: Rig, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Drop (and count) replies that do not fit into the outbox while the broker is away; keep serving."""
    away = MqttConnection(
        MqttSettings.from_url(f"mqtt://127.0.0.1:{free_port()}"), max_outbox=10, reconnect_min=0.05, reconnect_max=0.2
    )
    async with away, serving(rig, None, tmp_path, link=away) as served:
        daemon = served.daemon
        for i in range(40):
            body = {"text": "turn on the office light", "id": f"o{i}", "reply_to": "sasha/reply/o"}
            # What the connection does with each message that arrives on sasha/request.
            daemon._on_request(Incoming("sasha/request", json.dumps(body).encode()))
            daemon._on_request(Incoming("sasha/request", b'{"text": 1, "reply_to": "sasha/reply/o"}'))
            await asyncio.sleep(0)
        await _until(lambda: daemon.counters["answered"] >= 40)
        counters = daemon.counters
    assert counters["dropped"] >= 30  # the outbox holds 10 (the discovery configs and stats took some)
    assert counters["rejected"] == 40
    assert counters["shed"] > 0
    assert any("the outbox is full" in r.message for r in caplog.records)
    assert await rig.mirror.wait_for("office_light", {"power": "on"}, timeout=5)


async def test_refusals_beyond_a_hundred_a_second_are_shed(rig: Rig, tmp_path: Path) -> None:
    """Count every refusal of a burst but send about a hundred a second, twenty per user; answers still go out."""
    users = [f"u{n}" for n in range(6)]
    async with serving(rig, None, tmp_path) as served, _client(rig) as listener:
        await listener.subscribe("sasha/reply/+/burst", qos=1)
        daemon = served.daemon
        for _ in range(100):
            for user in users:
                bad = json.dumps({"text": 1, "reply_to": f"sasha/reply/{user}/burst"}).encode()
                daemon._on_request(Incoming(f"sasha/request/{user}", bad))
        body = {"text": "turn on the office light", "id": "real", "reply_to": "sasha/reply/u0/burst"}
        daemon._on_request(Incoming("sasha/request/u0", json.dumps(body).encode()))
        received: list[tuple[str, dict[str, Any]]] = []
        with contextlib.suppress(TimeoutError):
            while True:
                message = await _next(listener, timeout=2)
                received.append((message.topic.value.split("/")[2], _json(message)))
        counters = daemon.counters
        per_user = daemon.user_counters
    assert counters["rejected"] == 600
    sent = collections.Counter(user for user, reply in received if reply["status"] == "rejected")
    assert 100 <= sum(sent.values()) <= 130  # 100 went out at once, a few more as the bucket refilled
    assert sum(sent.values()) == 600 - counters["shed"]
    # Each user's share of the refusals sent, and each user's shed refusals counted apart.
    assert all(10 <= sent[user] <= 25 for user in users)
    assert all(per_user[user]["shed"] == 100 - sent[user] for user in users)
    assert [r["status"] for _, r in received if r["id"] == "real"] == ["done"]


def test_explicit_commands_and_confirmations_are_urgent(rig: Rig) -> None:
    """Rank confirmations and short command-like requests ahead; everything else keeps its place."""
    assistant = Assistant(rig.home, rig.executor, Planner(rig.home, None, state=rig.mirror.snapshot))
    urgent = Daemon(assistant, rig.link)._urgent
    assert urgent("sasha/confirm", b'{"token": "t", "approve": true}')
    assert urgent("sasha/request", b"turn on the office light")
    assert urgent("sasha/request", b'{"text": "dim the kitchen lights to 30 percent", "id": 4}')
    assert not urgent("sasha/request", b'{"text": "make it cozy in here"}')
    assert not urgent("sasha/request", b'{"text": 5}')
    assert not urgent("sasha/request", b'{"text": "turn on')  # malformed: read in its turn
    assert not urgent("sasha/request", b"[" * 5000)
    assert not urgent("sasha/request", json.dumps({"text": "turn on the office light", "pad": "x" * 2000}).encode())
    assert not urgent("zigbee2mqtt/office_light", b'{"state": "ON"}')


async def test_a_second_sasha_run_of_a_share_group_that_runs_routines_warns(broker: Mosquitto, tmp_path: Path) -> None:
    """Start two `sasha run --share g` with routines on: the second names the first, read before its own claim."""
    settings = MqttSettings.from_url(broker.url)
    common = ("run", "--open", "--share", "g", "--devices", str(EXAMPLE), "--mqtt-url", broker.url)
    first = await start_sasha(*common, "--state-dir", str(tmp_path / "first"))
    second = None
    try:
        async with MqttConnection(settings) as watcher:
            owners: list[bytes] = []
            await watcher.subscribe(["sasha/routines/owner"], lambda m: owners.append(m.payload))
            await _until(lambda: any(owners), timeout=30)
        [owner] = [o.decode() for o in owners if o]
        second = await start_sasha(*common, "--state-dir", str(tmp_path / "second"))
        assert second.stderr is not None
        async with asyncio.timeout(30):
            while b"runs the routines too" not in (line := await second.stderr.readline()):
                assert line, "the second instance ended without the warning"
        assert owner in line.decode(), line
    finally:
        for process in (p for p in (first, second) if p is not None):
            process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(15):
                await process.communicate()


async def test_a_second_instance_running_routines_is_warned_about(
    rig: Rig, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Warn when another instance announces on sasha/routines/owner that it runs the routines too."""
    settings = MqttSettings.from_url(rig.broker.url)
    other = MqttConnection(settings, client_id="sasha-other", reconnect_min=0.05)
    async with serving(rig, None, tmp_path, routines_owner="sasha-first"), other:
        await other.wait_connected(5)
        async with serving(rig, None, tmp_path, link=other, routines_owner="sasha-second"):
            await _until(lambda: any("runs the routines too" in r.message for r in caplog.records))
    warnings = [r.message for r in caplog.records if "runs the routines too" in r.message]
    assert any("sasha-first" in w for w in warnings)  # the second saw the first
