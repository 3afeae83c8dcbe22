"""The executor: only valid commands reach the broker; undo restores what was there."""

from __future__ import annotations

import asyncio
import json

from sasha.executor import Executor, Result
from sasha.home import inventory
from sasha.home.actions import Action
from sasha.home.confirmation import Confirmation
from sasha.home.inventory import Inventory
from sasha.mqtt.connection import Incoming, MqttSettings
from sasha.mqtt.mosquitto import Mosquitto, free_port
from sasha.state import StateMirror
from tests.conftest import Rig, fast


async def test_nothing_invalid_reaches_the_broker(rig: Rig) -> None:
    """Skip invalid actions with the reason, publish the valid one, and send nothing else."""
    seen: list[Incoming] = []
    async with fast(MqttSettings.from_url(rig.broker.url)) as spy:
        await spy.subscribe(["#"], seen.append)
        await spy.wait_connected(5)
        await asyncio.sleep(0.3)  # retained states arrive first; they are not commands
        seen.clear()
        outcomes = await rig.executor.execute(
            [
                Action("coffee_machine", {"power": "on"}, "hallucinated"),
                Action("bathroom_humidity", {"humidity": 10}, "sensor"),
                Action("living_room_lamp", {"brightness": 500}, "out of range"),
                Action("living_room_lamp", {"colour": "red"}, "unknown capability"),
                Action("front_door", {"lock": "open"}, "not a lock word"),
                Action("living_room_lamp", {"power": "on", "brightness": 500}, "half valid"),
                Action("bedroom_light", {"power": "on", "brightness": 25}, "valid"),
            ]
        )
        assert [o.result for o in outcomes] == [Result.SKIPPED] * 6 + [Result.PUBLISHED]
        assert "no device 'coffee_machine'" in (outcomes[0].error or "")
        assert "sensor reading" in (outcomes[1].error or "")
        assert all(o.error for o in outcomes[:6])
        assert await rig.mirror.wait_for("bedroom_light", {"power": "on", "brightness": 25}, timeout=5)
        await asyncio.sleep(0.2)
    commands = [m.topic for m in seen if m.topic.endswith("/set") or m.topic.startswith("cmnd/")]
    assert commands == ["zigbee2mqtt/bedroom_light/set"]


async def test_undo_restores_previous_values(rig: Rig) -> None:
    """Put back exactly what the last batch replaced, across protocols."""
    before = {d: rig.mirror.values(d) for d in ("living_room_lamp", "hallway_light", "bedroom_fan")}
    outcomes = await rig.executor.execute(
        [
            Action("living_room_lamp", {"power": "on", "brightness": 10}),
            Action("hallway_light", {"power": "on", "brightness": 90}),
            Action("bedroom_fan", {"power": "on", "fan_speed": 70}),
        ]
    )
    assert all(o.result is Result.PUBLISHED for o in outcomes)
    assert await rig.mirror.wait_for("bedroom_fan", {"fan_speed": 70}, timeout=5)
    assert await rig.mirror.wait_for("hallway_light", {"brightness": 90}, timeout=5)
    assert rig.executor.can_undo
    undone = await rig.executor.undo()
    assert {o.action.device for o in undone} == set(before)
    assert all(o.result is Result.PUBLISHED for o in undone)
    for device_id, values in before.items():
        wanted = {k: v for k, v in values.items() if k in ("power", "brightness", "fan_speed")}
        assert await rig.mirror.wait_for(device_id, wanted, timeout=5), (device_id, rig.mirror.values(device_id))
    assert not rig.executor.can_undo
    assert await rig.executor.undo() == []


async def test_undo_goes_back_one_batch_at_a_time(rig: Rig) -> None:
    """Undo the most recent batch first."""
    await rig.executor.execute([Action("office_light", {"brightness": 20})])
    assert await rig.mirror.wait_for("office_light", {"brightness": 20}, timeout=5)
    await rig.executor.execute([Action("office_light", {"brightness": 60})])
    assert await rig.mirror.wait_for("office_light", {"brightness": 60}, timeout=5)
    await rig.executor.undo()
    assert await rig.mirror.wait_for("office_light", {"brightness": 20}, timeout=5)
    await rig.executor.undo()
    assert await rig.mirror.wait_for("office_light", {"brightness": 80}, timeout=5)


async def test_undo_says_what_it_cannot_restore(rig: Rig) -> None:
    """Report a value that was never seen instead of guessing it."""
    blind = Executor(rig.home, rig.link, StateMirror(rig.home))
    await blind.execute([Action("garage_light", {"power": "on"})])
    [outcome] = await blind.undo()
    assert outcome.result is Result.SKIPPED
    assert "never reported" in (outcome.error or "")


async def test_a_full_outbox_fails_the_action(home: Inventory) -> None:
    """Report `failed` when the broker has been away so long that the outbox is full."""
    async with fast(MqttSettings.from_url(f"mqtt://127.0.0.1:{free_port()}"), max_outbox=1) as link:
        executor = Executor(home, link, StateMirror(home), ack_wait=0.1)
        first, second = await executor.execute(
            [Action("living_room_lamp", {"power": "on"}), Action("office_light", {"power": "on"})]
        )
    assert (first.result, first.held) == (Result.PUBLISHED, True)
    assert second.result is Result.FAILED
    assert "waiting for the broker" in (second.error or "")


async def test_each_action_is_judged_by_what_its_device_reports(rig: Rig) -> None:
    """Confirm the prompt and the late device, leave the silent one unconfirmed, mark a track skip write-only."""
    rig.simulator.silent = frozenset({"garage_light"})
    rig.simulator.late["office_light"] = 0.4
    outcomes = await rig.executor.execute(
        [
            Action("living_room_lamp", {"power": "on", "brightness": 35}),
            Action("office_light", {"brightness": 45}),
            Action("garage_light", {"power": "on"}),
            Action("bedroom_speaker", {"track": "next"}),
        ],
        confirm=2.0,
    )
    assert [o.result for o in outcomes] == [Result.PUBLISHED] * 4
    assert [o.confirmation for o in outcomes] == [
        Confirmation.CONFIRMED,
        Confirmation.CONFIRMED,
        Confirmation.UNCONFIRMED,
        Confirmation.WRITE_ONLY,
    ]
    assert rig.simulator.values("garage_light")["power"] == "on"  # it did it, it just never said so


async def test_a_device_that_reports_another_value_fails(rig: Rig) -> None:
    """Fail the action when the device reports something else after the command, and keep what it said."""
    rig.simulator.silent = frozenset({"bathroom_light"})
    async with fast(MqttSettings.from_url(rig.broker.url)) as other:
        await other.wait_connected(5)

        async def contradict() -> None:
            await asyncio.sleep(0.1)
            other.publish_nowait("sasha-demo/bathroom_light", b'{"power": "off"}')

        async with asyncio.TaskGroup() as group:
            group.create_task(contradict())
            job = group.create_task(rig.executor.execute([Action("bathroom_light", {"power": "on"})], confirm=1.0))
    [outcome] = job.result()
    assert outcome.confirmation is Confirmation.FAILED
    assert outcome.reported == {"power": "off"}


async def test_without_confirm_nobody_waits(rig: Rig) -> None:
    """Leave the confirmation unset when the caller did not ask for one (routines)."""
    rig.simulator.silent = frozenset({"garage_light"})
    [outcome] = await rig.executor.execute([Action("garage_light", {"power": "on"})])
    assert outcome.confirmation is None


async def test_a_full_outbox_is_a_failed_confirmation(home: Inventory) -> None:
    """Mark an action the outbox refused as failed, not as unconfirmed."""
    async with fast(MqttSettings.from_url(f"mqtt://127.0.0.1:{free_port()}"), max_outbox=1) as link:
        executor = Executor(home, link, StateMirror(home), ack_wait=0.1)
        first, second = await executor.execute(
            [Action("living_room_lamp", {"power": "on"}), Action("office_light", {"power": "on"})], confirm=0.1
        )
    assert first.confirmation is Confirmation.UNCONFIRMED
    assert second.confirmation is Confirmation.FAILED


async def test_home_assistants_refusal_comes_back_as_a_failed_action(broker: Mosquitto) -> None:
    """Wait for the integration's report of each call: a refused one fails with Home Assistant's error."""
    home = inventory.from_dict(
        {
            "rooms": [{"id": "hall", "name": "Hall"}],
            "devices": [
                {
                    "id": d,
                    "name": d,
                    "room": "hall",
                    "type": "cover",
                    "protocol": "hass",
                    "topic": f"test-hass/cover.{d}",
                    "capabilities": {"position": {}},
                }
                for d in ("garage", "window", "silent")
            ],
        }
    )
    settings = MqttSettings.from_url(broker.url)
    async with fast(settings) as integration, fast(settings) as link:

        def answer(message: Incoming) -> None:
            # What the integration does: carry out the call, or report Home Assistant's error.
            call = json.loads(message.payload)
            entity = message.topic.split("/")[1]
            if entity == "cover.silent":
                return
            report = {"call": call["call"], "ok": entity != "cover.garage"}
            if entity == "cover.garage":
                report["error"] = "Entity cover.garage does not support this service."
            integration.publish_nowait(f"test-hass/{entity}/result", json.dumps(report))

        await integration.subscribe(["test-hass/+/set"], answer)
        await integration.wait_connected(5)
        for device in ("garage", "window", "silent"):
            state = {"state": "closed", "attributes": {"current_position": 0}}
            await integration.publish(f"test-hass/cover.{device}/state", json.dumps(state), retain=True)
        mirror = StateMirror(home)
        await mirror.attach(link)
        executor = Executor(home, link, mirror, result_wait=1.0)
        await executor.attach(link)
        await link.wait_connected(5)
        assert await mirror.wait_until(lambda: mirror.complete, timeout=5)
        await asyncio.sleep(0.3)  # the result subscription acknowledged too
        outcomes = await executor.execute(
            [Action("garage", {"position": 30}), Action("window", {"position": 30}), Action("silent", {"position": 0})]
        )
    assert [o.result for o in outcomes] == [Result.FAILED, Result.PUBLISHED, Result.PUBLISHED]
    assert outcomes[0].error == "Home Assistant: Entity cover.garage does not support this service."
    assert outcomes[1].error is None
    assert outcomes[2].error == "Home Assistant did not report back within 1 s"
    # Undo leaves the refused door alone: only what may have moved is restored.
    assert [a.device for a in executor.peek_undo()] == ["window", "silent"]


async def test_a_late_tasmota_device_answers_late_too(rig: Rig) -> None:
    """Hold back a late Tasmota device's immediate RESULT as well: it confirms only once it reports."""
    rig.simulator.late["hallway_light"] = 1.0
    [early] = await rig.executor.execute([Action("hallway_light", {"power": "on", "brightness": 33})], confirm=0.2)
    assert early.confirmation is Confirmation.UNCONFIRMED
    [later] = await rig.executor.execute([Action("hallway_light", {"brightness": 34})], confirm=5.0)
    assert later.confirmation is Confirmation.CONFIRMED
