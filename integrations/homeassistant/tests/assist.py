"""Talking to the agent the way an Assist pipeline does, and waiting on Home Assistant."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from homeassistant.components import conversation
from homeassistant.core import Context, HomeAssistant


async def converse(
    hass: HomeAssistant, agent_id: str, text: str, conversation_id: str | None = None, device_id: str | None = None
) -> conversation.ConversationResult:
    """Say `text` to the agent, as an Assist pipeline's intent stage does (from the satellite `device_id`)."""
    return await conversation.async_converse(
        hass, text, conversation_id, Context(), language="en", agent_id=agent_id, device_id=device_id
    )


def speech(result: conversation.ConversationResult) -> str:
    """Return what the result says out loud."""
    spoken: str = result.response.speech["plain"]["speech"]
    return spoken


async def wait_until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Wait, without blocking Home Assistant's loop, until `condition` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)
