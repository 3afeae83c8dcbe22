"""Sasha as a conversation agent of Home Assistant, over Home Assistant's own MQTT connection."""

from __future__ import annotations

from homeassistant.components import conversation, mqtt
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryNotReady

from .agent import SashaAgent
from .const import CONF_TIMEOUT, CONF_TOPIC, DOMAIN
from .hub import SashaHub
from .link import SashaLink


async def async_setup_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    """Subscribe to Sasha's API and register the agent."""
    if not await mqtt.async_wait_for_mqtt_client(hass):
        raise ConfigEntryNotReady("Home Assistant's MQTT integration is not set up")
    # The entry id keeps the reply topics of two Home Assistants (or two entries) apart.
    link = SashaLink(hass, entry.data[CONF_TOPIC], float(entry.data[CONF_TIMEOUT]), instance=entry.entry_id)
    await link.async_start()
    entry.async_on_unload(link.async_stop)
    # Home Assistant's own entities, for Sasha to drive as devices (`sasha run --hass`).
    hub = SashaHub(hass, entry.data[CONF_TOPIC])
    await hub.async_start()
    entry.async_on_unload(hub.async_stop)
    agent = SashaAgent(link, hub)
    hass.data.setdefault(DOMAIN, {})[entry.entry_id] = agent
    conversation.async_set_agent(hass, entry, agent)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    """Unregister the agent; the link unsubscribes through `async_on_unload`."""
    conversation.async_unset_agent(hass, entry)
    hass.data.get(DOMAIN, {}).pop(entry.entry_id, None)
    return True
