"""Sasha's MQTT API seen from Home Assistant: requests out, replies and status in.

Everything goes through Home Assistant's own MQTT integration, so the broker, its credentials
and TLS are configured once, there. Sasha reads who asks from the topic: requests go to
`<root>/request/<user>`, `<user>` being the username of that MQTT integration, which the
broker's ACL pins to it (without a username, the anonymous `<root>/request` of Sasha's
`--open`). Each conversation has a reply topic of its own under `<root>/reply/<user>/<instance>/`
(replies are matched to requests by id), and one wildcard subscription made at setup catches
every reply:
subscribing per request would race Sasha's local path, which can answer in about 10 ms, well
inside the MQTT integration's subscribe debounce.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from homeassistant.components import mqtt
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError

_LOGGER = logging.getLogger(__name__)

# How often to re-send the probe until the reply subscription shows it is live.
_PROBE_INTERVAL = 0.5
# How long a request waits for that proof before it goes anyway: a broker whose ACL refuses
# our probe may still deliver Sasha's replies.
_READY_WAIT = 3.0


def _route(conversation: str) -> str:
    """Return a topic level for a conversation: any id Home Assistant hands us, never a `/`, `+` or `#`."""
    return hashlib.sha256(conversation.encode()).hexdigest()[:32]


class SashaUnavailableError(Exception):
    """Sasha could not be asked, or did not answer; the message is fit to be spoken."""


class SashaLink:
    """Send requests to one Sasha daemon and await the replies that match them."""

    def __init__(self, hass: HomeAssistant, root: str, timeout: float, instance: str) -> None:
        self._hass = hass
        self.root = root
        self.timeout = timeout
        user = _mqtt_user(hass)
        self._request_topic = f"{root}/request/{user}" if user else f"{root}/request"
        self._reply_base = f"{root}/reply/{user}/{instance}" if user else f"{root}/reply/{instance}"
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._ready = asyncio.Event()
        self._prober: asyncio.Task[None] | None = None
        self._cleanups: list[Callable[[], None]] = []
        # `online` / `offline` from the retained `<root>/status`; None until Sasha has said either.
        self.status: str | None = None

    @property
    def ready(self) -> bool:
        """Return whether replies are known to reach us."""
        return self._ready.is_set()

    async def async_start(self) -> None:
        """Subscribe to Sasha's status and to our replies."""
        hass = self._hass
        self._cleanups.append(await mqtt.async_subscribe(hass, f"{self.root}/status", self._on_status, qos=1))
        self._cleanups.append(await mqtt.async_subscribe(hass, f"{self._reply_base}/+", self._on_reply, qos=1))
        self._cleanups.append(mqtt.async_subscribe_connection_status(hass, self._on_connection))
        self._start_probe()

    async def async_stop(self) -> None:
        """Unsubscribe, and fail the requests still waiting."""
        for cleanup in self._cleanups:
            cleanup()
        self._cleanups.clear()
        await self._stop_probe()
        self._fail_waiting("The Sasha integration is being unloaded.")

    @property
    def hass(self) -> HomeAssistant:
        """Return the Home Assistant this link belongs to."""
        return self._hass

    async def async_ask(
        self, text: str, conversation: str, confirm_token: str | None = None, *, area: str | None = None
    ) -> dict[str, Any]:
        """Send one request and return Sasha's reply object.

        Raises SashaUnavailableError, with a sentence to speak, when Sasha is offline or the
        reply does not come within the timeout.
        """
        if self.status == "offline":
            raise SashaUnavailableError("Sasha is offline right now, so I can't pass that on.")
        if not _broker_connected(self._hass):
            raise SashaUnavailableError("Home Assistant is not connected to the MQTT broker, so Sasha can't hear me.")
        request_id = uuid.uuid4().hex
        body: dict[str, Any] = {
            "text": text,
            "id": request_id,
            "conversation": conversation,
            # One reply topic per conversation, not per request: Sasha accepts a "yes" only on
            # the reply route its question went to, so a follow-up must come back on it.
            "reply_to": f"{self._reply_base}/{_route(conversation)}",
        }
        if confirm_token is not None:
            body["confirm_token"] = confirm_token
        if area is not None:
            body["area"] = area  # the satellite's area: "turn off the lights" means this room's
        future: asyncio.Future[dict[str, Any]] = self._hass.loop.create_future()
        self._waiting[request_id] = future
        try:
            async with asyncio.timeout(self.timeout):
                # Right after setup or a reconnect the reply subscription may not be live yet;
                # a request sent then would be answered into the void.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(_READY_WAIT):
                        await self._ready.wait()
                await mqtt.async_publish(self._hass, self._request_topic, json.dumps(body), qos=1, retain=False)
                return await future
        except TimeoutError:
            raise SashaUnavailableError(self._timeout_message()) from None
        except HomeAssistantError as err:
            raise SashaUnavailableError(f"I couldn't send that to Sasha: {err}") from err
        finally:
            self._waiting.pop(request_id, None)

    def _timeout_message(self) -> str:
        seconds = f"{self.timeout:g} second{'' if self.timeout == 1 else 's'}"
        if not self.ready:
            return (
                f"Sasha did not answer within {seconds}. Home Assistant never received a message on "
                f"{self._reply_base}/#; check that the broker lets it publish and subscribe there."
            )
        if self.status is None:
            return (
                f"Sasha did not answer within {seconds}, and has never reported in on {self.root}/status. "
                "Is the Sasha daemon running?"
            )
        return f"Sasha did not answer within {seconds}."

    @callback
    def _on_status(self, message: mqtt.ReceiveMessage) -> None:
        payload = message.payload.decode() if isinstance(message.payload, bytes) else str(message.payload)
        status = payload.strip().lower()
        if status not in ("online", "offline"):
            _LOGGER.debug("ignored status %r on %s", payload, message.topic)
            return
        self.status = status
        if status == "offline":
            # Sasha finishes the requests in flight before it says offline; anything still
            # waiting now will not be answered.
            self._fail_waiting("Sasha went offline before it answered.")

    @callback
    def _on_reply(self, message: mqtt.ReceiveMessage) -> None:
        # Anything on our own reply topics, the probe included, proves the subscription is live.
        self._ready.set()
        try:
            reply = json.loads(message.payload)
        except ValueError:
            _LOGGER.debug("ignored a reply that is not JSON on %s", message.topic)
            return
        if not isinstance(reply, dict):
            return
        future = self._waiting.get(str(reply.get("id")))
        if future is not None and not future.done():
            future.set_result(reply)

    @callback
    def _on_connection(self, connected: bool) -> None:
        if connected:
            # Home Assistant subscribes again after a reconnect, after a short debounce.
            self._start_probe()
        else:
            self._ready.clear()

    @callback
    def _start_probe(self) -> None:
        if self._prober is None or self._prober.done():
            self._prober = self._hass.async_create_background_task(self._probe(), f"sasha probe {self._reply_base}")

    async def _stop_probe(self) -> None:
        prober, self._prober = self._prober, None
        if prober is not None and not prober.done():
            prober.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await prober

    async def _probe(self) -> None:
        """Publish to our own reply topic until it comes back, which shows the subscription is live."""
        topic = f"{self._reply_base}/probe"
        while not self._ready.is_set():
            if _broker_connected(self._hass):
                try:
                    await mqtt.async_publish(self._hass, topic, '{"probe": true}', qos=0, retain=False)
                except HomeAssistantError as err:
                    _LOGGER.debug("probe not sent: %s", err)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_PROBE_INTERVAL):
                    await self._ready.wait()

    def _fail_waiting(self, message: str) -> None:
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(SashaUnavailableError(message))


def _mqtt_user(hass: HomeAssistant) -> str | None:
    """Return the username Home Assistant's MQTT integration logs in with, when Sasha can take it from a topic."""
    for entry in hass.config_entries.async_entries(mqtt.DOMAIN):
        user = entry.data.get("username")
        if isinstance(user, str) and user and not any(c in user for c in "/+#\x00"):
            return user
    return None


def _broker_connected(hass: HomeAssistant) -> bool:
    """Return whether Home Assistant's MQTT client is connected."""
    try:
        return mqtt.is_connected(hass)
    except KeyError:  # the MQTT integration is not set up (any more)
        return False
