"""Listen to the broker for announcements: the only part of discovery that does I/O."""

from __future__ import annotations

import asyncio

from sasha.discovery import homeassistant, tasmota
from sasha.mqtt.connection import Incoming, MqttConnection, MqttSettings

FILTERS = (
    f"{homeassistant.PREFIX}/+/+/config",
    f"{homeassistant.PREFIX}/+/+/+/config",
    "+/bridge/devices",
    f"{tasmota.ROOT}/+/config",
    f"{tasmota.ROOT}/+/sensors",
)


async def listen(settings: MqttSettings, wait: float, *, connect_timeout: float = 10.0) -> list[tuple[str, bytes]]:
    """Collect the announcements the broker holds or receives within `wait` seconds (the last per topic)."""
    seen: dict[str, bytes] = {}

    def keep(message: Incoming) -> None:
        seen[message.topic] = message.payload

    async with MqttConnection(settings, client_id=None, reconnect_max=2.0) as connection:
        await connection.subscribe(FILTERS, keep)
        await connection.wait_connected(connect_timeout)
        # Retained announcements arrive right after the subscription; live ones within the wait.
        await asyncio.sleep(wait)
    return list(seen.items())
