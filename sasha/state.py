"""The state mirror: the last value every device reported, and when it was seen.

Plans, answers and routines read the home from here. Whatever arrives on a state topic
is untrusted: payloads that cannot be decoded, or values of the wrong type, are logged
and ignored, and the mirror keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping

from sasha.adapters import adapter_for, availability
from sasha.errors import DecodeError
from sasha.home.capabilities import Value, same_value
from sasha.home.inventory import Device, Inventory
from sasha.home.readings import Reading
from sasha.home.validation import check_reading
from sasha.mqtt.connection import Incoming, MqttConnection
from sasha.mqtt.topics import cover

_LOGGER = logging.getLogger(__name__)

Listener = Callable[[str, dict[str, Value]], None]


class StateMirror:
    """Keep the current state of every device from its state topics."""

    def __init__(self, inventory: Inventory, *, clock: Callable[[], float] = time.time) -> None:
        self._inventory = inventory
        self._clock = clock
        self._readings: dict[str, dict[str, Reading]] = {d: {} for d in inventory.devices}
        self._routes: dict[str, list[Device]] = {}
        for device in inventory.devices.values():
            for topic in adapter_for(device).state_topics(device):
                self._routes.setdefault(topic, []).append(device)
        # Availability topics share the state subscriptions' wildcards and are routed here too.
        self._available_routes: dict[str, list[Device]] = {}
        for device in inventory.devices.values():
            for topic in availability.topics(device):
                self._available_routes.setdefault(topic, []).append(device)
        self._online: dict[str, bool] = {}
        # The devices whose last word was offline, kept as they report: every command asks.
        self._gone: set[str] = set()
        self._listeners: list[Listener] = []
        self._changed = asyncio.Event()
        self.ignored = 0

    async def attach(self, connection: MqttConnection, *, avoid: Iterable[str] = ()) -> None:
        """Subscribe to every device's state topics on `connection`, as few wildcards as cover them.

        `avoid` names the filters others subscribe on the same connection: no wildcard overlaps them.
        """
        # Ten thousand devices are a dozen filters, so connecting costs the same at any size;
        # `handle` ignores the topics a wildcard brings that no device reports on.
        await connection.subscribe(cover([*self._routes, *self._available_routes], avoid=avoid), self.handle)

    def add_listener(self, listener: Listener) -> None:
        """Call `listener(device_id, changed_values)` whenever a device reports a change."""
        self._listeners.append(listener)

    def handle(self, message: Incoming) -> None:
        """Take one state or availability message; never raises on bad input."""
        for device in self._available_routes.get(message.topic, ()):
            try:
                online = availability.decode(device, message.topic, message.payload)
            except DecodeError as err:
                self.ignored += 1
                _LOGGER.warning("ignoring availability of '%s' on %s: %s", device.id, message.topic, err)
                continue
            if online is not None:
                self._online[device.id] = online
                (self._gone.discard if online else self._gone.add)(device.id)
                self._changed.set()
                self._changed = asyncio.Event()
        for device in self._routes.get(message.topic, ()):
            try:
                decoded = adapter_for(device).decode_state(device, message.topic, message.payload)
            except DecodeError as err:
                self.ignored += 1
                _LOGGER.warning("ignoring state of '%s' on %s: %s", device.id, message.topic, err)
                continue
            self._store(device, decoded)

    def _store(self, device: Device, decoded: Mapping[str, Value]) -> None:
        now = self._clock()
        readings = self._readings[device.id]
        changed: dict[str, Value] = {}
        for name, raw in decoded.items():
            capability = device.capabilities.get(name)
            value = check_reading(capability, raw) if capability is not None else None
            if value is None:
                self.ignored += 1
                _LOGGER.warning("ignoring %s=%.40r reported by '%s': wrong type", name, raw, device.id)
                continue
            previous = readings.get(name)
            if previous is None or previous.value != value:
                changed[name] = value
            readings[name] = Reading(value, now)
        if changed:
            for listener in self._listeners:
                try:
                    listener(device.id, changed)
                except Exception:
                    _LOGGER.exception("state listener failed")
        self._changed.set()
        self._changed = asyncio.Event()

    def available(self, device_id: str) -> bool | None:
        """Tell whether a device last said it is online (True), offline (False), or never said (None)."""
        return self._online.get(device_id)

    def offline(self) -> frozenset[str]:
        """Return the devices whose last word was that they are offline."""
        return frozenset(self._gone)

    def get(self, device_id: str, capability: str) -> Reading | None:
        """Return the last reading of one capability, or None if never seen."""
        return self._readings.get(device_id, {}).get(capability)

    def now(self) -> float:
        """Return the mirror's clock, the one its readings are stamped with."""
        return self._clock()

    def readings(self, device_id: str) -> dict[str, Reading]:
        """Return the last reading of every capability a device reported."""
        return dict(self._readings.get(device_id, {}))

    def values(self, device_id: str) -> dict[str, Value]:
        """Return the last known values of a device."""
        return {n: r.value for n, r in self._readings.get(device_id, {}).items()}

    def snapshot(self) -> dict[str, dict[str, Value]]:
        """Return the last known values of every device."""
        return {d: self.values(d) for d in self._readings}

    def matches(self, device_id: str, expected: Mapping[str, Value]) -> bool:
        """Tell whether a device currently reports all of `expected`."""
        current = self.values(device_id)
        return all(n in current and same_value(n, v, current[n]) for n, v in expected.items())

    async def wait_for(self, device_id: str, expected: Mapping[str, Value], timeout: float) -> bool:
        """Wait until a device reports `expected`; False on timeout."""
        return await self.wait_until(lambda: self.matches(device_id, expected), timeout)

    async def wait_until(self, check: Callable[[], bool], timeout: float) -> bool:
        """Wait until `check()` holds after some report; False on timeout."""
        try:
            async with asyncio.timeout(timeout):
                while not check():
                    await self._changed.wait()
        except TimeoutError:
            return False
        return True

    @property
    def complete(self) -> bool:
        """Tell whether every device has reported at least once."""
        return all(self._readings.values())
