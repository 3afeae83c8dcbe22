"""Sasha is offered to Assist pipelines, and a pipeline that uses it answers with Sasha's reply."""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from .conftest import AddSasha


async def test_assist_pipeline_runs_on_sasha(
    hass: HomeAssistant, sasha: str, add_sasha: AddSasha, hass_ws_client: WebSocketGenerator
) -> None:
    """Pick Sasha as a pipeline's conversation agent and run the pipeline on typed text, as the Assist dialog does."""
    entry, _agent = await add_sasha(sasha)
    assert await async_setup_component(hass, "assist_pipeline", {})
    client = await hass_ws_client(hass)

    await client.send_json_auto_id({"type": "conversation/agent/list", "language": "en"})
    agents = {agent["id"]: agent for agent in (await client.receive_json())["result"]["agents"]}
    assert agents[entry.entry_id] == {"id": entry.entry_id, "name": "Sasha", "supported_languages": ["en"]}

    await client.send_json_auto_id(
        {
            "type": "assist_pipeline/pipeline/create",
            "name": "Sasha",
            "language": "en",
            "conversation_engine": entry.entry_id,
            "conversation_language": "en",
            "stt_engine": None,
            "stt_language": None,
            "tts_engine": None,
            "tts_language": None,
            "tts_voice": None,
            "wake_word_entity": None,
            "wake_word_id": None,
        }
    )
    created = await client.receive_json()
    assert created["success"], created
    pipeline_id = created["result"]["id"]

    await client.send_json_auto_id(
        {
            "type": "assist_pipeline/run",
            "pipeline": pipeline_id,
            "start_stage": "intent",
            "end_stage": "intent",
            "input": {"text": "turn off the kitchen light"},
        }
    )
    assert (await client.receive_json())["success"]
    events: list[dict[str, Any]] = []
    while not events or events[-1]["type"] != "run-end":
        event = (await client.receive_json())["event"]
        assert event["type"] != "error", event
        events.append(event)

    (intent_end,) = (event["data"] for event in events if event["type"] == "intent-end")
    output = intent_end["intent_output"]
    assert output["response"]["speech"]["plain"]["speech"].startswith("Done"), output
    assert output["conversation_id"]
