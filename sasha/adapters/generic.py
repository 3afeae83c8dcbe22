"""The generic protocol: `<topic>/set` takes JSON of capability values; `<topic>` reports them."""

from __future__ import annotations

from collections.abc import Mapping

from sasha import adapters
from sasha.adapters import _convert
from sasha.home.capabilities import Value
from sasha.home.inventory import Device


class GenericAdapter:
    """Sasha's own JSON format, for DIY devices and the simulator's default."""

    def command_topics(self, device: Device) -> list[str]:
        """Return `<topic>/set`."""
        return [f"{device.topic}/set"]

    def state_topics(self, device: Device) -> list[str]:
        """Return `<topic>`."""
        return [device.topic]

    def encode_command(self, device: Device, values: Mapping[str, Value]) -> list[adapters.Message]:
        """Send all values in one JSON object."""
        return [adapters.Message(f"{device.topic}/set", _convert.dump(dict(values)))]

    def decode_state(self, device: Device, topic: str, payload: bytes) -> dict[str, Value]:
        """Read the device's capabilities out of its JSON state, ignoring other keys."""
        data = _convert.json_object(payload)
        return {k: v for k, v in data.items() if k in device.capabilities}

    def decode_command(self, device: Device, topic: str, payload: bytes) -> dict[str, Value]:
        """Read a JSON command."""
        return dict(_convert.json_object(payload))

    def encode_state(self, device: Device, values: Mapping[str, Value]) -> list[adapters.Message]:
        """Report every value, retained."""
        return [adapters.Message(device.topic, _convert.dump(dict(values)), retain=True)]
