"""Adding Sasha through the UI, and the agent's life with its config entry."""

from __future__ import annotations

import pytest
import voluptuous as vol
from homeassistant.components import conversation
from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sasha.const import CONF_TIMEOUT, CONF_TOPIC, DOMAIN


async def test_flow_creates_an_entry_and_the_agent_comes_and_goes(
    hass: HomeAssistant, mqtt_entry: MockConfigEntry, enable_custom_integrations: None
) -> None:
    """The form takes a topic root and a timeout; the entry registers the agent, and unloading removes it."""
    form = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert form["type"] == FlowResultType.FORM
    assert form["step_id"] == "user"

    created = await hass.config_entries.flow.async_configure(
        form["flow_id"], {CONF_TOPIC: " /home/sasha2/ ", CONF_TIMEOUT: 45}
    )
    await hass.async_block_till_done()

    assert created["type"] == FlowResultType.CREATE_ENTRY
    assert created["title"] == "Sasha (home/sasha2)"
    assert created["data"] == {CONF_TOPIC: "home/sasha2", CONF_TIMEOUT: 45}
    entry = created["result"]
    assert entry.state == ConfigEntryState.LOADED
    info = conversation.async_get_agent_info(hass, entry.entry_id)
    assert info is not None
    assert info.name == "Sasha (home/sasha2)"

    assert await hass.config_entries.async_unload(entry.entry_id)
    assert entry.state == ConfigEntryState.NOT_LOADED
    assert conversation.async_get_agent_info(hass, entry.entry_id) is None


async def test_flow_refuses_bad_input_and_duplicates(
    hass: HomeAssistant, mqtt_entry: MockConfigEntry, enable_custom_integrations: None
) -> None:
    """Wildcards are no topic root, the timeout stays within 1-300 s, and one root is added once."""
    form = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    wildcard = await hass.config_entries.flow.async_configure(
        form["flow_id"], {CONF_TOPIC: "sasha/#", CONF_TIMEOUT: 30}
    )
    assert wildcard["type"] == FlowResultType.FORM
    assert wildcard["errors"] == {CONF_TOPIC: "invalid_topic"}
    for timeout in (0, 301):
        with pytest.raises(vol.Invalid):
            await hass.config_entries.flow.async_configure(
                form["flow_id"], {CONF_TOPIC: "sasha", CONF_TIMEOUT: timeout}
            )
    created = await hass.config_entries.flow.async_configure(form["flow_id"], {CONF_TOPIC: "sasha", CONF_TIMEOUT: 30})
    assert created["type"] == FlowResultType.CREATE_ENTRY
    assert created["title"] == "Sasha"
    await hass.async_block_till_done()

    again = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    duplicate = await hass.config_entries.flow.async_configure(
        again["flow_id"], {CONF_TOPIC: "sasha/", CONF_TIMEOUT: 10}
    )
    assert duplicate["type"] == FlowResultType.ABORT
    assert duplicate["reason"] == "already_configured"


async def test_flow_needs_mqtt(hass: HomeAssistant, enable_custom_integrations: None) -> None:
    """Without Home Assistant's MQTT integration there is nothing to reach Sasha through."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] == FlowResultType.ABORT
    assert result["reason"] == "mqtt_required"
