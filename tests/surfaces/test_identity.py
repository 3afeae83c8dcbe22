"""Users on a shared broker (issue 24): who asked, who may approve, and fairness between users.

A real mosquitto, real MQTT v5 clients, the real `openai` SDK against the scripted model. The
daemon reads the user from the topic (`sasha/request/<user>`); the broker's ACL, which pins
users to their topics, is tested with the shipped files in tests/test_deploy.py.
"""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

import aiomqtt

from sasha.mqtt.connection import Incoming
from sasha.planning.llm.scripted import ScriptedModel
from sasha.policy import Approvers, ModelBudget
from tests.conftest import EXAMPLE, Rig, run_sasha, start_sasha
from tests.surfaces.test_api_hardening import _client, _json, _next, serving

UNLOCK = {"text": "unlock the front door"}


async def say(client: aiomqtt.Client, user: str, body: dict[str, Any], *, kind: str = "request") -> dict[str, Any]:
    """Publish on the user's own topic with a reply route under its prefix; return the reply."""
    route = f"sasha/reply/{user}/t"
    await client.subscribe(route, qos=1)
    await client.publish(f"sasha/{kind}/{user}", json.dumps(body | {"reply_to": route}), qos=1)
    while True:
        message = await _next(client)
        if message.topic.value == route:
            return _json(message)


async def test_a_plain_users_yes_is_refused_and_an_owner_approves_the_plan(rig: Rig, tmp_path: Path) -> None:
    """Refuse alice's "yes" + token and her confirm; let the owner approve from its own topic; tell alice."""
    approvers = Approvers.of(["owner"])
    served = serving(rig, None, tmp_path, approvers=approvers, open=False)
    async with served as daemon, _client(rig) as alice, _client(rig) as owner:
        await owner.subscribe("sasha/approvals/owner", qos=1)
        held = await say(alice, "alice", UNLOCK)
        assert held["status"] == "needs_confirmation"
        notice = _json(await _next(owner))
        assert (notice["user"], notice["token"]) == ("alice", held["confirm_token"])
        yes = {"text": "yes", "conversation": held["conversation"], "confirm_token": held["confirm_token"]}
        assert (await say(alice, "alice", yes))["status"] == "rejected"
        confirm = {"token": held["confirm_token"], "approve": True}
        assert (await say(alice, "alice", confirm, kind="confirm"))["status"] == "rejected"
        assert rig.mirror.get("front_door", "lock") != "unlocked"
        # The owner, from its own route and with no conversation: the token is enough for it.
        done = await say(owner, "owner", confirm, kind="confirm")
        told = _json(await _next(alice))
        # Settled once: a second approval finds nothing.
        again = await say(owner, "owner", confirm, kind="confirm")
        audited = [(e.user, e.text, e.status) for e in daemon.audit.recent()]
    assert done["status"] == "done"
    assert (told["status"], told["conversation"]) == ("done", held["conversation"])
    assert again["status"] == "rejected"
    assert await rig.mirror.wait_for("front_door", {"lock": "unlocked"}, timeout=5)
    # The audit log says who asked and who approved.
    assert ("alice", "unlock the front door", "needs_confirmation") in audited
    assert [(user, status) for user, text, status in audited if status == "done"] == [("owner", "done")]


async def test_an_owner_approves_its_own_plan_with_yes_and_the_token(rig: Rig, tmp_path: Path) -> None:
    """Run the owner's own unlock on "yes" + token on sasha/request/owner, bound to its route."""
    async with serving(rig, None, tmp_path, approvers=Approvers.of(["owner"]), open=False), _client(rig) as owner:
        held = await say(owner, "owner", UNLOCK)
        assert "Shall I go ahead?" in held["message"]
        yes = {"text": "yes", "conversation": held["conversation"], "confirm_token": held["confirm_token"]}
        done = await say(owner, "owner", yes)
    assert done["status"] == "done"
    assert await rig.mirror.wait_for("front_door", {"lock": "unlocked"}, timeout=5)


async def test_a_devices_own_approvers_replace_the_owners(rig: Rig, tmp_path: Path) -> None:
    """Refuse the owner on the front door that only carol may approve; let carol approve it."""
    approvers = Approvers.of(["owner"], {"front_door": ["carol"]})
    async with serving(rig, None, tmp_path, approvers=approvers, open=False), _client(rig) as client:
        held = await say(client, "alice", UNLOCK)
        confirm = {"token": held["confirm_token"], "approve": True}
        refused = await say(client, "owner", confirm, kind="confirm")
        done = await say(client, "carol", confirm, kind="confirm")
    assert refused["status"] == "rejected"
    assert "only an owner may approve moving Front door" in refused["message"]
    assert done["status"] == "done"


async def test_replies_go_to_the_askers_own_prefix_and_never_under_another_users(rig: Rig, tmp_path: Path) -> None:
    """Answer on sasha/reply/<user> by default; refuse a route under another user's prefix, on the asker's."""
    async with serving(rig, None, tmp_path, open=False), _client(rig) as alice:
        await alice.subscribe("sasha/reply/alice", qos=1)
        await alice.publish("sasha/request/alice", "turn on the office light", qos=1)
        plain = _json(await _next(alice))
        body = {"text": "turn off the office light", "id": "x", "reply_to": "sasha/reply/bob/x"}
        await alice.publish("sasha/request/alice", json.dumps(body), qos=1)
        refused = _json(await _next(alice))
    assert plain["status"] == "done"
    assert (refused["id"], refused["status"]) == ("x", "rejected")
    assert "go under sasha/reply/alice" in refused["message"]


async def test_without_open_the_anonymous_topics_are_not_served(rig: Rig, tmp_path: Path) -> None:
    """Serve only users' topics by default: an anonymous request gets nothing, a user's is answered after it."""
    async with serving(rig, None, tmp_path, open=False) as served, _client(rig) as client:
        await client.subscribe("sasha/response", qos=1)
        await client.subscribe("sasha/reply/alice", qos=1)
        await client.publish("sasha/request", "turn on the office light", qos=1)
        await client.publish("sasha/request/alice", "turn on the office light", qos=1)
        first = await _next(client)
        # Nor a user's topic with an empty name.
        served.daemon._on_request(Incoming("sasha/request/", b"turn on the office light"))
    assert first.topic.value == "sasha/reply/alice"
    assert "" not in served.daemon.user_counters


async def test_one_users_requests_for_the_model_spend_only_that_users_budget(
    rig: Rig, scripted: ScriptedModel, tmp_path: Path
) -> None:
    """Answer alice `busy` past her share of model calls while bob's goal is still planned; count it as hers."""
    scripted.add(*[{"kind": "answer", "message": "Noted.", "actions": []}] * 10)
    budget = ModelBudget(per_minute=60, per_day=100, per_request=4, per_user_minute=5)
    async with serving(rig, scripted, tmp_path, budget=budget, open=False) as served, _client(rig) as client:
        # Each goal reserves 4 calls and uses 1: the third would pass her 5.
        alice = [await say(client, "alice", {"text": f"tell me a story {n}"}) for n in range(3)]
        bob = await say(client, "bob", {"text": "tell me a story"})
        users = served.daemon.user_counters
    assert [r["status"] for r in alice] == ["answer", "answer", "busy"]
    assert "your share of 5 model calls a minute" in alice[2]["message"]
    assert bob["status"] == "answer"
    assert users["alice"]["model_budget_refused"] == 1
    assert "model_budget_refused" not in users["bob"]


async def test_a_device_owner_of_no_device_is_a_configuration_error(tmp_path: Path) -> None:
    """Refuse `sasha run --device-owner` naming no device of the inventory, with exit code 2."""
    args = ("run", "--devices", str(EXAMPLE), "--mqtt-url", "mqtt://127.0.0.1:1", "--state-dir", str(tmp_path))
    code, _, err = await run_sasha(*args, "--device-owner", "front_dor=carol")
    assert code == 2
    assert "api.device_owners: no device 'front_dor' in the inventory" in err


async def test_another_users_answer_never_completes_a_users_question(rig: Rig, tmp_path: Path) -> None:
    """Leave alice's "Which fan?" to alice: bob's "the ceiling fan" in her conversation and route does nothing."""
    async with serving(rig, None, tmp_path, open=False), _client(rig) as client:
        await client.subscribe("sasha/response", qos=1)
        body = {"conversation": "c1", "reply_to": "sasha/response"}
        await client.publish("sasha/request/alice", json.dumps(body | {"text": "turn on the fan"}), qos=1)
        asked = _json(await _next(client))
        await client.publish("sasha/request/bob", json.dumps(body | {"text": "the ceiling fan"}), qos=1)
        theirs = _json(await _next(client))
    assert (asked["status"], theirs["status"]) == ("clarify", "clarify")
    assert asked["message"].startswith("Which fan")
    assert theirs["message"] == "What should I do with the Ceiling fan?"


async def test_sasha_history_names_the_user_who_asked_sasha_run(rig: Rig, tmp_path: Path) -> None:
    """Ask `sasha run` as alice on her own topic; after it stops, `sasha history` shows her on that row."""
    common = ("--devices", str(EXAMPLE), "--mqtt-url", rig.broker.url, "--state-dir", str(tmp_path))
    process = await start_sasha("run", *common)
    try:
        async with _client(rig) as alice:
            await alice.subscribe("sasha/status", qos=1)
            await alice.subscribe("sasha/reply/alice", qos=1)
            async with asyncio.timeout(30):
                while (await _next(alice)).payload != b"online":
                    pass
                await alice.publish("sasha/request/alice", "turn on the office light", qos=1)
                while (message := await _next(alice)).topic.value != "sasha/reply/alice":
                    pass
        assert _json(message)["status"] == "done"
    finally:
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(15):
            await process.communicate()
    code, out, _ = await run_sasha("history", "--state-dir", str(tmp_path))
    assert code == 0
    [row] = [line for line in out.splitlines() if "office light" in line]
    assert "alice" in row, out
