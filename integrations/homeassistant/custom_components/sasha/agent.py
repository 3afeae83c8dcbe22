"""The conversation agent: what is said to Assist goes to Sasha, and Sasha's reply is spoken."""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from typing import Any, Literal

from homeassistant.components import conversation
from homeassistant.core import HomeAssistant
from homeassistant.helpers import area_registry as ar
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import intent
from homeassistant.util import ulid

from .hub import SashaHub
from .link import SashaLink, SashaUnavailableError

# Replies that report a failure; Assist shows them as errors, and they are still spoken.
_FAILED = frozenset({"infeasible", "rejected", "error", "busy"})
# Replies that ask something back: the next utterance of the conversation answers them.
_ASKING = frozenset({"needs_confirmation", "clarify"})
# Conversations whose pending confirmation token we keep; older ones are forgotten first.
_MAX_CONVERSATIONS = 256
# Home Assistant 2025.x can keep a voice satellite listening after a question; 2024.x cannot.
_CAN_CONTINUE = "continue_conversation" in {field.name for field in dataclasses.fields(conversation.ConversationResult)}


class SashaAgent(conversation.AbstractConversationAgent):
    """Hand each utterance to Sasha, in Sasha's conversation of the same id."""

    def __init__(self, link: SashaLink, hub: SashaHub | None = None) -> None:
        self.link = link
        self.hub = hub
        self._tokens: OrderedDict[str, str] = OrderedDict()

    @property
    def supported_languages(self) -> list[str] | Literal["*"]:
        """Return English only.

        Sasha's local path (explicit commands and questions without a model) matches English
        sentences, and its own messages are English; offering it to a pipeline in another
        language would fail on exactly the requests that should need no model.
        """
        return ["en"]

    async def async_process(self, user_input: conversation.ConversationInput) -> conversation.ConversationResult:
        """Send the utterance to Sasha and speak its reply; failures are spoken too, never raised."""
        # Sasha keeps state per conversation (a plan waiting for a yes, the question it asked,
        # what the model was told), so Home Assistant's conversation id is Sasha's conversation.
        conversation_id = user_input.conversation_id or ulid.ulid_now()
        response = intent.IntentResponse(language=user_input.language)
        try:
            area = _area(self.link.hass, user_input.device_id)
            reply = await self.link.async_ask(
                user_input.text, conversation_id, self._tokens.get(conversation_id), area=area
            )
        except SashaUnavailableError as err:
            response.async_set_error(intent.IntentResponseErrorCode.FAILED_TO_HANDLE, str(err))
            return _result(response, conversation_id, keep_open=False)
        status = str(reply.get("status") or "error")
        self._remember(conversation_id, status, reply)
        message = _message(status, reply)
        if status in _FAILED:
            response.async_set_error(intent.IntentResponseErrorCode.FAILED_TO_HANDLE, message)
        else:
            response.async_set_speech(message)
            if status == "answer":
                response.response_type = intent.IntentResponseType.QUERY_ANSWER
        return _result(response, conversation_id, keep_open=status in _ASKING)

    def _remember(self, conversation_id: str, status: str, reply: dict[str, Any]) -> None:
        """Keep the token of the latest confirmation Sasha asked for in this conversation.

        The token goes along with every later utterance of the conversation, not just with
        the ones that look like "yes" or "no": Sasha decides which words confirm ("sure",
        "go ahead", "never mind", ...), a copy of its list here would drift, and Sasha ignores
        a token it does not need.
        """
        token = reply.get("confirm_token")
        if status == "needs_confirmation" and isinstance(token, str) and token:
            self._tokens[conversation_id] = token
        if conversation_id in self._tokens:
            self._tokens.move_to_end(conversation_id)
        while len(self._tokens) > _MAX_CONVERSATIONS:
            self._tokens.popitem(last=False)


def _area(hass: HomeAssistant, device_id: str | None) -> str | None:
    """Return the name of the area of the satellite that heard the sentence, if it is in one."""
    if device_id is None:
        return None
    device = dr.async_get(hass).async_get(device_id)
    if device is None or device.area_id is None:
        return None
    area = ar.async_get(hass).async_get_area(device.area_id)
    return area.name if area is not None else None


def _message(status: str, reply: dict[str, Any]) -> str:
    """Return the sentence to speak; Sasha always sends one, but a silent answer helps nobody."""
    message = reply.get("message")
    if isinstance(message, str) and message.strip():
        return message.strip()
    if status in _FAILED:
        return "Sasha could not do that."
    return "Sasha did not say anything."


def _result(
    response: intent.IntentResponse, conversation_id: str, *, keep_open: bool
) -> conversation.ConversationResult:
    """Build the result; the conversation id always goes back, so follow-ups reach the same conversation."""
    if _CAN_CONTINUE:
        # Built from a dict so that type checkers against Home Assistant 2024.x accept it.
        extra: dict[str, Any] = {"continue_conversation": keep_open}
        return conversation.ConversationResult(response=response, conversation_id=conversation_id, **extra)
    return conversation.ConversationResult(response=response, conversation_id=conversation_id)
