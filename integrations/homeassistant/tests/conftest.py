"""Fixtures: a real mosquitto and Sasha for the session, Home Assistant's MQTT and Sasha entries per test."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator

import pytest
from homeassistant.components import mqtt
from homeassistant.const import CONF_PORT
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sasha.agent import SashaAgent
from custom_components.sasha.const import CONF_TIMEOUT, CONF_TOPIC, DOMAIN

from .assist import wait_until
from .rig import HOST, Rig

AddSasha = Callable[..., Awaitable[tuple[MockConfigEntry, SashaAgent]]]


@pytest.fixture(scope="session")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    """Share one broker, simulated home and daemon across the tests: Sasha takes seconds to start."""
    shared = Rig(tmp_path_factory.mktemp("rig"))
    try:
        yield shared
    finally:
        shared.close()


@pytest.fixture
def broker(rig: Rig, socket_enabled: None) -> int:
    """Return the port of the session's mosquitto, started on first use.

    Home Assistant's test plugin turns pytest-socket on before every test, which refuses even
    loopback sockets, and a session-scoped fixture runs too early to be let through; so the
    processes start lazily here, in a test that asked for `socket_enabled`. The plugin's
    allow-list (127.0.0.1 only) stays in force.
    """
    return rig.broker()


@pytest.fixture
def sasha(rig: Rig, broker: int) -> str:
    """Run the simulated example home and a Sasha daemon on the topic root `sasha`; return the root."""
    rig.serve("sasha")
    return "sasha"


@pytest.fixture
def mqtt_discovery() -> bool:
    """Return whether Home Assistant's MQTT discovery is on; parametrize to turn it on."""
    return False


@pytest.fixture
async def mqtt_entry(hass: HomeAssistant, broker: int, mqtt_discovery: bool, mock_hass_config: None) -> MockConfigEntry:
    """Set up Home Assistant's MQTT integration on the real broker, and wait until it is connected.

    `mock_hass_config` stands in for configuration.yaml (empty), which the MQTT integration
    reads at setup; the MQTT client itself is the real one.
    """
    # Discovery is off unless a test is about the entities Sasha announces. No birth message:
    # Home Assistant sends it late, from a task that would outlive a short test.
    data = {
        mqtt.CONF_BROKER: HOST,
        CONF_PORT: broker,
        mqtt.CONF_DISCOVERY: mqtt_discovery,
        mqtt.CONF_BIRTH_MESSAGE: {},
        mqtt.CONF_WILL_MESSAGE: {},
    }
    entry = MockConfigEntry(domain=mqtt.DOMAIN, data=data)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await wait_until(lambda: mqtt.is_connected(hass), "Home Assistant's MQTT client to connect")
    return entry


@pytest.fixture
def add_sasha(hass: HomeAssistant, mqtt_entry: MockConfigEntry, enable_custom_integrations: None) -> AddSasha:
    """Return a function that adds a Sasha entry and waits until its replies can reach it."""

    async def add(topic: str = "sasha", timeout: float = 30.0) -> tuple[MockConfigEntry, SashaAgent]:
        entry = MockConfigEntry(
            domain=DOMAIN, title="Sasha", unique_id=topic, data={CONF_TOPIC: topic, CONF_TIMEOUT: timeout}
        )
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        agent: SashaAgent = hass.data[DOMAIN][entry.entry_id]
        await wait_until(lambda: agent.link.ready, "the reply subscription to go live")
        return entry, agent

    return add
