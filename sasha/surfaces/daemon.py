"""`sasha run`: the headless daemon serving the MQTT API (docs/design.md, section 6).

Requests arrive on `<root>/request`, confirmations on `<root>/confirm`. Each is handled in
its own task (at most `max_concurrent` at once) and answered on the MQTT v5 Response Topic
with its Correlation Data, else on `reply_to`, else on `<root>/response`. A malformed message
gets a `rejected` reply when it says where to send one, and is otherwise logged; the daemon
goes on. On stop, requests in flight are finished before `offline` is published.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from typing import Any

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from sasha.assistant import Assistant, Reply
from sasha.config import Settings
from sasha.home.inventory import Inventory
from sasha.mqtt.connection import Incoming, MqttConnection
from sasha.planning.planner import NO_MODEL
from sasha.surfaces import api
from sasha.surfaces.runtime import Runtime, running

_LOGGER = logging.getLogger(__name__)


def discovery(root: str, prefix: str = "homeassistant") -> list[tuple[str, dict[str, Any]]]:
    """Return Home Assistant MQTT discovery configs: a text box for requests, a sensor for replies."""
    device = {
        "identifiers": [f"sasha_{root}"],
        "name": "Sasha",
        "manufacturer": "Sasha",
        "model": "Smart-home assistant",
    }
    availability = {
        "availability_topic": f"{root}/status",
        "payload_available": "online",
        "payload_not_available": "offline",
    }
    text = {
        "name": "Request",
        "unique_id": f"sasha_{root}_request",
        "command_topic": f"{root}/request",
        "max": 255,
        "icon": "mdi:robot-happy",
        "device": device,
        **availability,
    }
    sensor = {
        "name": "Reply",
        "unique_id": f"sasha_{root}_reply",
        "state_topic": f"{root}/response",
        # HA keeps at most 255 characters of state; the whole reply is in the attributes.
        "value_template": "{{ value_json.message[:250] }}",
        "json_attributes_topic": f"{root}/response",
        "icon": "mdi:message-reply-text",
        "device": device,
        **availability,
    }
    return [
        (f"{prefix}/text/sasha_{root}/request/config", text),
        (f"{prefix}/sensor/sasha_{root}/reply/config", sensor),
    ]


class Daemon:
    """Serve the MQTT API for one assistant."""

    def __init__(
        self, assistant: Assistant, link: MqttConnection, *, root: str = "sasha", max_concurrent: int = 8
    ) -> None:
        self._assistant = assistant
        self._link = link
        self._root = root
        self._slots = asyncio.Semaphore(max_concurrent)
        self._group: asyncio.TaskGroup | None = None
        self.handled = 0

    async def serve(self, stop: asyncio.Event) -> None:
        """Serve until `stop` is set, then finish the requests in flight."""
        self._link.on_connect(self._announce)
        async with asyncio.TaskGroup() as group:
            self._group = group
            await self._link.subscribe([f"{self._root}/request"], self._on_request)
            await self._link.subscribe([f"{self._root}/confirm"], self._on_confirm)
            if self._link.connected:
                await self._announce()
            await stop.wait()
            self._group = None  # stop taking new requests; leaving the group awaits the rest
        _LOGGER.info("stopped after %d requests", self.handled)

    async def _announce(self) -> None:
        for topic, config in discovery(self._root):
            self._link.publish_nowait(topic, json.dumps(config), retain=True)

    def _spawn(self, name: str, job: Any) -> None:
        group = self._group
        if group is None:
            job.close()
            _LOGGER.warning("stopping: dropped %s", name)
            return
        group.create_task(job, name=name)

    def _on_request(self, message: Incoming) -> None:
        parsed = api.parse_request(message.payload)
        self._spawn(f"request:{getattr(parsed, 'id', None)}", self._request(message, parsed))

    def _on_confirm(self, message: Incoming) -> None:
        parsed = api.parse_confirm(message.payload)
        self._spawn(f"confirm:{getattr(parsed, 'id', None)}", self._confirm(message, parsed))

    async def _request(self, message: Incoming, parsed: api.ApiRequest | api.Rejection) -> None:
        if isinstance(parsed, api.Rejection):
            await self._reject(message, parsed)
            return
        async with self._slots:
            try:
                reply = await self._assistant.handle(
                    parsed.text,
                    conversation=parsed.conversation or parsed.id or "mqtt",
                    request_id=parsed.id,
                    source="mqtt",
                )
            except Exception:
                _LOGGER.exception("request %r failed", parsed.id)
                reply = Reply("error", "Something went wrong inside Sasha; the log says what.", parsed.id)
        await self._send(message, parsed.reply_to, reply.to_json())

    async def _confirm(self, message: Incoming, parsed: api.ApiConfirm | api.Rejection) -> None:
        if isinstance(parsed, api.Rejection):
            await self._reject(message, parsed)
            return
        async with self._slots:
            reply = await self._assistant.confirm(parsed.token, parsed.approve, request_id=parsed.id, source="mqtt")
        await self._send(message, parsed.reply_to, reply.to_json())

    async def _reject(self, message: Incoming, rejection: api.Rejection) -> None:
        if message.response_topic is None and rejection.reply_to is None:
            _LOGGER.warning("dropped a message on %s: %s", message.topic, rejection.reason)
            return
        await self._send(message, rejection.reply_to, api.rejected(rejection))

    async def _send(self, message: Incoming, reply_to: str | None, body: dict[str, Any]) -> None:
        self.handled += 1
        properties = None
        topic = reply_to or f"{self._root}/response"
        if message.response_topic:
            topic = message.response_topic
            if message.correlation_data is not None:
                properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
                properties.CorrelationData = message.correlation_data
        self._link.publish_nowait(topic, json.dumps(body), properties=properties)


async def run_daemon(home: Inventory, settings: Settings, *, stop: asyncio.Event | None = None) -> int:
    """Serve the MQTT API and run the routines until SIGTERM/SIGINT (or `stop`), finishing requests in flight."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    if sys.platform != "win32":
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    client_id = f"sasha-daemon-{settings.api_topic}"
    async with running(home, settings, client_id=client_id, announce=True, run_routines=True) as rt:
        if rt.model is None:
            _LOGGER.warning(NO_MODEL)
        serving = f"serving {settings.api_topic}/request on {rt.link.settings.url} with {len(home)} devices"
        async with asyncio.TaskGroup() as group:
            background = [
                group.create_task(_once_connected(rt.link, serving), name="serving-notice"),
                group.create_task(rt.engine.run(), name="routines") if rt.engine else None,
                group.create_task(_watch(rt), name="routines-file"),
            ]
            await Daemon(rt.assistant, rt.link, root=settings.api_topic).serve(stop)
            for task in background:
                if task is not None:
                    task.cancel()
    return 0


async def _once_connected(link: MqttConnection, notice: str) -> None:
    """Log `notice` when the broker has accepted us: not before, so a refused login never looks like service."""
    await link.wait_connected()
    _LOGGER.warning("%s", notice)


async def _watch(rt: Runtime, interval: float = 2.0) -> None:
    """Reload routines.yaml when it is edited by hand or by `sasha routines`."""
    while True:
        await asyncio.sleep(interval)
        if await rt.routines.reload_if_changed():
            _LOGGER.warning("reloaded %s: %d routines", rt.routines.store.path, len(rt.routines.routines))
