"""Protocol adapters: capability values ⇄ MQTT topics and payloads, as pure functions.

Each protocol has two sides. The controller side (`encode_command`, `decode_state`) is
what Sasha uses; the device side (`decode_command`, `encode_state`) is what a real
device does, and what the simulator uses to behave like one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol as TypingProtocol

from sasha.home.capabilities import Value
from sasha.home.inventory import Device
from sasha.home.protocols import Protocol


@dataclass(frozen=True, slots=True)
class Message:
    """One MQTT message to publish."""

    topic: str
    payload: bytes
    retain: bool = False


class Adapter(TypingProtocol):
    """What every protocol adapter provides."""

    def command_topics(self, device: Device) -> list[str]:
        """Return the topics the device listens on for commands."""
        ...

    def state_topics(self, device: Device) -> list[str]:
        """Return the topics the device reports its state on."""
        ...

    def encode_command(self, device: Device, values: Mapping[str, Value]) -> list[Message]:
        """Turn validated capability values into command messages."""
        ...

    def decode_state(self, device: Device, topic: str, payload: bytes) -> dict[str, Value]:
        """Read capability values from a state message (raises DecodeError)."""
        ...

    def decode_command(self, device: Device, topic: str, payload: bytes) -> dict[str, Value]:
        """Read the capability values a command message asks for (raises DecodeError)."""
        ...

    def encode_state(self, device: Device, values: Mapping[str, Value]) -> list[Message]:
        """Turn a device's full state into the retained messages it publishes."""
        ...


def adapter_for(device: Device) -> Adapter:
    """Return the adapter of a device's protocol."""
    return _ADAPTERS[device.protocol]


# Imported last: the adapter modules use Message from this package.
from sasha.adapters.generic import GenericAdapter  # noqa: E402
from sasha.adapters.hass import HassAdapter  # noqa: E402
from sasha.adapters.homeassistant import HomeAssistantAdapter  # noqa: E402
from sasha.adapters.tasmota import TasmotaAdapter  # noqa: E402
from sasha.adapters.zigbee2mqtt import Zigbee2MqttAdapter  # noqa: E402

_ADAPTERS: dict[Protocol, Adapter] = {
    Protocol.GENERIC: GenericAdapter(),
    Protocol.ZIGBEE2MQTT: Zigbee2MqttAdapter(),
    Protocol.HOMEASSISTANT: HomeAssistantAdapter(),
    Protocol.TASMOTA: TasmotaAdapter(),
    Protocol.HASS: HassAdapter(),
}

__all__ = ["Adapter", "Message", "adapter_for"]
