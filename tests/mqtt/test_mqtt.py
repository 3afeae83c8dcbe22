"""The MQTT connection against a real mosquitto: settings, status and will, outages, the outbox."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import aiomqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from sasha.errors import ConfigError, OutboxFull
from sasha.executor import Result
from sasha.home.actions import Action
from sasha.home.inventory import Inventory
from sasha.mqtt.connection import (
    _DRAIN_BATCH,
    Incoming,
    MqttConnection,
    MqttSettings,
    _inbox_type,
    redact_url,
    refusals,
)
from sasha.mqtt.mosquitto import Mosquitto, free_port
from sasha.sim.testbed import simulated_home
from tests.conftest import fast


def test_settings_from_url() -> None:
    """Parse plain and TLS URLs with credentials and defaults."""
    plain = MqttSettings.from_url("mqtt://broker.lan")
    assert (plain.host, plain.port, plain.tls, plain.username, plain.password) == (
        "broker.lan",
        1883,
        False,
        None,
        None,
    )
    secure = MqttSettings.from_url("mqtts://sasha:p%40ss@broker.lan", ca_file="/etc/ca.pem")
    assert (secure.port, secure.tls, secure.username, secure.password, secure.ca_file) == (
        8883,
        True,
        "sasha",
        "p@ss",
        "/etc/ca.pem",
    )
    assert MqttSettings.from_url("mqtt://h:1884").port == 1884


@pytest.mark.parametrize("url", ["http://h", "mqtt://", "mqtt://u:hunter2@h:notaport", "broker.lan:1883"])
def test_bad_urls_are_refused_without_the_password(url: str) -> None:
    """Refuse a URL that cannot work, and never echo its password."""
    with pytest.raises(ConfigError) as caught:
        MqttSettings.from_url(url)
    assert "hunter2" not in str(caught.value)


def test_password_never_shows() -> None:
    """Keep the password out of repr, the printable URL and redacted URLs."""
    settings = MqttSettings.from_url("mqtt://sasha:hunter2@h:1883")
    assert "hunter2" not in repr(settings)
    assert settings.url == "mqtt://sasha:***@h:1883"
    assert redact_url("mqtt://sasha:hunter2@h") == "mqtt://sasha:***@h"


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Incoming] = []
        self._event = asyncio.Event()

    def __call__(self, message: Incoming) -> None:
        self.messages.append(message)
        self._event.set()

    async def wait(self, check: Callable[[list[Incoming]], bool], timeout: float = 5) -> None:
        async with asyncio.timeout(timeout):
            while not check(self.messages):
                self._event.clear()
                await self._event.wait()


async def test_publish_and_subscribe(broker: Mosquitto) -> None:
    """Deliver a QoS 1 message from one connection to another."""
    settings = MqttSettings.from_url(broker.url)
    inbox = _Inbox()
    async with fast(settings) as reader, fast(settings) as writer:
        await reader.subscribe(["t/+"], inbox)
        await reader.wait_connected(5)
        assert await writer.publish("t/1", "hello", wait=5)
        await inbox.wait(lambda m: any(x.payload == b"hello" for x in m))
        assert inbox.messages[0].topic == "t/1"


async def test_status_online_when_ready_then_offline(broker: Mosquitto) -> None:
    """Announce online (retained) once the owner is ready and subscribed, and offline on a clean stop."""
    settings = MqttSettings.from_url(broker.url)
    inbox = _Inbox()
    async with fast(settings) as watcher:
        await watcher.subscribe(["sasha/status"], inbox)
        await watcher.wait_connected(5)
        async with fast(settings, status_topic="sasha/status") as link:
            await link.subscribe(["sasha/request"], _Inbox())
            await link.wait_connected(5)
            await link.flush()
            await asyncio.sleep(0.2)  # time enough for an early online to arrive
            assert [m.payload for m in inbox.messages] == []
            await link.ready()
            await inbox.wait(lambda m: bool(m) and m[-1].payload == b"online")
            assert link.unacknowledged == []
        await inbox.wait(lambda m: m[-1].payload == b"offline")


async def test_online_comes_before_the_retained_states_its_subscriptions_bring(broker: Mosquitto) -> None:
    """Hold subscriptions until ready() and send them together: the broker acknowledges them before the flood.

    A SUBSCRIBE sent after another one's retained messages is answered only after all of them,
    which held `online` back by seconds in a large home.
    """
    settings = MqttSettings.from_url(broker.url)
    states = 10_000
    async with fast(settings, max_outbox=states) as device:
        await device.wait_connected(5)
        for i in range(states):
            device.publish_nowait(f"home/{i}/state", b'{"power": "on"}', retain=True)
        await device.flush()
    seen = _Inbox()
    status = _Inbox()
    async with fast(settings) as watcher, fast(settings, status_topic="sasha/status") as link:
        await watcher.subscribe(["sasha/status"], status)
        await watcher.wait_connected(5)
        await link.wait_connected(5)
        await link.subscribe(["home/+/state"], seen)
        await link.subscribe(["sasha/request"], _Inbox())
        await asyncio.sleep(0.2)
        assert seen.messages == []  # held until the owner is ready
        await link.ready()
        await status.wait(lambda m: bool(m) and m[-1].payload == b"online", timeout=30)
        handled_at_online = len(seen.messages)
        await seen.wait(lambda m: len(m) >= states, timeout=60)
    assert handled_at_online < states / 2


def test_refusals_read_both_protocols() -> None:
    """Tell refused filters from granted ones in MQTT 3.1.1 and MQTT 5 SUBACKs."""
    v5 = [ReasonCode(PacketTypes.SUBACK, identifier=1), ReasonCode(PacketTypes.SUBACK, identifier=0x87)]
    assert refusals(["a", "b"], v5) == {"b": "Not authorized (0x87)"}
    assert refusals(["a", "b"], (1, 0x80)) == {"b": "Failure (0x80)"}
    assert refusals(["a", "b", "c"], (0,)) == {"b": "no code in the SUBACK", "c": "no code in the SUBACK"}
    assert refusals(["a"], (2,)) == {}


_DYNSEC = Path("/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so")


def _denying(folder: Path, denied: str) -> list[str]:
    """Configure mosquitto's dynamic security plugin so that anonymous clients may not subscribe to `denied`."""
    if not _DYNSEC.exists():
        pytest.skip("mosquitto's dynamic security plugin is not installed")
    rules = [
        {"acltype": "subscribePattern", "topic": denied, "priority": 1, "allow": False},
        {"acltype": "publishClientSend", "topic": "$CONTROL/dynamic-security/#", "priority": 0, "allow": True},
    ]
    config = {
        "defaultACLAccess": dict.fromkeys(["publishClientSend", "publishClientReceive", "subscribe"], True),
        "clients": [],
        "groups": [{"groupname": "anonymous", "roles": [{"rolename": "limited"}]}],
        "anonymousGroup": "anonymous",
        "roles": [{"rolename": "limited", "acls": rules}],
    }
    # mosquitto drops root: the file's folder (not under pytest's private tmp_path) must be open to it.
    folder.chmod(0o777)
    path = folder / "dynamic-security.json"
    path.write_text(json.dumps(config))
    path.chmod(0o666)
    return [f"plugin {_DYNSEC}", f"plugin_opt_config_file {path}"]


async def test_a_refused_subscription_is_logged_retried_and_holds_online(caplog: pytest.LogCaptureFixture) -> None:
    """A filter the broker refuses is logged and retried; online waits until the broker grants it."""
    with tempfile.TemporaryDirectory(prefix="sasha-dynsec-") as folder:
        async with Mosquitto(extra=_denying(Path(folder), "sasha/request")) as broker:
            await _refused_then_granted(broker, caplog)


async def _refused_then_granted(broker: Mosquitto, caplog: pytest.LogCaptureFixture) -> None:
    settings = MqttSettings.from_url(broker.url)
    status, requests = _Inbox(), _Inbox()
    with caplog.at_level(logging.WARNING, logger="sasha.mqtt"):
        async with fast(settings) as watcher, fast(settings, status_topic="sasha/status") as link:
            await watcher.subscribe(["sasha/status"], status)
            await link.subscribe(["sasha/state", "sasha/request"], requests)
            await link.ready()
            await link.wait_connected(5)
            for _ in range(100):
                if sum("refused the subscription sasha/request" in r.message for r in caplog.records) >= 2:
                    break
                await asyncio.sleep(0.05)
            refusals_logged = [r for r in caplog.records if "refused the subscription" in r.message]
            assert len(refusals_logged) >= 2  # retried, each time at error level
            assert {r.levelno for r in refusals_logged} == {logging.ERROR}
            assert "(0x8" in refusals_logged[0].message  # the broker's reason code, by name and number
            assert link.unacknowledged == ["sasha/request"]
            assert b"online" not in [m.payload for m in status.messages]
            # Grant it: the plugin drops the role's rule (and the clients using it, who reconnect).
            command = {"command": "removeRoleACL", "rolename": "limited", "acltype": "subscribePattern"}
            async with aiomqtt.Client("127.0.0.1", broker.port) as admin:
                await admin.publish(
                    "$CONTROL/dynamic-security/v1",
                    json.dumps({"commands": [command | {"topic": "sasha/request"}]}),
                    qos=0,
                )
            await status.wait(lambda m: bool(m) and m[-1].payload == b"online", timeout=10)
            assert link.unacknowledged == []
            assert await watcher.publish("sasha/request", "turn on the light", wait=5)
            await requests.wait(lambda m: any(x.topic == "sasha/request" for x in m))


_CRASHER = """
import asyncio, sys
from sasha.mqtt.connection import MqttConnection, MqttSettings

async def main():
    async with MqttConnection(MqttSettings.from_url(sys.argv[1]), status_topic="sasha/status") as link:
        await link.wait_connected(5)
        await link.ready()
        print("connected", flush=True)
        await asyncio.sleep(60)

asyncio.run(main())
"""


async def test_last_will_says_offline_when_the_process_dies(broker: Mosquitto) -> None:
    """Let the broker publish the retained will when Sasha is killed without a goodbye."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CRASHER, broker.url, stdout=asyncio.subprocess.PIPE, env={**os.environ}
    )
    assert process.stdout is not None
    async with asyncio.timeout(10):
        assert (await process.stdout.readline()).strip() == b"connected"
    inbox = _Inbox()
    async with fast(MqttSettings.from_url(broker.url)) as watcher:
        await watcher.subscribe(["sasha/status"], inbox)
        await inbox.wait(lambda m: bool(m) and m[-1].payload == b"online")
        process.send_signal(signal.SIGKILL)
        await process.wait()
        await inbox.wait(lambda m: m[-1].payload == b"offline")
    assert inbox.messages[-1].topic == "sasha/status"


async def test_outbox_is_bounded_while_the_broker_is_away() -> None:
    """Hold commands while no broker answers, up to a limit, then refuse clearly."""
    settings = MqttSettings.from_url(f"mqtt://127.0.0.1:{free_port()}")
    async with fast(settings, max_outbox=3) as link:
        futures = [link.publish_nowait("t", b"x") for _ in range(3)]
        with pytest.raises(OutboxFull):
            link.publish_nowait("t", b"x")
        assert link.held == 3
        assert not any(f.done() for f in futures)


async def test_the_outbox_sends_in_order_with_many_in_flight(broker: Mosquitto) -> None:
    """Queue 500 messages back to back: every one arrives, in order, and the outbox empties."""
    settings = MqttSettings.from_url(broker.url)
    inbox = _Inbox()
    async with fast(settings) as reader, fast(settings) as writer:
        await reader.subscribe(["order"], inbox)
        await reader.wait_connected(5)
        await writer.wait_connected(5)
        sent = [writer.publish_nowait("order", str(i)) for i in range(500)]
        async with asyncio.timeout(20):
            await asyncio.gather(*sent)
        assert writer.held == 0
        await inbox.wait(lambda m: len(m) >= 500)
    assert [int(m.payload) for m in inbox.messages] == list(range(500))


async def test_a_full_socket_is_written_when_the_kernel_has_room(broker: Mosquitto) -> None:
    """Queue more than the socket's buffer holds: the connection watches the socket and sends the rest."""
    settings = MqttSettings.from_url(broker.url)
    inbox = _Inbox()
    big = b"x" * 1_000_000
    async with fast(settings) as reader, fast(settings) as writer:
        await reader.subscribe(["big"], inbox)
        await reader.wait_connected(5)
        await writer.wait_connected(5)
        # 40 MB at once: far past a loopback socket's send buffer, so paho's write stops short.
        sent = [writer.publish_nowait("big", big[:-2] + b"%02d" % i) for i in range(40)]
        async with asyncio.timeout(60):
            await asyncio.gather(*sent)
        await inbox.wait(lambda m: len(m) >= 40, timeout=60)
    assert [int(m.payload[-2:]) for m in inbox.messages] == list(range(40))
    assert all(len(m.payload) == len(big) for m in inbox.messages)


async def test_a_kept_session_with_messages_waiting_leaves_no_writer_behind(broker: Mosquitto) -> None:
    """Reconnect a kept session six times, messages waiting each time: each gets online, and none idles watched.

    The broker sends the waiting messages with the CONNACK; paho's acks for them made aiomqtt ask
    the loop, a turn late, to watch the socket: a watch that fired on every turn and, once the
    socket closed, made the next socket given its number unreadable (online 10 s late).
    """
    settings = MqttSettings.from_url(broker.url)
    selector = asyncio.get_running_loop()._selector  # type: ignore[attr-defined]
    got: list[str] = []
    async with fast(settings) as sender:
        await sender.wait_connected(5)
        for attempt in range(6):
            async with fast(settings, client_id="kept", status_topic="kept/status") as link:
                await link.subscribe(["kept/q/#"], lambda m: got.append(m.topic))
                await link.ready()
                async with asyncio.timeout(5):
                    await link.wait_online()
                await asyncio.sleep(0.2)
                watched = [key.fd for key in selector.get_map().values() if key.events & selectors.EVENT_WRITE]
                assert watched == [], f"attempt {attempt}: the loop watches {watched} for writing"
            for n in range(20):
                await sender.publish(f"kept/q/{n}", b"x", qos=1)
    assert len(got) == 100  # the last 20 wait for a seventh connection


async def test_the_inbox_hands_over_messages_in_batches_without_a_task_per_message() -> None:
    """Hand queued messages to the handlers on the loop's next turns, `_DRAIN_BATCH` at a time."""
    link = MqttConnection(MqttSettings.from_url("mqtt://127.0.0.1:1"))
    seen: list[bytes] = []
    await link.subscribe(["t"], lambda m: seen.append(m.payload))
    inbox = _inbox_type(link)()
    for mid in range(_DRAIN_BATCH + 5):
        inbox.put_nowait(aiomqtt.Message("t", b"%d" % mid, 1, False, mid, None))
    assert seen == []  # nothing is handled inside paho's callback
    await asyncio.sleep(0)
    assert len(seen) == _DRAIN_BATCH  # one batch per turn, so other tasks run in between
    await asyncio.sleep(0)
    assert seen == [b"%d" % mid for mid in range(_DRAIN_BATCH + 5)]
    assert inbox.empty()


async def test_urgent_messages_leave_the_inbox_first(caplog: pytest.LogCaptureFixture) -> None:
    """Hand over what the connection's rule calls urgent first, the rest in arrival order."""
    link = MqttConnection(MqttSettings.from_url("mqtt://127.0.0.1:1"))
    inbox = _inbox_type(link)()
    payloads = [b"a", b"!b", b"c", b"!d", b"boom", b"e"]
    for mid, payload in enumerate(payloads[:3]):  # before any rule: arrival order
        inbox.put_nowait(aiomqtt.Message("t", payload, 1, False, mid, None))
    assert [inbox.get_nowait().payload for _ in range(3)] == [b"a", b"!b", b"c"]

    def rule(topic: str, payload: bytes) -> bool:
        if payload == b"boom":
            raise ValueError("a faulty rule")
        return topic == "t" and payload.startswith(b"!")

    link.prioritize(rule)
    for mid, payload in enumerate(payloads):
        inbox.put_nowait(aiomqtt.Message("t", payload, 1, False, mid, None))
    assert [inbox.get_nowait().payload for _ in payloads] == [b"!b", b"!d", b"a", b"c", b"boom", b"e"]
    assert "could not rank a message to t" in caplog.text


async def test_urgent_messages_of_different_senders_take_turns() -> None:
    """Hand over one sender's urgent messages in turn with another's, however many the first sent before."""
    link = MqttConnection(MqttSettings.from_url("mqtt://127.0.0.1:1"))
    inbox = _inbox_type(link)()
    link.prioritize(lambda topic, payload: payload.startswith(b"!"), lambda topic: topic.rsplit("/", 1)[-1])
    sent = [("req/a", b"!a0"), ("req/a", b"!a1"), ("req/a", b"late"), ("req/a", b"!a2"), ("req/b", b"!b0")]
    sent += [("req/b", b"!b1"), ("req/a", b"!a3")]
    for mid, (topic, payload) in enumerate(sent):
        inbox.put_nowait(aiomqtt.Message(topic, payload, 1, False, mid, None))
    assert [inbox.get_nowait().payload for _ in sent] == [b"!a0", b"!b0", b"!a1", b"!b1", b"!a2", b"!a3", b"late"]
    # Once a lane's messages have left, its next one is first in line again.
    for mid, (topic, payload) in enumerate([("req/a", b"!a4"), ("req/b", b"!b2")]):
        inbox.put_nowait(aiomqtt.Message(topic, payload, 1, False, mid, None))
    assert [inbox.get_nowait().payload for _ in range(2)] == [b"!a4", b"!b2"]


async def test_no_password_in_logs(caplog: pytest.LogCaptureFixture) -> None:
    """Log connection failures with the password hidden."""
    caplog.set_level(logging.DEBUG)
    settings = MqttSettings.from_url(f"mqtt://sasha:hunter2@127.0.0.1:{free_port()}")
    async with fast(settings):
        await asyncio.sleep(0.3)
    assert "unavailable" in caplog.text
    assert "hunter2" not in caplog.text


async def test_broker_restart_loses_no_command(broker: Mosquitto, home: Inventory) -> None:
    """Reconnect, re-subscribe and deliver a command issued while the broker was down.

    The simulator waits 1.5-3 s before reconnecting and Sasha at most 0.2 s, so the held
    command reaches the broker before its receiver is back: only the broker's persisted
    session for the simulator saves it.
    """
    settings = MqttSettings.from_url(broker.url)
    async with simulated_home(
        home, settings, ack_wait=0.5, reconnect_min=0.05, reconnect_max=0.2, sim_reconnect_min=3
    ) as bed:
        simulator, mirror, executor, link, sim_link = bed.simulator, bed.mirror, bed.executor, bed.link, bed.sim_link
        assert await mirror.wait_for("bedroom_light", {"power": "off"}, timeout=5)
        await broker.stop()
        await asyncio.sleep(0.2)
        assert not link.connected
        # Issued during the outage: held in the outbox, and reported as such.
        [outcome] = await executor.execute([Action("bedroom_light", {"power": "on", "brightness": 42})])
        assert outcome.result is Result.PUBLISHED
        assert outcome.held
        assert link.held == 1
        await broker.start()
        await link.wait_connected(5)
        assert link.connects == 2
        async with asyncio.timeout(2):
            await link.flush()  # the broker takes the command...
        assert not sim_link.connected  # ...while the simulator was still away
        assert await mirror.wait_for("bedroom_light", {"power": "on", "brightness": 42}, timeout=10)
        assert simulator.values("bedroom_light")["brightness"] == 42
        assert sim_link.connects == 2
        assert link.held == 0
        # Subscriptions are back on both sides: a new command and a sensor change flow through.
        [outcome] = await executor.execute([Action("hallway_light", {"power": "on"})])
        assert not outcome.held
        assert await mirror.wait_for("hallway_light", {"power": "on"}, timeout=5)
        simulator.set_values("bathroom_humidity", {"humidity": 77})
        assert await mirror.wait_for("bathroom_humidity", {"humidity": 77}, timeout=5)


def _make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """Make a throwaway CA and a server certificate for 127.0.0.1 with openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    ca_key, ca_cert = folder / "ca.key", folder / "ca.crt"
    key, request, cert = folder / "server.key", folder / "server.csr", folder / "server.crt"
    extensions = folder / "san.cnf"
    extensions.write_text("subjectAltName=IP:127.0.0.1\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    sign = ["-CA", ca_cert, "-CAkey", ca_key, "-CAcreateserial", "-days", "1", "-extfile", extensions]
    for command in (
        [openssl, "req", "-x509", *ec, "-keyout", ca_key, "-out", ca_cert, "-days", "1", "-subj", "/CN=Sasha test CA"],
        [openssl, "req", *ec, "-keyout", key, "-out", request, "-subj", "/CN=127.0.0.1"],
        [openssl, "x509", "-req", "-in", request, *sign, "-out", cert],
    ):
        subprocess.run([str(c) for c in command], check=True, capture_output=True)
    return ca_cert, cert, key


_UNTRUSTING = """
import asyncio, sys
from sasha.mqtt.connection import MqttConnection, MqttSettings

async def main():
    async with MqttConnection(MqttSettings.from_url(sys.argv[1]), reconnect_min=0.05) as link:
        try:
            await link.wait_connected(1)
        except TimeoutError:
            print("refused")
        else:
            print("connected")

asyncio.run(main())
"""


async def test_tls_with_a_ca_file(tmp_path: Path) -> None:
    """Connect over mqtts:// trusting a given CA, and refuse a broker the CA did not sign."""
    ca_cert, cert, key = _make_certificates(tmp_path)
    async with Mosquitto(tls=(cert, key)) as broker:
        assert broker.url.startswith("mqtts://")
        settings = MqttSettings.from_url(broker.url, ca_file=str(ca_cert))
        inbox = _Inbox()
        async with fast(settings) as reader, fast(settings) as writer:
            await reader.subscribe(["secure/#"], inbox)
            await reader.wait_connected(5)
            assert await writer.publish("secure/x", b"over tls", wait=5)
            await inbox.wait(lambda m: any(x.payload == b"over tls" for x in m))
        # Without our CA the system store does not trust the broker. This runs in its own
        # process because paho-mqtt 2.x leaks the socket of a failed TLS handshake.
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-W",
            "ignore::ResourceWarning",
            "-c",
            _UNTRUSTING,
            broker.url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        out, _ = await process.communicate()
        assert out.strip() == b"refused"


async def test_overlapping_subscriptions_are_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    """Warn when a filter overlaps another of the same connection: brokers deliver twice."""
    link = MqttConnection(MqttSettings.from_url("mqtt://127.0.0.1:1"))
    await link.subscribe(["a/b", "a/c"], lambda _: None)
    await link.subscribe(["x/+"], lambda _: None)
    assert "overlaps" not in caplog.text
    await link.subscribe(["a/#"], lambda _: None)
    assert "subscription a/# overlaps a/b" in caplog.text
    caplog.clear()
    await link.subscribe(["x/y"], lambda _: None)
    assert "subscription x/y overlaps x/+" in caplog.text


async def test_aiomqtt_still_keeps_the_puback_table_the_outbox_uses() -> None:
    """Fail clearly on an aiomqtt that no longer keeps `_pending_publishes` Events and `_client` (paho)."""
    client = aiomqtt.Client("127.0.0.1", 1)
    table = client._pending_publishes
    assert isinstance(table, dict)
    assert hasattr(client._client, "publish")
    assert "_pending_publishes.pop(mid).set()" in inspect.getsource(aiomqtt.Client._on_publish)
    # The inbox drains itself and a task watches this future instead of aiomqtt's message iterator.
    assert isinstance(client._disconnected, asyncio.Future)
    assert "self._queue.put_nowait(m)" in inspect.getsource(aiomqtt.Client._on_message)
    # Writes are driven from the loop through paho's socket callbacks.
    for name in ("on_socket_register_write", "on_socket_unregister_write", "loop_write", "want_write", "socket"):
        assert hasattr(client._client, name), name
