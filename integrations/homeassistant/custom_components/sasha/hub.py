"""Home Assistant as Sasha's device hub: the entities exposed to Assist, their states, and calls to them.

Sasha reaches MQTT devices itself; everything else Home Assistant knows (ZHA, Hue, Matter, Wi-Fi
and cloud integrations, groups, scenes, scripts) it reaches through here. The hub offers, on
`<root>-hass/…` (`const.py`):

- `inventory`, retained: the exposed entities with their names, aliases, areas and what they
  can do, the areas with their floors and aliases; published again when the registries or the
  exposure settings change;
- `<entity id>/state`, retained: each exposed entity's state and the attributes Sasha reads;
  emptied when the entity is no longer exposed;
- `<entity id>/set` in: one service call from Sasha, checked again here (the entity exposed
  now, the service and its data keys in `SERVICES`) and carried out with Home Assistant's own
  service, with the outcome on `<entity id>/result`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Callable, Coroutine
from typing import Any

import voluptuous as vol
from homeassistant.components import mqtt
from homeassistant.components.homeassistant import exposed_entities
from homeassistant.const import ATTR_ENTITY_ID, ATTR_SUPPORTED_FEATURES, EVENT_STATE_CHANGED
from homeassistant.core import Context, Event, HomeAssistant, State, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import area_registry as ar
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.json import json_dumps

from .const import (
    ASSISTANT,
    CALL_TIMEOUT,
    HUB_INVENTORY,
    HUB_RESULT,
    HUB_SET,
    HUB_STATE,
    INVENTORY_ATTRIBUTES,
    INVENTORY_FORMAT,
    MAX_COMMAND,
    SERVICES,
    STATE_ATTRIBUTES,
    hub_base,
)

try:  # floors came with Home Assistant 2024.3; without them, areas have none
    from homeassistant.helpers import floor_registry as fr
except ImportError:  # pragma: no cover - older Home Assistant
    fr = None  # type: ignore[assignment]

_LOGGER = logging.getLogger(__name__)
_ENTITY_ID = re.compile(r"^[a-z_]+\.[a-z0-9_]+$")
# Registry and entity events come in bursts (an area and its entities, an integration reloading
# its entities: gone and back within a second); one refresh once they have been quiet this long.
_SETTLE = 1.0
# Calls and state publishes in flight; beyond, calls are dropped: a flood must not exhaust Home Assistant.
_MAX_IN_FLIGHT = 200


class SashaHub:
    """Offer the exposed entities to Sasha and carry out its calls to them."""

    def __init__(self, hass: HomeAssistant, root: str) -> None:
        self._hass = hass
        self.base = hub_base(root)
        self.exposed: set[str] = set()
        self._inventory: str | None = None
        self._states: dict[str, str] = {}
        self._cleanups: list[Callable[[], None]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._refresh_due: asyncio.Task[None] | None = None
        self._pokes = 0

    async def async_start(self) -> None:
        """Subscribe to Sasha's calls, follow the registries and states, and publish what is exposed."""
        hass = self._hass
        self._cleanups.append(await mqtt.async_subscribe(hass, f"{self.base}/+/{HUB_SET}", self._on_command, qos=1))
        events = [er.EVENT_ENTITY_REGISTRY_UPDATED, dr.EVENT_DEVICE_REGISTRY_UPDATED, ar.EVENT_AREA_REGISTRY_UPDATED]
        if fr is not None:
            events.append(fr.EVENT_FLOOR_REGISTRY_UPDATED)
        for event in events:
            self._cleanups.append(hass.bus.async_listen(event, self._on_registry))
        self._cleanups.append(exposed_entities.async_listen_entity_updates(hass, ASSISTANT, self._schedule_refresh))
        self._cleanups.append(hass.bus.async_listen(EVENT_STATE_CHANGED, self._on_state))
        await self.async_refresh()

    async def async_stop(self) -> None:
        """Stop following Home Assistant; what is retained stays for Sasha."""
        for cleanup in self._cleanups:
            cleanup()
        self._cleanups.clear()
        tasks = [*self._tasks, *([self._refresh_due] if self._refresh_due else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def async_refresh(self) -> None:
        """Publish the inventory and every exposed entity's state where they changed; empty the ones that left."""
        hass = self._hass
        states = [s for s in hass.states.async_all(list(SERVICES)) if _exposed(hass, s.entity_id)]
        exposed = {s.entity_id for s in states}
        inventory = json_dumps(_inventory(hass, states))
        if inventory != self._inventory:
            await mqtt.async_publish(hass, f"{self.base}/{HUB_INVENTORY}", inventory, qos=1, retain=True)
            self._inventory = inventory
        for entity_id in sorted(self.exposed - exposed):
            # Retained states of entities Sasha may no longer reach are taken back.
            await mqtt.async_publish(hass, f"{self.base}/{entity_id}/{HUB_STATE}", "", qos=1, retain=True)
            self._states.pop(entity_id, None)
        self.exposed = exposed
        for state in states:
            await self._publish_state(state)

    async def _publish_state(self, state: State) -> None:
        payload = json_dumps(
            {
                "state": state.state,
                "attributes": {k: state.attributes[k] for k in STATE_ATTRIBUTES if k in state.attributes},
            }
        )
        if self._states.get(state.entity_id) == payload:
            return
        self._states[state.entity_id] = payload
        topic = f"{self.base}/{state.entity_id}/{HUB_STATE}"
        await mqtt.async_publish(self._hass, topic, payload, qos=1, retain=True)

    @callback
    def _on_registry(self, _event: Event) -> None:
        self._schedule_refresh()

    @callback
    def _schedule_refresh(self) -> None:
        if self._hass.is_stopping:
            # Entities leave while Home Assistant stops; Sasha keeps the inventory it had until it is back.
            return
        self._pokes += 1
        if self._refresh_due is None or self._refresh_due.done():
            self._refresh_due = self._hass.async_create_background_task(self._refresh_soon(), "sasha hub refresh")

    async def _refresh_soon(self) -> None:
        # Wait until nothing happened for _SETTLE, so Sasha sees the end of a burst, not its middle.
        seen = -1
        while seen != self._pokes:
            seen = self._pokes
            await asyncio.sleep(_SETTLE)
        if self._hass.is_stopping:
            return
        try:
            await self.async_refresh()
        except HomeAssistantError as err:
            _LOGGER.warning("Sasha's view of Home Assistant was not refreshed: %s", err)

    @callback
    def _on_state(self, event: Event) -> None:
        entity_id: str = event.data["entity_id"]
        new: State | None = event.data.get("new_state")
        if entity_id in self.exposed and new is not None:
            self._spawn(self._publish_state(new), f"sasha hub state {entity_id}")
        elif (new is None or event.data.get("old_state") is None) and entity_id.split(".", 1)[0] in SERVICES:
            # An entity came or went: it may be exposed, or no longer be.
            self._schedule_refresh()

    @callback
    def _on_command(self, message: mqtt.ReceiveMessage) -> None:
        entity_id = message.topic[len(self.base) + 1 : -len(HUB_SET) - 1]
        payload = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
        if len(self._tasks) >= _MAX_IN_FLIGHT:
            _LOGGER.warning("dropped a call to %.80s: %d calls are still in flight", entity_id, len(self._tasks))
            return
        self._spawn(self._call(entity_id, payload), f"sasha hub call {entity_id[:80]}")

    async def _call(self, entity_id: str, payload: bytes) -> None:
        """Check one call from Sasha, carry it out, and report how it went; never raises."""
        call_id, problem, service, data = _read_command(entity_id, payload, self._hass)
        if problem is None:
            try:
                async with asyncio.timeout(CALL_TIMEOUT):
                    await self._hass.services.async_call(
                        entity_id.split(".", 1)[0],
                        service,
                        {**data, ATTR_ENTITY_ID: entity_id},
                        blocking=True,
                        context=Context(),
                    )
            except TimeoutError:
                problem = f"{service} did not finish within {CALL_TIMEOUT:g} s"
            except (HomeAssistantError, vol.Invalid) as err:
                problem = str(err) or type(err).__name__
        if problem is not None:
            _LOGGER.warning("refused Sasha's call to %.80s: %s", entity_id, problem)
        if not _ENTITY_ID.match(entity_id):
            return  # no topic of ours to answer on
        report: dict[str, Any] = {"call": call_id, "ok": problem is None}
        if problem is not None:
            report["error"] = problem[:300]
        with contextlib.suppress(HomeAssistantError):
            await mqtt.async_publish(self._hass, f"{self.base}/{entity_id}/{HUB_RESULT}", json.dumps(report), qos=1)

    def _spawn(self, job: Coroutine[Any, Any, None], name: str) -> None:
        task = self._hass.async_create_background_task(job, name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _exposed(hass: HomeAssistant, entity_id: str) -> bool:
    return exposed_entities.async_should_expose(hass, ASSISTANT, entity_id)


def _read_command(entity_id: str, payload: bytes, hass: HomeAssistant) -> tuple[str, str | None, str, dict[str, Any]]:
    """Return the call id, why the call is refused (or None), the service and its data."""
    if len(payload) > MAX_COMMAND:
        return "", f"a call of {len(payload)} bytes is over {MAX_COMMAND}", "", {}
    try:
        body = json.loads(payload)
    except ValueError:
        return "", "a call that is not JSON", "", {}
    if not isinstance(body, dict):
        return "", "a call that is not a JSON object", "", {}
    call_id = body.get("call") if isinstance(body.get("call"), str) else ""
    service, data = body.get("service"), body.get("data", {})
    if not _ENTITY_ID.match(entity_id) or not _exposed(hass, entity_id) or hass.states.get(entity_id) is None:
        return call_id, f"{entity_id[:80]} is not exposed to Assist", "", {}
    allowed = SERVICES.get(entity_id.split(".", 1)[0], {})
    if not isinstance(service, str) or service not in allowed:
        return call_id, f"{str(service)[:40]} is not a service Sasha may call on {entity_id}", "", {}
    if not isinstance(data, dict) or set(data) - allowed[service]:
        return call_id, f"{service} takes only {', '.join(sorted(allowed[service])) or 'no data'}", "", {}
    return call_id, None, service, data


def _inventory(hass: HomeAssistant, states: list[State]) -> dict[str, Any]:
    """Return what Sasha needs to know about the exposed entities, their areas and floors."""
    entities = er.async_get(hass)
    devices = dr.async_get(hass)
    areas = ar.async_get(hass)
    used: set[str] = set()
    described = []
    for state in sorted(states, key=lambda s: s.entity_id):
        entry = entities.async_get(state.entity_id)
        area = entry.area_id if entry is not None else None
        if area is None and entry is not None and entry.device_id is not None:
            device = devices.async_get(entry.device_id)
            area = device.area_id if device is not None else None
        if area is not None:
            used.add(area)
        described.append(
            {
                "entity_id": state.entity_id,
                "name": state.name,
                "aliases": sorted(entry.aliases) if entry is not None else [],
                "area": area,
                "device_class": state.attributes.get("device_class"),
                "features": state.attributes.get(ATTR_SUPPORTED_FEATURES, 0),
                "attributes": {k: state.attributes[k] for k in INVENTORY_ATTRIBUTES if k in state.attributes},
            }
        )
    rooms = [a for a in areas.async_list_areas() if a.id in used]
    floors = []
    if fr is not None:
        wanted = {a.floor_id for a in rooms if a.floor_id}
        floors = [
            {"id": f.floor_id, "name": f.name} for f in fr.async_get(hass).async_list_floors() if f.floor_id in wanted
        ]
    return {
        "format": INVENTORY_FORMAT,
        "temperature_unit": hass.config.units.temperature_unit,
        "floors": floors,
        "areas": [
            {"id": a.id, "name": a.name, "floor": getattr(a, "floor_id", None), "aliases": sorted(a.aliases)}
            for a in rooms
        ],
        "entities": described,
    }
