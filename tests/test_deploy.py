"""The shipped broker set-up (deploy/): Sasha and the simulator work, nobody else commands or confirms.

A mosquitto runs with exactly deploy/acl, the queue limits of deploy/mosquitto.conf and a
password file made by `mosquitto_passwd -b`, as deploy/init-passwords.sh makes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import signal
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiomqtt
import pytest
import pytest_asyncio
import yaml

from sasha.adapters import adapter_for
from sasha.home.inventory import Inventory
from sasha.mqtt.connection import refused
from sasha.mqtt.mosquitto import Mosquitto
from tests.conftest import EXAMPLE, ROOT, clean_env, run_sasha, start_sasha
from tests.mqtt.test_credentials import password_file

DEPLOY = ROOT / "deploy"
USERS = ("sasha", "sim", "owner", "alice", "mallory", "homeassistant")
# What the test broker takes from the shipped file; the listener, the files' paths and the
# persistence folder are the test's own.
OWN_LINES = ("listener", "allow_anonymous", "password_file", "acl_file", "persistence", "log_dest", "set_tcp")


def shipped_settings() -> list[str]:
    """Return the lines of deploy/mosquitto.conf that the test broker uses as they are."""
    lines = [line.strip() for line in (DEPLOY / "mosquitto.conf").read_text().splitlines()]
    return [line for line in lines if line and not line.startswith(("#", *OWN_LINES))]


def test_the_shipped_broker_is_locked_down() -> None:
    """Refuse anonymous clients, name a password file and the ACL, keep TCP_NODELAY, size queues."""
    options = dict(
        line.split(None, 1) for line in (DEPLOY / "mosquitto.conf").read_text().splitlines() if line[:1].isalpha()
    )
    assert options["allow_anonymous"] == "false"
    assert options["password_file"] == "/mosquitto/config/passwords"
    assert options["acl_file"] == "/mosquitto/config/acl"
    assert options["set_tcp_nodelay"] == "true"
    assert int(options["max_queued_messages"]) >= 5000
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    volumes = compose["services"]["mosquitto"]["volumes"]
    assert "./deploy/acl:/mosquitto/config/acl:ro" in volumes
    assert "./deploy/passwords:/mosquitto/config/passwords:ro" in volumes
    for service, user in (("sasha", "sasha"), ("sim", "sim")):
        environment = compose["services"][service]["environment"]
        assert environment["SASHA_MQTT_USERNAME"] == user
        assert environment["SASHA_MQTT_PASSWORD"].startswith(f"${{{user.upper()}_MQTT_PASSWORD:?")
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert ".env" in ignored
    assert "deploy/passwords" in ignored


@dataclass
class Locked:
    """The locked-down broker with Sasha and the simulator running on it."""

    broker: Mosquitto
    passwords: dict[str, str]

    def client(self, user: str | None) -> aiomqtt.Client:
        """Return an MQTT v5 client logged in as `user` (None: anonymous)."""
        return aiomqtt.Client(
            "127.0.0.1",
            self.broker.port,
            username=user,
            password=self.passwords.get(user or ""),
            identifier=f"t-{user}-{uuid.uuid4().hex[:6]}",
            protocol=aiomqtt.ProtocolVersion.V5,
        )


# One broker, simulator and daemon for the module: starting two Sasha processes costs seconds.
in_module_loop = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def locked(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Locked]:
    """Run mosquitto with the shipped ACL, then `sasha sim` and `sasha run` with their own users."""
    tmp_path = tmp_path_factory.mktemp("locked")
    passwords = {user: secrets.token_urlsafe(18) for user in USERS}
    users = password_file(tmp_path, passwords)
    async with Mosquitto(password_file=users, acl_file=DEPLOY / "acl", extra=shipped_settings()) as broker:
        url = f"mqtt://127.0.0.1:{broker.port}"
        # The simulator takes its password from the environment, the daemon from a file.
        sim_env = clean_env(SASHA_MQTT_USERNAME="sim", SASHA_MQTT_PASSWORD=passwords["sim"])
        secret = tmp_path / "sasha-password"
        secret.write_text(passwords["sasha"] + "\n")
        secret.chmod(0o600)
        sim = await start_sasha("sim", "--devices", str(EXAMPLE), "--mqtt-url", url, env=sim_env)
        daemon = await start_sasha(
            "run",
            *("--devices", str(EXAMPLE), "--mqtt-url", url, "--state-dir", str(tmp_path)),
            *("--mqtt-username", "sasha", "--mqtt-password-file", str(secret)),
        )
        running = Locked(broker, passwords)
        outputs = []
        try:
            async with running.client("alice") as alice:
                await alice.subscribe("sasha/status", qos=1)
                async with asyncio.timeout(60):
                    async for message in alice.messages:
                        if message.payload == b"online":
                            break
            yield running
        finally:
            for process in (daemon, sim):
                process.send_signal(signal.SIGTERM)
                outputs.append(b"".join(await process.communicate()).decode())
        # No password in what either process printed, nor in the audit log.
        audit = (tmp_path / "audit.db").read_bytes()
        for output in outputs:
            assert not any(password in output for password in passwords.values())
            assert "Traceback" not in output
        assert audit
        assert not any(password.encode() in audit for password in passwords.values())


async def ask(
    client: aiomqtt.Client, user: str, body: dict[str, Any], topic: str = "sasha/request", reply_to: str | None = None
) -> dict[str, Any]:
    """Send `body` with a reply_to under the user's own prefix and wait for the reply there."""
    reply_to = reply_to or f"sasha/reply/{user}/{uuid.uuid4().hex[:8]}"
    await client.subscribe(reply_to, qos=1)
    await client.publish(topic, json.dumps({**body, "reply_to": reply_to}), qos=1)
    async with asyncio.timeout(20):
        async for message in client.messages:
            if message.topic.value == reply_to:
                assert isinstance(message.payload, bytes)
                reply: dict[str, Any] = json.loads(message.payload)
                return reply
    raise AssertionError("no reply")


async def device_state(locked: Locked, home: Inventory, device_id: str) -> dict[str, Any]:
    """Read a device's retained state, as Sasha's user may."""
    device = home.devices[device_id]
    adapter = adapter_for(device)
    async with locked.client("sasha") as observer:
        await observer.subscribe(adapter.state_topics(device)[0], qos=1)
        async with asyncio.timeout(10):
            async for message in observer.messages:
                assert isinstance(message.payload, bytes)
                return dict(adapter.decode_state(device, message.topic.value, message.payload))
    raise AssertionError("no state")


@in_module_loop
async def test_anonymous_clients_are_refused(locked: Locked) -> None:
    """Refuse a client without a username, and one with a wrong password."""
    wrong = aiomqtt.Client("127.0.0.1", locked.broker.port, username="alice", password=secrets.token_urlsafe(8))
    for client in (locked.client(None), wrong):
        with pytest.raises(aiomqtt.MqttCodeError) as caught:
            async with client:
                pass
        assert refused(caught.value)


@in_module_loop
async def test_sasha_serves_users_on_their_own_reply_prefix(locked: Locked, home: Inventory) -> None:
    """Serve a plain user end to end: command, device state changed, reply under sasha/reply/<user>/."""
    async with locked.client("alice") as alice:
        reply = await ask(alice, "alice", {"text": "turn on the office light", "id": "a1"})
    assert (reply["id"], reply["status"]) == ("a1", "done")
    assert (await device_state(locked, home, "office_light"))["power"] == "on"
    code, _, err = await run_sasha(
        "health",
        "--mqtt-url",
        f"mqtt://127.0.0.1:{locked.broker.port}",
        env=clean_env(SASHA_MQTT_USERNAME="sasha", SASHA_MQTT_PASSWORD=locked.passwords["sasha"]),
    )
    assert (code, err) == (0, "")


@in_module_loop
async def test_a_plain_user_cannot_read_another_users_replies(locked: Locked) -> None:
    """Deliver mallory's reply to mallory only, though alice subscribes to every reply topic."""
    async with locked.client("alice") as alice, locked.client("mallory") as mallory:
        await alice.subscribe("sasha/reply/#", qos=1)
        await alice.subscribe("sasha/reply/mallory/#", qos=1)
        theirs = await ask(mallory, "mallory", {"text": "turn on the kettle", "id": "m1"})
        assert theirs["status"] == "done"
        # Alice's own reply comes after mallory's on the same broker; had she been allowed to
        # read mallory's, it would have arrived first.
        body = {"text": "turn off the kettle", "reply_to": "sasha/reply/alice/k"}
        await alice.publish("sasha/request", json.dumps(body), qos=1)
        seen = []
        async with asyncio.timeout(20):
            async for message in alice.messages:
                seen.append(message.topic.value)
                if message.topic.value == "sasha/reply/alice/k":
                    break
    assert seen == ["sasha/reply/alice/k"]


@in_module_loop
async def test_a_plain_user_can_neither_command_devices_nor_confirm(locked: Locked, home: Inventory) -> None:
    """Drop alice's device commands and confirmations at the broker; the owner can confirm."""
    assert (await device_state(locked, home, "front_door"))["lock"] == "locked"
    async with locked.client("alice") as alice:
        # Straight to the lock, and to the simulator's control topic.
        with contextlib.suppress(aiomqtt.MqttError):
            await alice.publish("zigbee2mqtt/front_door/set", b'{"state": "UNLOCK"}', qos=1)
        with contextlib.suppress(aiomqtt.MqttError):
            await alice.publish("sasha-sim/set/front_door", b'{"lock": "unlocked"}', qos=1)
        # Through Sasha: the plan waits for a confirmation alice may not send.
        held = await ask(alice, "alice", {"text": "unlock the front door", "id": "a3"})
        assert held["status"] == "needs_confirmation"
        confirm = {"token": held["confirm_token"], "approve": True, "conversation": held["conversation"]}
        await alice.subscribe("sasha/response", qos=1)
        with contextlib.suppress(aiomqtt.MqttError):
            await alice.publish("sasha/confirm", json.dumps(confirm), qos=1)
        # A round trip through Sasha and the simulator after all of that.
        later = await ask(alice, "alice", {"text": "turn on the hallway light", "id": "a4"})
        assert later["status"] == "done"
    assert (await device_state(locked, home, "front_door"))["lock"] == "locked"
    async with locked.client("owner") as owner:
        # A confirmation comes back on the reply route its question went to.
        route = "sasha/reply/owner/o1"
        asked = await ask(owner, "owner", {"text": "unlock the front door", "id": "o1"}, reply_to=route)
        assert asked["status"] == "needs_confirmation"
        confirm = {"token": asked["confirm_token"], "approve": True, "conversation": asked["conversation"]}
        done = await ask(owner, "owner", confirm, topic="sasha/confirm", reply_to=route)
    assert done["status"] == "done"
    assert (await device_state(locked, home, "front_door"))["lock"] == "unlocked"


@in_module_loop
async def test_only_sasha_calls_home_assistants_entities(locked: Locked) -> None:
    """Let Home Assistant offer states and read Sasha's calls; drop a plain user's calls and offers."""
    state = b'{"state": "off", "attributes": {}}'
    async with locked.client("homeassistant") as hub, locked.client("sasha") as sasha:
        await hub.subscribe("sasha-hass/+/set", qos=1)
        await sasha.subscribe("sasha-hass/+/state", qos=1)
        async with locked.client("alice") as alice:
            with contextlib.suppress(aiomqtt.MqttError):
                await alice.publish("sasha-hass/lock.front_door/set", b'{"service": "unlock"}', qos=1)
            with contextlib.suppress(aiomqtt.MqttError):
                await alice.publish("sasha-hass/lock.front_door/state", b'{"state": "locked"}', qos=1)
        await hub.publish("sasha-hass/light.porch/state", state, qos=1)
        await sasha.publish("sasha-hass/light.porch/set", b'{"service": "turn_on"}', qos=1)
        seen: dict[str, list[str]] = {"hub": [], "sasha": []}

        async def collect(name: str, client: aiomqtt.Client) -> None:
            async for message in client.messages:
                seen[name].append(message.topic.value)
                if message.topic.value.startswith("sasha-hass/light.porch"):
                    return

        async with asyncio.timeout(10):
            await asyncio.gather(collect("hub", hub), collect("sasha", sasha))
    # The broker keeps order per client: had alice's messages passed, they would have come first.
    assert seen == {"hub": ["sasha-hass/light.porch/set"], "sasha": ["sasha-hass/light.porch/state"]}
