"""Voice requests reach the simulated home through a real Sasha, and its replies are spoken."""

from __future__ import annotations

import asyncio
import json

from homeassistant.core import HomeAssistant
from homeassistant.helpers import intent

from .assist import converse, speech, wait_until
from .conftest import AddSasha
from .rig import Message, Tap


def _state(message: Message) -> dict[str, object]:
    state: dict[str, object] = json.loads(message.payload)
    return state


async def test_command_reaches_the_device_and_the_reply_is_spoken(
    hass: HomeAssistant, sasha: str, broker: int, add_sasha: AddSasha
) -> None:
    """Say "turn on the living room lamp": the simulated lamp turns on, "Done" is spoken, and "undo" undoes it."""
    entry, _agent = await add_sasha(sasha)
    with Tap(broker, ["sasha-demo/living_room_lamp", f"{sasha}/request", f"{sasha}/reply/#"]) as tap:
        before = await tap.wait_for("sasha-demo/living_room_lamp", lambda m: m.retained)
        assert _state(before)["power"] == "off"

        result = await converse(hass, entry.entry_id, "turn on the living room lamp")

        assert result.response.response_type == intent.IntentResponseType.ACTION_DONE
        assert speech(result).startswith("Done"), speech(result)
        assert "Living room lamp" in speech(result)
        await tap.wait_for("sasha-demo/living_room_lamp", lambda m: _state(m)["power"] == "on")

        # On the wire: a fresh id, HA's conversation id, and a reply topic under <root>/reply/.
        (request,) = (json.loads(m.payload) for m in tap.messages(f"{sasha}/request"))
        assert request["text"] == "turn on the living room lamp"
        assert request["conversation"] == result.conversation_id
        # One reply topic per conversation: a "yes" must come back on the route its question went to.
        assert request["reply_to"].startswith(f"{sasha}/reply/{entry.entry_id}/")

        # A follow-up in the same conversation: Sasha knows what "undo" refers to.
        undone = await converse(hass, entry.entry_id, "undo", result.conversation_id)

        assert undone.conversation_id == result.conversation_id
        assert undone.response.response_type == intent.IntentResponseType.ACTION_DONE, speech(undone)
        await tap.wait_for("sasha-demo/living_room_lamp", lambda m: not m.retained and _state(m)["power"] == "off")

    # Nothing was left retained: a fresh subscriber would get it at once.
    with Tap(broker, [f"{sasha}/request", f"{sasha}/reply/#"]) as fresh:
        await asyncio.sleep(0.3)
        assert fresh.messages() == []


async def test_confirmation_by_voice(hass: HomeAssistant, sasha: str, broker: int, add_sasha: AddSasha) -> None:
    """Say "open the garage door", hear the question, say "yes" in the same conversation: the door opens."""
    entry, _agent = await add_sasha(sasha)
    with Tap(broker, ["sasha-demo/garage_door", f"{sasha}/request", f"{sasha}/reply/#"]) as tap:
        before = await tap.wait_for("sasha-demo/garage_door", lambda m: m.retained)
        assert _state(before)["position"] == 0

        asked = await converse(hass, entry.entry_id, "open the garage door")

        assert asked.response.response_type != intent.IntentResponseType.ERROR
        assert "go ahead" in speech(asked).lower(), speech(asked)
        assert asked.conversation_id
        question = await tap.wait_for(f"{sasha}/reply/#", lambda m: '"needs_confirmation"' in m.payload)
        token = json.loads(question.payload)["confirm_token"]
        assert token
        # Nothing moves before the yes.
        assert all(_state(m)["position"] == 0 for m in tap.messages("sasha-demo/garage_door"))

        done = await converse(hass, entry.entry_id, "yes", asked.conversation_id)

        assert done.conversation_id == asked.conversation_id
        assert done.response.response_type == intent.IntentResponseType.ACTION_DONE, speech(done)
        assert "Garage door" in speech(done)
        await tap.wait_for("sasha-demo/garage_door", lambda m: _state(m)["position"] == 100)
        yes = json.loads(tap.messages(f"{sasha}/request")[-1].payload)
        assert yes["text"] == "yes"
        assert yes["conversation"] == asked.conversation_id
        assert yes["confirm_token"] == token


async def test_no_keeps_the_door_shut(hass: HomeAssistant, sasha: str, broker: int, add_sasha: AddSasha) -> None:
    """Say "open the garage door", then "no": nothing is sent to the door (closing is the safe way, no yes needed)."""
    entry, _agent = await add_sasha(sasha)
    with Tap(broker, ["sasha-demo/garage_door/#", "sasha-demo/garage_door"]) as tap:
        asked = await converse(hass, entry.entry_id, "open the garage door")
        assert "go ahead" in speech(asked).lower(), speech(asked)

        dropped = await converse(hass, entry.entry_id, "no", asked.conversation_id)

        assert dropped.conversation_id == asked.conversation_id
        assert dropped.response.response_type != intent.IntentResponseType.ERROR, speech(dropped)
        await wait_until(lambda: bool(tap.messages()), "the door's retained state")
        assert not [m for m in tap.messages() if not m.retained], "the door was commanded after a no"


async def test_clarification_by_voice(hass: HomeAssistant, sasha: str, broker: int, add_sasha: AddSasha) -> None:
    """Say "set the fan to 40%", hear which one, answer "the ceiling one": that fan gets 40 %, the other nothing."""
    entry, _agent = await add_sasha(sasha)
    with Tap(broker, ["sasha-demo/bedroom_fan/#", "zigbee2mqtt/bathroom_fan/set"]) as tap:
        asked = await converse(hass, entry.entry_id, "set the fan to 40%")

        assert asked.response.response_type != intent.IntentResponseType.ERROR
        assert speech(asked) == "Which fan do you mean: Ceiling fan, Bathroom fan?"

        bare = await converse(hass, entry.entry_id, "the kitchen light")  # its own conversation
        assert speech(bare) == "What should I do with the Kitchen light?"
        done = await converse(hass, entry.entry_id, "the ceiling one", asked.conversation_id)

        assert done.conversation_id == asked.conversation_id
        assert speech(done) == "Done. Ceiling fan on, fan speed 40 %."
        await tap.wait_for("sasha-demo/bedroom_fan/percentage/set", lambda m: m.payload == "40")
        assert not tap.messages("zigbee2mqtt/bathroom_fan/set"), "the other fan was commanded"
