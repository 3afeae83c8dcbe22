"""With a username, Home Assistant asks Sasha as that user: on `<root>/request/<user>`, replies under its prefix."""

from __future__ import annotations

import json

import pytest
from homeassistant.components import mqtt
from homeassistant.const import CONF_PORT, CONF_USERNAME
from homeassistant.core import HomeAssistant
from homeassistant.helpers import intent
from pytest_homeassistant_custom_component.common import MockConfigEntry

from .assist import converse, speech, wait_until
from .conftest import AddSasha
from .rig import HOST, Tap

USER = "homeassistant"


@pytest.fixture
async def mqtt_entry(hass: HomeAssistant, broker: int, mock_hass_config: None) -> MockConfigEntry:
    """Set up Home Assistant's MQTT integration logged in as USER (the rig's broker takes any username)."""
    data = {
        mqtt.CONF_BROKER: HOST,
        CONF_PORT: broker,
        CONF_USERNAME: USER,
        mqtt.CONF_DISCOVERY: False,
        mqtt.CONF_BIRTH_MESSAGE: {},
        mqtt.CONF_WILL_MESSAGE: {},
    }
    entry = MockConfigEntry(domain=mqtt.DOMAIN, data=data)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await wait_until(lambda: mqtt.is_connected(hass), "Home Assistant's MQTT client to connect")
    return entry


async def test_requests_go_out_on_the_mqtt_users_own_topic(
    hass: HomeAssistant, sasha: str, broker: int, add_sasha: AddSasha
) -> None:
    """Send the request to <root>/request/<user> with a reply route under <root>/reply/<user>/; hear the reply."""
    entry, _agent = await add_sasha(sasha)
    with Tap(broker, [f"{sasha}/request", f"{sasha}/request/{USER}"]) as tap:
        result = await converse(hass, entry.entry_id, "turn on the living room lamp")
        assert result.response.response_type == intent.IntentResponseType.ACTION_DONE, speech(result)
        await wait_until(lambda: bool(tap.messages(f"{sasha}/request/{USER}")), "the request on the tap")
        (request,) = (json.loads(m.payload) for m in tap.messages(f"{sasha}/request/{USER}"))
        assert tap.messages(f"{sasha}/request") == []
    assert request["reply_to"].startswith(f"{sasha}/reply/{USER}/{entry.entry_id}/")
