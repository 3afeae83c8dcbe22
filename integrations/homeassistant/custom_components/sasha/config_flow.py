"""The config flow: which topic root Sasha serves, and how long to wait for its replies."""

from __future__ import annotations

from typing import Any

import voluptuous as vol
from homeassistant.components import mqtt
from homeassistant.config_entries import ConfigFlow
from homeassistant.data_entry_flow import FlowResult
from homeassistant.helpers import selector

from .const import CONF_TIMEOUT, CONF_TOPIC, DEFAULT_TIMEOUT, DEFAULT_TOPIC, DOMAIN, MAX_TIMEOUT, MIN_TIMEOUT


def _schema(topic: str, timeout: float) -> vol.Schema:
    """Return the form, filled with `topic` and `timeout`."""
    return vol.Schema(
        {
            vol.Required(CONF_TOPIC, default=topic): selector.TextSelector(),
            vol.Required(CONF_TIMEOUT, default=timeout): selector.NumberSelector(
                selector.NumberSelectorConfig(
                    min=MIN_TIMEOUT,
                    max=MAX_TIMEOUT,
                    step=1,
                    unit_of_measurement="s",
                    mode=selector.NumberSelectorMode.BOX,
                )
            ),
        }
    )


def _clean_topic(value: str) -> str | None:
    """Return the topic root without surrounding slashes, or None when it can't be one."""
    topic = value.strip().strip("/")
    try:
        mqtt.valid_publish_topic(f"{topic}/request")
    except vol.Invalid:
        return None
    return topic or None


class SashaConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add one Sasha daemon, named by its API topic root."""

    VERSION = 1

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> FlowResult:
        """Ask for the topic root and the reply timeout."""
        if not mqtt.mqtt_config_entry_enabled(self.hass):
            return self.async_abort(reason="mqtt_required")
        errors: dict[str, str] = {}
        topic, timeout = DEFAULT_TOPIC, float(DEFAULT_TIMEOUT)
        if user_input is not None:
            topic, timeout = user_input[CONF_TOPIC], float(user_input[CONF_TIMEOUT])
            root = _clean_topic(topic)
            if root is None:
                errors[CONF_TOPIC] = "invalid_topic"
            else:
                # One entry per topic root: a second one would be the same agent twice.
                await self.async_set_unique_id(root)
                self._abort_if_unique_id_configured()
                title = "Sasha" if root == DEFAULT_TOPIC else f"Sasha ({root})"
                return self.async_create_entry(title=title, data={CONF_TOPIC: root, CONF_TIMEOUT: timeout})
        return self.async_show_form(step_id="user", data_schema=_schema(topic, timeout), errors=errors)
