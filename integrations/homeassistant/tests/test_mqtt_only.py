"""The way without the integration: Sasha's discovered entities, and the script in docs/homeassistant.md."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from homeassistant.components import persistent_notification
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry

from .assist import wait_until
from .rig import REPO, Tap

DOCS = REPO / "docs" / "homeassistant.md"


def _documented_script() -> dict[str, Any]:
    """Return the configuration of the YAML block in the docs that defines `script: ask_sasha:`."""
    blocks = re.findall(r"```yaml\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.DOTALL)
    (block,) = (block for block in blocks if block.startswith("script:\n  ask_sasha:"))
    config: dict[str, Any] = yaml.safe_load(block)
    return config


def _entity_id(hass: HomeAssistant, domain: str, unique_id: str) -> str | None:
    return er.async_get(hass).async_get_entity_id(domain, "mqtt", unique_id)


@pytest.mark.parametrize("mqtt_discovery", [True])
async def test_discovered_entities_and_the_documented_script(
    hass: HomeAssistant, sasha: str, broker: int, mqtt_entry: MockConfigEntry
) -> None:
    """Typing into Sasha's text entity updates its reply sensor; the documented script shows its own reply."""
    # Two discovery messages, each handled on its own: wait for both entities, not just one.
    await wait_until(
        lambda: (
            None
            not in (_entity_id(hass, "sensor", "sasha_sasha_reply"), _entity_id(hass, "text", "sasha_sasha_request"))
        ),
        "Sasha's request text and reply sensor",
    )
    request = _entity_id(hass, "text", "sasha_sasha_request")
    reply = _entity_id(hass, "sensor", "sasha_sasha_reply")
    assert request is not None
    assert reply is not None
    # The ids the docs name: the device is named after the home.
    assert request == "text.sasha_demo_home_request"
    assert reply == "sensor.sasha_demo_home_reply"
    await wait_until(
        lambda: (state := hass.states.get(request)) is not None and state.state != STATE_UNAVAILABLE,
        f"{request} to be available",
    )

    await hass.services.async_call(
        "text", "set_value", {"entity_id": request, "value": "turn on the kitchen light"}, blocking=True
    )
    await wait_until(
        lambda: (
            (state := hass.states.get(reply)) is not None
            and state.state not in (STATE_UNKNOWN, STATE_UNAVAILABLE)
            and "Kitchen light on" in state.state
        ),
        f"{reply} to show Sasha's reply",
    )

    notifications: list[persistent_notification.Notification] = []

    @callback
    def collect(kind: persistent_notification.UpdateType, changed: dict[str, Any]) -> None:
        if kind == persistent_notification.UpdateType.ADDED:
            notifications.extend(changed.values())

    assert await async_setup_component(hass, "persistent_notification", {})
    stop_collecting = persistent_notification.async_register_callback(hass, collect)
    assert await async_setup_component(hass, "script", _documented_script())
    with Tap(broker, ["sasha-demo/kitchen_light/json", "sasha/response"]) as tap:
        await hass.services.async_call("script", "ask_sasha", {"text": "turn off the kitchen light"}, blocking=True)

        await tap.wait_for("sasha-demo/kitchen_light/json", lambda m: '"OFF"' in m.payload)
        # The reply went to the script's own topic, not to the shared sasha/response.
        assert tap.messages("sasha/response") == []
    stop_collecting()
    assert [(n["title"], n["message"]) for n in notifications] == [("Sasha", "Done. Kitchen light off.")]
