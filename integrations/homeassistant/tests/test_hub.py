"""Home Assistant as Sasha's device hub: demo entities (not MQTT) driven by spoken requests, end to end.

Home Assistant's `demo` integration provides lights, locks, covers and climates that live only
inside Home Assistant. The integration offers them to a real `sasha run --hass only`, which has
no other inventory; what is said to Assist reaches them through Sasha and Home Assistant's
services, and the result comes back into the reply.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from unittest.mock import patch

import pytest
from homeassistant.components import mqtt
from homeassistant.components.homeassistant import exposed_entities
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import area_registry as ar
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import floor_registry as fr
from homeassistant.helpers import intent
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sasha.agent import SashaAgent

from .assist import converse, speech, wait_until
from .conftest import AddSasha
from .rig import Message, Rig, Tap, publish

ROOT = "hub"
BASE = f"{ROOT}-hass"
# Only the platforms these tests use: the full demo also starts cameras, media and weather.
DEMO = [Platform.LIGHT, Platform.LOCK, Platform.COVER, Platform.CLIMATE]


@pytest.fixture
def demo_only() -> Iterator[None]:
    """Limit Home Assistant's demo integration to lights, locks, covers and climates."""
    with patch("homeassistant.components.demo.COMPONENTS_WITH_CONFIG_ENTRY_DEMO_PLATFORM", DEMO):
        yield


@dataclass
class Home:
    """The Sasha entry and agent, and every status Home Assistant itself heard from Sasha."""

    entry: MockConfigEntry
    agent: SashaAgent
    said: list[str]

    async def started_over(self, after: int) -> None:
        """Wait until Home Assistant heard `offline` and then `online` after its `after`-th status.

        Home Assistant handles its messages in order, so once it heard that `online` its agent has
        heard the `offline` before it too: a request sent now cannot meet a stale `offline`.
        """

        def done() -> bool:
            said = self.said[after:]
            return "offline" in said and "online" in said[said.index("offline") :]

        await wait_until(done, f"Home Assistant to hear Sasha start over (heard {self.said})", timeout=60)


async def _started_over(tap: Tap, inventory: Message) -> None:
    """Wait until the tap saw Sasha say `offline` and then `online` after `inventory`.

    The daemon says `offline` only once it received the inventory, which the broker handed to the
    tap in the same go: in the tap's list, that `offline` comes after the inventory.
    """

    def done() -> bool:
        seen = tap.messages()
        said = [m.payload for m in seen[seen.index(inventory) :] if m.topic == f"{ROOT}/status"]
        return "offline" in said and "online" in said[said.index("offline") :]

    await wait_until(done, "Sasha to start over with this test's inventory", timeout=60)


@pytest.fixture
async def home(hass: HomeAssistant, rig: Rig, broker: int, add_sasha: AddSasha, demo_only: None) -> Home:
    """Set up the demo entities in a Kitchen on the Ground floor, the Sasha entry, and `sasha run --hass only`."""
    demo = MockConfigEntry(domain="demo")
    demo.add_to_hass(hass)
    assert await hass.config_entries.async_setup(demo.entry_id)
    await hass.async_block_till_done()
    ground = fr.async_get(hass).async_create("Ground floor")
    kitchen = ar.async_get(hass).async_create("Kitchen", aliases={"cookery"}, floor_id=ground.floor_id)
    entities = er.async_get(hass)
    entities.async_update_entity("light.kitchen_lights", area_id=kitchen.id, aliases={"worktop light"})
    entities.async_update_entity("cover.kitchen_window", area_id=kitchen.id)
    said: list[str] = []

    @callback
    def hear(message: mqtt.ReceiveMessage) -> None:
        said.append(str(message.payload))

    await mqtt.async_subscribe(hass, f"{ROOT}/status", hear)
    with Tap(broker, [f"{ROOT}/status", f"{BASE}/inventory"]) as tap:
        entry, agent = await add_sasha(ROOT)
        here = Home(entry, agent, said)
        # Started once the inventory is retained; later tests find it running already.
        await hass.async_add_executor_job(rig.daemon, ROOT, "--hass", "only")
        # The previous test's Home Assistant took its demo entities away as it stopped, and the
        # hub said so: Sasha starts over with this test's inventory, once more.
        # A new hub always publishes its inventory once; compare it with what was held before.
        offered = await tap.wait_for(f"{BASE}/inventory", lambda m: not m.retained)
        held = [m.payload for m in tap.messages(f"{BASE}/inventory") if m.retained]
        was_running = any(m.retained and m.payload == "online" for m in tap.messages(f"{ROOT}/status"))
        if was_running and offered.payload not in held:
            # Home Assistant's own subscriptions go out a moment after the hub's first publish,
            # so it may not hear this start-over: the tap, subscribed before, does.
            await _started_over(tap, offered)
    await wait_until(lambda: agent.link.status == "online", "Sasha's status")
    return here


def _inventory(tap: Tap) -> dict[str, object]:
    """Return the last inventory the tap saw."""
    inventory: dict[str, object] = json.loads(tap.messages(f"{BASE}/inventory")[-1].payload)
    return inventory


async def test_exposed_entities_are_offered_with_areas_floors_and_aliases(
    hass: HomeAssistant, home: Home, broker: int
) -> None:
    """Offer the exposed demo entities, retained, with the Kitchen's floor and aliases, and mirror their states."""
    with Tap(broker, [f"{BASE}/inventory", f"{BASE}/+/state"]) as tap:
        await tap.wait_for(f"{BASE}/inventory", lambda m: m.retained)
        inventory = _inventory(tap)
        entities = {e["entity_id"]: e for e in inventory["entities"]}  # type: ignore[attr-defined]
        assert {"light.kitchen_lights", "lock.front_door", "cover.garage_door", "climate.hvac"} <= set(entities)
        assert entities["light.kitchen_lights"]["aliases"] == ["worktop light"]
        assert entities["light.kitchen_lights"]["area"] == "kitchen"
        kitchen = {"id": "kitchen", "name": "Kitchen", "floor": "ground_floor", "aliases": ["cookery"]}
        assert inventory["areas"] == [kitchen]
        assert inventory["floors"] == [{"id": "ground_floor", "name": "Ground floor"}]
        lock = await tap.wait_for(f"{BASE}/lock.front_door/state", lambda m: m.retained)
        assert json.loads(lock.payload)["state"] == "locked"


async def test_spoken_commands_reach_demo_entities_by_name_alias_and_area(hass: HomeAssistant, home: Home) -> None:
    """Turn lights on and off by name, area alias, floor and entity alias, close a cover, set a climate, ask."""
    entry = home.entry
    assert hass.states.get("light.bed_light").state == "off"

    result = await converse(hass, entry.entry_id, "turn on the bed light")

    assert result.response.response_type == intent.IntentResponseType.ACTION_DONE, speech(result)
    assert speech(result) == "Done. Bed Light on."
    assert hass.states.get("light.bed_light").state == "on"

    off = await converse(hass, entry.entry_id, "turn off the lights in the cookery")
    assert speech(off) == "Done. Kitchen Lights off.", speech(off)
    assert hass.states.get("light.kitchen_lights").state == "off"
    ground = await converse(hass, entry.entry_id, "turn on all the lights on the ground floor")
    assert speech(ground) == "Done. Kitchen Lights on.", speech(ground)
    assert hass.states.get("light.kitchen_lights").state == "on"
    dimmed = await converse(hass, entry.entry_id, "set the worktop light to 40%")
    assert "Kitchen Lights" in speech(dimmed), speech(dimmed)
    await wait_until(lambda: hass.states.get("light.kitchen_lights").attributes.get("brightness") == 102, "40 %")

    closed = await converse(hass, entry.entry_id, "close the kitchen window")
    assert closed.response.response_type == intent.IntentResponseType.ACTION_DONE, speech(closed)
    assert hass.states.get("cover.kitchen_window").state == "closed"

    warmer = await converse(hass, entry.entry_id, "set the hvac to 24 degrees")
    assert warmer.response.response_type == intent.IntentResponseType.ACTION_DONE, speech(warmer)
    assert hass.states.get("climate.hvac").attributes["temperature"] == 24

    # Answers come from the states the integration mirrors.
    asked = await converse(hass, entry.entry_id, "is the front door locked")
    assert asked.response.response_type == intent.IntentResponseType.QUERY_ANSWER, speech(asked)
    assert speech(asked).startswith("Yes"), speech(asked)


async def test_the_lock_waits_for_a_yes(hass: HomeAssistant, home: Home) -> None:
    """Say "unlock the front door": nothing moves until "yes", then Home Assistant unlocks it."""
    entry = home.entry
    asked = await converse(hass, entry.entry_id, "unlock the front door")

    assert "go ahead" in speech(asked).lower(), speech(asked)
    assert hass.states.get("lock.front_door").state == "locked"

    done = await converse(hass, entry.entry_id, "yes", asked.conversation_id)

    assert done.response.response_type == intent.IntentResponseType.ACTION_DONE, speech(done)
    # The reply comes after Home Assistant's service finished: the demo lock takes 2 s.
    assert hass.states.get("lock.front_door").state == "unlocked"


async def test_a_service_error_is_reported(hass: HomeAssistant, home: Home) -> None:
    """Ask for a position the demo garage door cannot take: after the yes, Home Assistant's refusal is spoken."""
    entry = home.entry
    asked = await converse(hass, entry.entry_id, "set the garage door to 30%")
    assert "go ahead" in speech(asked).lower(), speech(asked)

    refused = await converse(hass, entry.entry_id, "yes", asked.conversation_id)

    assert refused.response.response_type == intent.IntentResponseType.ERROR
    assert "Entity cover.garage_door does not support this service" in speech(refused), speech(refused)
    assert hass.states.get("cover.garage_door").state == "closed"


async def test_the_satellites_area_goes_with_the_request(hass: HomeAssistant, home: Home, broker: int) -> None:
    """Send the area of the satellite that heard the sentence as the request's `area`."""
    entry = home.entry
    kitchen = ar.async_get(hass).async_get_area_by_name("Kitchen")
    devices = dr.async_get(hass)
    satellite = devices.async_get_or_create(config_entry_id=entry.entry_id, identifiers={("test", "satellite")})
    devices.async_update_device(satellite.id, area_id=kitchen.id)
    with Tap(broker, [f"{ROOT}/request"]) as tap:
        await converse(hass, entry.entry_id, "turn on the bed light", device_id=satellite.id)
        await converse(hass, entry.entry_id, "turn off the bed light")
        await tap.wait_for(f"{ROOT}/request", lambda m: "turn off" in m.payload)
    sent = [json.loads(m.payload) for m in tap.messages()]
    assert [body.get("area") for body in sent] == ["Kitchen", None]


async def test_an_entity_hidden_from_assist_is_no_longer_reachable(
    hass: HomeAssistant, home: Home, broker: int
) -> None:
    """Hide the bed light from Assist: Sasha reloads without it, and a call sent anyway is refused here."""
    entry = home.entry
    with Tap(broker, [f"{BASE}/#"]) as tap:
        before = len(home.said)
        exposed_entities.async_expose_entity(hass, "conversation", "light.bed_light", False)
        await tap.wait_for(f"{BASE}/light.bed_light/state", lambda m: m.payload == "")
        inventory = await tap.wait_for(f"{BASE}/inventory", lambda m: not m.retained)
        assert "light.bed_light" not in inventory.payload
        # Sasha starts over with the new inventory: offline, then online again.
        await home.started_over(before)

        result = await converse(hass, entry.entry_id, "turn on the bed light")

        assert result.response.response_type == intent.IntentResponseType.ERROR, speech(result)
        assert "bed light" in speech(result).lower(), speech(result)
        # Someone who publishes the call anyway gets a refusal, and the light stays off.
        await hass.async_add_executor_job(
            publish, broker, f"{BASE}/light.bed_light/set", '{"service": "turn_on", "data": {}, "call": "x1"}'
        )
        report = await tap.wait_for(f"{BASE}/light.bed_light/result", lambda m: '"x1"' in m.payload)
        refusal = {"call": "x1", "ok": False, "error": "light.bed_light is not exposed to Assist"}
        assert json.loads(report.payload) == refusal
        assert hass.states.get("light.bed_light").state == "off"

        # Exposed again, for the tests that follow: Sasha starts over once more.
        before = len(home.said)
        exposed_entities.async_expose_entity(hass, "conversation", "light.bed_light", True)
        await home.started_over(before)
