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


async def listen(
    settings: MqttSettings, wait: float, *, connect_timeout: float = 10.0, extra: tuple[str, ...] = ()
) -> list[tuple[str, bytes]]:
    """Collect the announcements the broker holds or receives within `wait` seconds (the last per topic)."""
    seen: dict[str, bytes] = {}

    def keep(message: Incoming) -> None:
        seen[message.topic] = message.payload

    async with MqttConnection(settings, client_id=None, reconnect_max=2.0) as connection:
        await connection.subscribe([*FILTERS, *extra], keep)
        await connection.wait_connected(connect_timeout)
        # Retained announcements arrive right after the subscription; live ones within the wait.
        await asyncio.sleep(wait)
    return list(seen.items())


async def retained(settings: MqttSettings, topic: str, wait: float, *, connect_timeout: float = 10.0) -> bytes | None:
    """Return the message held on `topic` (Home Assistant's inventory), or None if none comes within `wait` s."""
    arrived: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def keep(message: Incoming) -> None:
        if not arrived.done() and message.payload:
            arrived.set_result(message.payload)

    async with MqttConnection(settings, client_id=None, reconnect_max=2.0) as connection:
        await connection.subscribe([topic], keep)
        await connection.wait_connected(connect_timeout)
        try:
            async with asyncio.timeout(wait):
                return await arrived
        except TimeoutError:
            return None
