"""Multi-turn conversations without a model, the way people hold them: the chat, MQTT, `sasha run`.

The answer to Sasha's own question completes that question's request (its verb and value), a
bare name never acts, and anything else lets the question lapse.
"""

from __future__ import annotations

import asyncio
import io
import json
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from sasha.assistant import Assistant
from sasha.home.inventory import from_yaml
from sasha.planning.planner import Planner
from sasha.surfaces.chat import Chat
from sasha.surfaces.daemon import Daemon, DaemonOptions
from tests.conftest import EXAMPLE, Rig, start_sasha
from tests.surfaces.test_daemon import _client, request
from tests.understanding.test_clarify import HOME

# (what was on before, what is said, the answer, what must hold after, what must not have moved)
Turn = tuple[dict[str, dict[str, Any]], str, str, dict[str, dict[str, Any]], dict[str, dict[str, Any]]]
TURNS: list[Turn] = [
    (
        {"bedroom_fan": {"power": "on"}, "bathroom_fan": {"power": "on"}},
        "turn off the fan",
        "the ceiling fan",
        {"bedroom_fan": {"power": "off"}},
        {"bathroom_fan": {"power": "on"}},
    ),
    (
        {"bedroom_speaker": {"power": "on", "playback": "playing"}, "living_room_tv": {"playback": "playing"}},
        "pause the music",
        "bedroom speaker",
        {"bedroom_speaker": {"playback": "paused"}},
        {"living_room_tv": {"playback": "playing"}},
    ),
    (
        {"living_room_lamp": {"power": "on"}, "bedroom_bedside_lamp": {"power": "on"}},
        "switch off the lamp",
        "the bedroom one",
        {"bedroom_bedside_lamp": {"power": "off"}},
        {"living_room_lamp": {"power": "on"}},
    ),
    (
        {"bedroom_fan": {"power": "off"}, "bathroom_fan": {"power": "off"}},
        "set the fan to 40%",
        "1",
        {"bedroom_fan": {"power": "on", "fan_speed": 40}},
        {"bathroom_fan": {"power": "off"}},
    ),
]


async def _given(rig: Rig, before: dict[str, dict[str, Any]]) -> None:
    for device, values in before.items():
        assert not rig.simulator.set_values(device, values)
        assert await rig.mirror.wait_for(device, values, timeout=5), device


async def _holds(rig: Rig, after: dict[str, dict[str, Any]], still: dict[str, dict[str, Any]]) -> None:
    for device, values in after.items():
        assert await rig.mirror.wait_for(device, values, timeout=5), (device, rig.simulator.values(device))
    await asyncio.sleep(0.2)  # a wrong command would have arrived by now
    for device, values in still.items():
        assert {k: rig.simulator.values(device)[k] for k in values} == values, device


def _alone(rig: Rig) -> Assistant:
    return Assistant(rig.home, rig.executor, Planner(rig.home, None, state=rig.mirror.snapshot), mirror=rig.mirror)


@pytest.mark.parametrize("turn", TURNS)
async def test_the_chat_completes_the_question_it_asked(rig: Rig, turn: Turn) -> None:
    """In the terminal chat, the answer runs the first sentence's verb on the device it names."""
    before, said, answer, after, still = turn
    await _given(rig, before)
    out = io.StringIO()
    console = Console(file=out, width=200, force_terminal=False, color_system=None)
    lines = iter([said, answer, "/quit"])

    async def read(prompt: str) -> str | None:
        return next(lines, None)

    assert await Chat(_alone(rig), rig.mirror, console, read).run() == 0
    assert "do you mean" in out.getvalue()
    await _holds(rig, after, still)


async def test_a_bare_name_asks_and_acts_on_nothing(rig: Rig) -> None:
    """Say "kitchen light" with no question open: asked what to do, and the light stays as it was."""
    await _given(rig, {"kitchen_light": {"power": "off"}})
    reply = await _alone(rig).handle("kitchen light")
    assert (reply.status, reply.message, reply.actions) == (
        "clarify",
        "What should I do with the Kitchen light?",
        (),
    )
    await _holds(rig, {}, {"kitchen_light": {"power": "off"}})


async def test_a_new_request_lets_the_question_lapse(rig: Rig) -> None:
    """Ask which fan, then give another command: a later "1" completes nothing."""
    await _given(rig, {"bedroom_fan": {"power": "on"}, "bathroom_fan": {"power": "on"}})
    assistant = _alone(rig)
    assert (await assistant.handle("turn off the fan")).status == "clarify"
    assert (await assistant.handle("turn on the office light")).status == "done"
    late = await assistant.handle("1")
    assert late.status != "done"
    assert late.actions == ()
    await _holds(rig, {"office_light": {"power": "on"}}, {"bedroom_fan": {"power": "on"}})


async def test_yes_does_not_settle_an_older_plan_behind_a_question(rig: Rig) -> None:
    """Hold the garage door, ask which fan, say "yes": the door stays shut and the question is asked again."""
    await _given(rig, {"garage_door": {"position": 0}})
    assistant = _alone(rig)
    assert (await assistant.handle("open the garage door")).status == "needs_confirmation"
    assert (await assistant.handle("turn off the fan")).status == "clarify"
    again = await assistant.handle("yes")
    assert again.status == "clarify"
    assert "Which fan do you mean" in again.message
    await _holds(rig, {}, {"garage_door": {"position": 0}})
    assert (await assistant.handle("no")).message == "OK, I left everything as it was."


async def test_a_sensitive_answer_still_waits_for_a_yes(rig: Rig) -> None:
    """Answer "which lock" for an unlock: the completed request waits for a yes like any unlock."""
    pairs = from_yaml(HOME, "pairs.yaml")
    assistant = Assistant(pairs, rig.executor, Planner(pairs, None, state=dict))
    assert (await assistant.handle("unlock the lock")).status == "clarify"
    held = await assistant.handle("the front one")
    assert (held.status, [a.device for a in held.actions]) == ("needs_confirmation", ["front_lock"])
    assert held.actions[0].set == {"lock": "unlocked"}
    assert (await assistant.handle("no")).message == "OK, I left everything as it was."


@pytest.fixture
async def served(rig: Rig) -> AsyncIterator[Rig]:
    """Serve the MQTT API without a model on the rig's connection."""
    daemon = Daemon(_alone(rig), rig.link, options=DaemonOptions(open=True))
    stop = asyncio.Event()
    task = asyncio.create_task(daemon.serve(stop))
    await asyncio.sleep(0.3)  # let the subscriptions reach the broker
    try:
        yield rig
    finally:
        stop.set()
        await task


async def _say(url: str, text: str, conversation: str, **extra: str) -> dict[str, Any]:
    body = {"text": text, "conversation": conversation, **extra}
    listen = extra.get("reply_to", "sasha/response")
    reply, _ = await request(url, json.dumps(body), listen=listen, timeout=10)
    return reply


@pytest.mark.parametrize("turn", TURNS)
async def test_mqtt_completes_the_question_in_its_conversation(served: Rig, turn: Turn) -> None:
    """Over MQTT, in one conversation: the question, then the answer, which does what was first asked."""
    before, said, answer, after, still = turn
    await _given(served, before)
    url = served.broker.url
    asked = await _say(url, said, "talk-1")
    assert asked["status"] == "clarify", asked
    done = await _say(url, answer, "talk-1")
    assert done["status"] == "done", done
    await _holds(served, after, still)


async def test_mqtt_another_route_or_conversation_cannot_answer(served: Rig) -> None:
    """An answer from another conversation, or from another reply route, completes nothing."""
    await _given(served, {"bedroom_fan": {"power": "on"}, "bathroom_fan": {"power": "on"}})
    url = served.broker.url
    assert (await _say(url, "turn off the fan", "mine"))["status"] == "clarify"
    other = await _say(url, "the ceiling fan", "theirs")
    assert (other["status"], other["actions"]) == ("clarify", [])
    routed = await _say(url, "the ceiling fan", "mine", reply_to="sasha/reply/elsewhere")
    assert (routed["status"], routed["actions"]) == ("clarify", [])
    await _holds(served, {}, {"bedroom_fan": {"power": "on"}, "bathroom_fan": {"power": "on"}})


async def test_sasha_run_completes_a_clarification(rig: Rig, tmp_path: Path) -> None:
    """A real `sasha run` process: "turn off the fan", "the ceiling fan": only the Ceiling fan goes off."""
    await _given(rig, {"bedroom_fan": {"power": "on"}, "bathroom_fan": {"power": "on"}})
    url = rig.broker.url
    process = await start_sasha(
        "run", "--open", "--devices", str(EXAMPLE), "--mqtt-url", url, "--state-dir", str(tmp_path)
    )
    try:
        async with _client(url) as watcher:
            await watcher.subscribe("sasha/status", qos=1)
            async with asyncio.timeout(15):
                async for message in watcher.messages:
                    if message.payload == b"online":
                        break
        asked = await _say(url, "turn off the fan", "run-1")
        assert asked["message"] == "Which fan do you mean: Ceiling fan, Bathroom fan?"
        bare = await _say(url, "kitchen light", "run-2")
        assert (bare["status"], bare["actions"]) == ("clarify", [])
        done = await _say(url, "the ceiling fan", "run-1")
        assert (done["status"], done["message"]) == ("done", "Done. Ceiling fan off.")
        await _holds(rig, {"bedroom_fan": {"power": "off"}}, {"bathroom_fan": {"power": "on"}})
        nothing = await _say(url, "turn on the dishwasher", "run-3")
        assert (nothing["status"], nothing["message"]) == ("infeasible", "There is no dishwasher in this home.")
        typo = await _say(url, "turn of the kitchen light", "run-3")
        assert typo["status"] == "clarify"
        assert "Did you mean “turn off kitchen light”?" in typo["message"]
    finally:
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(15):
            assert await process.wait() == 0
