"""The shipped broker set-up (deploy/): Sasha and the simulator work, users are who the broker says.

A mosquitto runs with exactly deploy/acl, the queue limits of deploy/mosquitto.conf and the
password file deploy/init-passwords.sh makes; `sasha run` runs with the owners of
docker-compose.yml. A plain user cannot get a lock opened by any message, an owner can approve
a plain user's plan, and one user's flood leaves another user's command answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
import pytest_asyncio
import yaml

from sasha.adapters import adapter_for
from sasha.home.inventory import Inventory
from sasha.mqtt.connection import refused
from sasha.mqtt.mosquitto import QUEUE_LIMITS, Mosquitto
from tests.conftest import EXAMPLE, ROOT, clean_env, run_sasha, start_sasha

DEPLOY = ROOT / "deploy"
# The users init-passwords.sh always makes, then two plain users named on its command line.
USERS = ("sasha", "sim", "owner", "homeassistant", "alice", "mallory")
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
    # Only per-user topics, and one owner, the user init-passwords.sh makes for it.
    daemon = compose["services"]["sasha"]["environment"]
    assert "SASHA_API_OPEN" not in daemon
    assert daemon["SASHA_API_OWNERS"] == "${SASHA_API_OWNERS:-owner}"
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


def shipped_passwords(folder: Path, passwords: dict[str, str]) -> Path:
    """Run deploy/init-passwords.sh on a copy of deploy/ with these passwords; return its password file."""
    if shutil.which("mosquitto_passwd") is None:
        pytest.skip("mosquitto_passwd is not installed")
    here = folder / "deploy"
    here.mkdir()
    shutil.copy(DEPLOY / "init-passwords.sh", here)
    plain = list(USERS[4:])
    env = {**os.environ, **{f"{user.upper()}_MQTT_PASSWORD": password for user, password in passwords.items()}}
    shell = shutil.which("sh") or "/bin/sh"
    subprocess.run([shell, str(here / "init-passwords.sh"), *plain], env=env, check=True, capture_output=True)
    # The .env it wrote holds exactly the passwords it was given.
    written = dict(line.split("=", 1) for line in (folder / ".env").read_text().splitlines())
    assert written == {f"{user.upper()}_MQTT_PASSWORD": password for user, password in passwords.items()}
    return here / "passwords"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def locked(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Locked]:
    """Run mosquitto with the shipped ACL, then `sasha sim` and `sasha run` with their own users."""
    tmp_path = tmp_path_factory.mktemp("locked")
    passwords = {user: secrets.token_urlsafe(18) for user in USERS}
    users = shipped_passwords(tmp_path, passwords)
    async with Mosquitto(password_file=users, acl_file=DEPLOY / "acl", extra=shipped_settings()) as broker:
        url = f"mqtt://127.0.0.1:{broker.port}"
        # The simulator takes its password from the environment, the daemon from a file.
        sim_env = clean_env(SASHA_MQTT_USERNAME="sim", SASHA_MQTT_PASSWORD=passwords["sim"])
        secret = tmp_path / "sasha-password"
        secret.write_text(passwords["sasha"] + "\n")
        secret.chmod(0o600)
        sim = await start_sasha("sim", "--devices", str(EXAMPLE), "--mqtt-url", url, env=sim_env)
        # The owners of docker-compose.yml's default, through the same variable.
        daemon = await start_sasha(
            "run",
            *("--devices", str(EXAMPLE), "--mqtt-url", url, "--state-dir", str(tmp_path)),
            *("--mqtt-username", "sasha", "--mqtt-password-file", str(secret)),
            env=clean_env(SASHA_API_OWNERS="owner"),
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
    client: aiomqtt.Client,
    user: str,
    body: dict[str, Any],
    *,
    topic: str | None = None,
    reply_to: str | None = None,
    timeout: float = 20,
) -> dict[str, Any]:
    """Send `body` on the user's own request topic with a reply_to under its prefix; wait for the reply there."""
    topic = topic or f"sasha/request/{user}"
    reply_to = reply_to or f"sasha/reply/{user}/{uuid.uuid4().hex[:8]}"
    await client.subscribe(reply_to, qos=1)
    await client.publish(topic, json.dumps({**body, "reply_to": reply_to}), qos=1)
    async with asyncio.timeout(timeout):
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


async def state_becomes(locked: Locked, home: Inventory, device_id: str, key: str, value: Any) -> bool:
    """Tell whether a device reports `key: value` within 10 s (the simulator reports after the command)."""
    for _ in range(50):
        if (await device_state(locked, home, device_id)).get(key) == value:
            return True
        await asyncio.sleep(0.2)
    return False


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
        await alice.publish("sasha/request/alice", json.dumps(body), qos=1)
        seen = []
        async with asyncio.timeout(20):
            async for message in alice.messages:
                seen.append(message.topic.value)
                if message.topic.value == "sasha/reply/alice/k":
                    break
    assert seen == ["sasha/reply/alice/k"]


async def _published(client: aiomqtt.Client, topic: str, payload: str | bytes) -> None:
    """Publish as a hostile client would; a broker that drops it may also close the connection."""
    with contextlib.suppress(aiomqtt.MqttError):
        await client.publish(topic, payload, qos=1)


@in_module_loop
async def test_a_plain_user_cannot_get_a_lock_opened_by_any_message(locked: Locked, home: Inventory) -> None:
    """Keep the door locked whatever alice sends: to the lock, as another user, "yes" with the token, confirm."""
    assert (await device_state(locked, home, "front_door"))["lock"] == "locked"
    async with locked.client("alice") as alice:
        # Straight to the lock, and to the simulator's control topic: the broker drops both.
        await _published(alice, "zigbee2mqtt/front_door/set", b'{"state": "UNLOCK"}')
        await _published(alice, "sasha-sim/set/front_door", b'{"lock": "unlocked"}')
        # Through Sasha: the plan waits for an owner.
        route = "sasha/reply/alice/door"
        held = await ask(alice, "alice", {"text": "unlock the front door", "id": "a3"}, reply_to=route)
        assert held["status"] == "needs_confirmation"
        assert "owner must approve" in held["message"]
        token, conversation = held["confirm_token"], held["conversation"]
        # "yes" with the token on her own request topic, from the route the question went to:
        # the hole of issue 24, refused by Sasha (the token still waits for an owner).
        yes = {"text": "yes", "conversation": conversation, "confirm_token": token, "id": "a4"}
        refused = await ask(alice, "alice", yes, reply_to=route)
        assert refused["status"] == "rejected"
        assert "only an owner may approve" in refused["message"]
        # On her own confirm topic: refused the same way.
        confirm = {"token": token, "approve": True, "conversation": conversation, "id": "a5"}
        refused = await ask(alice, "alice", confirm, topic="sasha/confirm/alice", reply_to=route)
        assert refused["status"] == "rejected"
        # As the owner, and on the anonymous topics: the broker drops what is not hers to write.
        await _published(alice, "sasha/confirm/owner", json.dumps(confirm))
        await _published(alice, "sasha/request/owner", json.dumps(yes | {"reply_to": "sasha/reply/owner"}))
        await _published(alice, "sasha/confirm", json.dumps(confirm))
        await _published(alice, "sasha/request", json.dumps(yes))
        # Replies to the owner's prefix: refused by Sasha, and the refusal comes to her own.
        await alice.subscribe("sasha/reply/alice", qos=1)
        body = {"text": "unlock the front door", "id": "a6", "reply_to": "sasha/reply/owner"}
        await alice.publish("sasha/request/alice", json.dumps(body), qos=1)
        async with asyncio.timeout(20):
            async for message in alice.messages:
                if message.topic.value == "sasha/reply/alice":
                    away = json.loads(_payload(message))
                    break
        assert (away["id"], away["status"]) == ("a6", "rejected")
        assert "go under sasha/reply/alice" in away["message"]
    assert (await device_state(locked, home, "front_door"))["lock"] == "locked"


@in_module_loop
async def test_an_owner_can_approve_a_plain_users_plan(locked: Locked, home: Inventory) -> None:
    """Tell the owner of alice's held unlock on its own topic; the owner's approval runs it; alice hears."""
    async with locked.client("owner") as owner, locked.client("alice") as alice:
        await owner.subscribe("sasha/approvals/owner", qos=1)
        await owner.subscribe("sasha/reply/owner", qos=1)
        route = "sasha/reply/alice/garage"
        held = await ask(alice, "alice", {"text": "open the garage door", "id": "g1"}, reply_to=route)
        assert held["status"] == "needs_confirmation"
        async with asyncio.timeout(10):
            notice = json.loads(_payload(await anext(aiter(owner.messages))))
        assert (notice["user"], notice["token"]) == ("alice", held["confirm_token"])
        assert [a["device"] for a in notice["actions"]] == ["garage_door"]
        # No reply_to: the reply goes to the owner's own prefix.
        await owner.publish("sasha/confirm/owner", json.dumps({"token": notice["token"], "approve": True}), qos=1)
        async with asyncio.timeout(10):
            done = json.loads(_payload(await anext(aiter(owner.messages))))
            told = json.loads(_payload(await anext(aiter(alice.messages))))
    assert done["status"] == "done"
    assert (told["status"], told["conversation"]) == ("done", held["conversation"])
    assert await state_becomes(locked, home, "garage_door", "position", 100)
    # The safe direction needs nobody's approval.
    async with locked.client("alice") as alice:
        closed = await ask(alice, "alice", {"text": "close the garage door"})
    assert closed["status"] == "done"


def _payload(message: aiomqtt.Message) -> bytes:
    assert isinstance(message.payload, bytes)
    return message.payload


# One user's flood: valid explicit commands, published as fast as paho can, from its own process.
FLOODER = """
import json, sys
import paho.mqtt.client as mqtt
port, user, password, count = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="flooder-" + user, protocol=mqtt.MQTTv5)
client.username_pw_set(user, password)
client.max_inflight_messages_set(200)
client.max_queued_messages_set(0)
client.connect("127.0.0.1", port)
client.loop_start()
sent = []
for i in range(count):
    if i == count // 2:
        sent[-1].wait_for_publish(60)  # the first half is at the broker, ahead of what comes next
        print("half", flush=True)
    text = "turn on the office light" if i % 2 else "turn off the office light"
    body = {"text": text, "id": i, "reply_to": "sasha/reply/" + user + "/flood"}
    sent.append(client.publish("sasha/request/" + user, json.dumps(body), qos=1))
for info in sent:
    info.wait_for_publish(60)
print("done", flush=True)
client.disconnect()
client.loop_stop()
"""


async def flood(port: int, user: str, password: str, count: int) -> asyncio.subprocess.Process:
    """Start a flooder process publishing `count` explicit commands as `user`; return once half is out."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-c", FLOODER, str(port), user, password, str(count)),
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    assert await process.stdout.readline() == b"half\n"
    return process


@in_module_loop
async def test_one_users_flood_leaves_another_users_command_answered(locked: Locked) -> None:
    """Answer mallory's command in the middle of alice's flood of valid commands; count alice's refusals."""
    flooder = await flood(locked.broker.port, "alice", locked.passwords["alice"], 3000)
    async with locked.client("mallory") as mallory:
        reply = await ask(mallory, "mallory", {"text": "turn on the hallway light", "id": "b1"})
    assert (reply["id"], reply["status"]) == ("b1", "done")
    await flooder.communicate()
    assert flooder.returncode == 0
    # Alice's lane filled up and she got `busy` (counted as hers); mallory was never turned away.
    url = f"mqtt://127.0.0.1:{locked.broker.port}"
    env = clean_env(SASHA_MQTT_USERNAME="sasha", SASHA_MQTT_PASSWORD=locked.passwords["sasha"])
    for _ in range(20):
        code, out, _ = await run_sasha("health", "--mqtt-url", url, env=env)
        users = json.loads(out.splitlines()[-1])["users"]
        if users.get("alice", {}).get("received", 0) >= 3000:
            break
        await asyncio.sleep(1)
    assert code == 0
    assert users["alice"]["busy"] > 0
    assert users["mallory"].get("busy", 0) == 0
    assert users["mallory"]["answered"] >= 1


@in_module_loop
async def test_home_assistant_asks_as_itself_on_the_topics_sasha_announces(locked: Locked) -> None:
    """Let Home Assistant's user read Sasha's discovery, ask on its topic, probe and read its replies."""
    async with locked.client("homeassistant") as ha:
        await ha.subscribe("homeassistant/text/sasha_sasha/request/config", qos=1)
        await ha.subscribe("homeassistant/sensor/sasha_sasha/reply/config", qos=1)
        configs = {}
        async with asyncio.timeout(10):
            async for message in ha.messages:
                configs[message.topic.value.split("/")[1]] = json.loads(_payload(message))
                if len(configs) == 2:
                    break
        assert configs["text"]["command_topic"] == "sasha/request/homeassistant"
        reply_topic = configs["sensor"]["state_topic"]
        assert reply_topic == "sasha/reply/homeassistant"
        # The integration's probe of its own reply prefix comes back to it.
        await ha.subscribe("sasha/reply/homeassistant/entry/#", qos=1)
        await ha.publish("sasha/reply/homeassistant/entry/probe", b'{"probe": true}', qos=1)
        async with asyncio.timeout(10):
            probe = await anext(aiter(ha.messages))
        assert probe.topic.value == "sasha/reply/homeassistant/entry/probe"
        # What the text box sends: plain text, answered where the sensor reads.
        await ha.subscribe(reply_topic, qos=1)
        await ha.publish(configs["text"]["command_topic"], b"turn off the office light", qos=1)
        async with asyncio.timeout(20):
            answer = await anext(aiter(ha.messages))
    assert answer.topic.value == reply_topic
    assert json.loads(_payload(answer))["status"] == "done"


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


def test_the_private_broker_sizes_its_queues_as_the_shipped_one() -> None:
    """Give the private broker (demo, tests, benches) the shipped queue limits, so a burst is not dropped."""
    shipped = dict(line.split(None, 1) for line in shipped_settings() if line.startswith("max_"))
    assert dict(line.split(None, 1) for line in QUEUE_LIMITS) == shipped
