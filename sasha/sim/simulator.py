"""The simulated home: every device of the inventory on a real MQTT broker.

Each device listens on its own protocol's command topics, applies what a real device
would accept, and publishes its state (retained) in its protocol's format. Sensors move
by `sasha.sim.physics`; anything can be set by hand on `sasha-sim/set/<device>` with a JSON
object of capability values, or by `set_values` from a scenario.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Mapping
from typing import Any

from sasha import jsonlimit
from sasha.adapters import Message, adapter_for, availability
from sasha.adapters.tasmota import result_messages
from sasha.errors import DecodeError, OutboxFull
from sasha.home.capabilities import Value, same_value
from sasha.home.inventory import Capability, Device, Inventory
from sasha.home.protocols import Protocol
from sasha.home.validation import Refused, check_reading, check_value
from sasha.mqtt.connection import Incoming, MqttConnection
from sasha.sim import announce, physics

_LOGGER = logging.getLogger(__name__)

CONTROL_ROOT = "sasha-sim"


def _within_a_mired(capability: Capability, value: Any) -> Any:
    """Pull a colour temperature that mired rounding pushed just past the range back into it.

    2200 K travels as 455 mireds and comes back as 2198 K; the device meant its own minimum.
    """
    if capability.name != "color_temp" or not isinstance(value, int | float) or isinstance(value, bool):
        return value
    for bound in (capability.min, capability.max):
        if bound is not None and same_value("color_temp", bound, value):
            return min(max(value, capability.min or value), capability.max or value)
    return value


def outbox_size(home: Inventory) -> int:
    """Return an outbox that holds what a simulator publishes at once on connect: states and announcements."""
    # Up to a state message per capability and a discovery config per entity, for every device.
    return max(1000, 16 * len(home))


class Simulator:
    """Play every device of a home; attach it to a connection, then let it run."""

    def __init__(
        self,
        inventory: Inventory,
        connection: MqttConnection,
        *,
        seed: int | None = None,
        initial: Mapping[str, Mapping[str, Any]] | None = None,
        silent: frozenset[str] = frozenset(),
        late: Mapping[str, float] | None = None,
        offline: frozenset[str] = frozenset(),
    ) -> None:
        """`silent` devices take commands and never report; `late` ones report a command that many seconds late."""
        self._inventory = inventory
        self._connection = connection
        self._rng = random.Random(seed)  # noqa: S311  (simulation, not cryptography)
        self.state = physics.initial_state(inventory)
        self._routes: dict[str, list[Device]] = {}
        for device in inventory.devices.values():
            for topic in adapter_for(device).command_topics(device):
                self._routes.setdefault(topic, []).append(device)
        self.commands = 0
        unknown = sorted((set(silent) | set(late or {}) | set(offline)) - set(inventory.devices))
        if unknown:
            raise ValueError(f"no such device: {', '.join(unknown)}")
        self.silent = frozenset(silent)
        self.late = dict(late or {})
        # Devices that dropped off the network: they say so on their availability topic and hear nothing.
        self.offline = set(offline)
        self.tracks: list[tuple[str, str]] = []
        for device_id, values in (initial or {}).items():
            problems = self._merge(device_id, values)
            if problems:
                raise ValueError(f"initial state of '{device_id}': {'; '.join(problems)}")

    async def attach(self) -> None:
        """Subscribe to command and control topics; publish every state on each connect."""
        self._connection.on_connect(self._announce)
        self._connection.on_connect(self._publish_all)
        await self._connection.subscribe(self._routes, self._on_command)
        await self._connection.subscribe([f"{CONTROL_ROOT}/set/+"], self._on_control)
        await self._connection.subscribe([f"{CONTROL_ROOT}/availability/+"], self._on_availability)
        await self._connection.subscribe([announce.HA_STATUS], self._on_ha_status)
        if self._connection.connected:
            await self._announce()
            await self._publish_all()

    async def run_physics(self, interval: float = 5.0) -> None:
        """Advance the physics every `interval` seconds, forever."""
        while True:
            await asyncio.sleep(interval)
            self.advance(interval)

    def advance(self, seconds: float) -> None:
        """Move simulated time forward and publish what changed."""
        changes = physics.step(self._inventory, self.state, seconds, self._rng)
        physics.apply(self.state, changes)
        for device_id in changes:
            self._publish(self._inventory.devices[device_id])

    def set_values(self, device_id: str, values: Mapping[str, Any]) -> list[str]:
        """Set values (sensors included) by hand and publish; returns the problems, if any."""
        problems = self._merge(device_id, values)
        device = self._inventory.get(device_id)
        if device is not None:
            self._publish(device)
        return problems

    def _merge(self, device_id: str, values: Mapping[str, Any]) -> list[str]:
        device = self._inventory.get(device_id)
        if device is None:
            return [f"no device '{device_id}'"]
        problems = []
        for name, raw in values.items():
            capability = device.capabilities.get(name)
            if capability is None:
                problems.append(f"'{device_id}' has no capability '{name}'")
                continue
            if capability.info.write_only:
                problems.append(f"'{device_id}'.{name} is a one-off command, not a state")
                continue
            value = check_reading(capability, raw)
            if capability.writable:
                try:
                    value = check_value(capability, raw)
                except Refused as err:
                    problems.append(str(err))
                    continue
            if value is None:
                problems.append(f"'{device_id}'.{name} cannot be {raw!r}")
                continue
            self.state[device_id][name] = value
        return problems

    def set_online(self, device_id: str, online: bool) -> None:
        """Take a device off the network (it ignores commands) or bring it back, and say so."""
        device = self._inventory.devices[device_id]
        (self.offline.discard if online else self.offline.add)(device_id)
        self._send_availability(device)
        if online:
            self._publish(device)

    def _send_availability(self, device: Device) -> None:
        for message in availability.encode(device, device.id not in self.offline):
            try:
                self._connection.publish_nowait(message.topic, message.payload, retain=message.retain)
            except OutboxFull:
                _LOGGER.warning("availability of '%s' not published: outbox full", device.id)

    def _on_availability(self, message: Incoming) -> None:
        device_id = message.topic.rsplit("/", 1)[-1]
        word = message.payload.strip().lower()
        if device_id not in self._inventory.devices or word not in (b"online", b"offline"):
            _LOGGER.warning("ignoring %s: expected a device id and online or offline", message.topic)
            return
        self.set_online(device_id, word == b"online")

    def _on_command(self, message: Incoming) -> None:
        for device in self._routes.get(message.topic, ()):
            if device.id in self.offline:
                continue  # a bulb that dropped off the network never hears the command
            try:
                requested = adapter_for(device).decode_command(device, message.topic, message.payload)
            except DecodeError as err:
                _LOGGER.warning("'%s' ignores a command on %s: %s", device.id, message.topic, err)
                continue
            # A real device refuses what it cannot do and applies the rest.
            accepted = {}
            for name, value in requested.items():
                capability = device.capabilities.get(name)
                if capability is None or not capability.writable:
                    _LOGGER.warning("'%s' ignores %s: not a writable capability", device.id, name)
                    continue
                try:
                    accepted[name] = check_value(capability, _within_a_mired(capability, value))
                except Refused as err:
                    _LOGGER.warning("'%s' ignores %s=%r: %s", device.id, name, value, err)
            if accepted:
                self.commands += 1
                track = accepted.pop("track", None)
                if track is not None:
                    # A player that skips a track plays the new one; the skip itself leaves no state.
                    self.tracks.append((device.id, str(track)))
                    if "playback" in device.capabilities:
                        accepted.setdefault("playback", "playing")
                self.state[device.id].update(accepted)
                delay = self.late.get(device.id)
                if delay is None:
                    self._report(device)
                else:
                    # A slow device (a sleepy Zigbee end device, a busy bridge): its report comes later.
                    asyncio.get_running_loop().call_later(delay, self._report, device)

    def _report(self, device: Device) -> None:
        """Say a device's state after a command, as the device would."""
        if device.protocol is Protocol.TASMOTA:
            # The firmware answers a command at once; tele/STATE follows only every TelePeriod.
            self._send(device, result_messages(device, self.state[device.id]))
        self._publish(device)

    def _on_control(self, message: Incoming) -> None:
        device_id = message.topic.rsplit("/", 1)[-1]
        try:
            values = jsonlimit.loads(message.payload)
        except (json.JSONDecodeError, UnicodeDecodeError):
            _LOGGER.warning("ignoring %s: payload is not JSON", message.topic)
            return
        if not isinstance(values, dict):
            _LOGGER.warning("ignoring %s: payload must be a JSON object", message.topic)
            return
        for problem in self.set_values(device_id, values):
            _LOGGER.warning("%s: %s", message.topic, problem)

    def _publish(self, device: Device) -> None:
        self._send(device, adapter_for(device).encode_state(device, self.state[device.id]))

    def _send(self, device: Device, messages: list[Message]) -> None:
        if device.id in self.silent or device.id in self.offline:
            return  # a device that takes commands and never says so (a dead report path), or is gone
        for message in messages:
            try:
                self._connection.publish_nowait(message.topic, message.payload, retain=message.retain)
            except OutboxFull:
                _LOGGER.warning("state of '%s' not published: outbox full", device.id)

    async def _announce(self) -> None:
        self.announce()

    def announce(self) -> None:
        """Publish the discovery messages real devices of these protocols would (retained)."""
        messages, unannounced = announce.announcements(self._inventory, self.state)
        for reason in unannounced:
            _LOGGER.debug("not announced: %s", reason)
        for message in messages:
            try:
                self._connection.publish_nowait(message.topic, message.payload, retain=message.retain)
            except OutboxFull:
                _LOGGER.warning("discovery message %s not published: outbox full", message.topic)

    def _on_ha_status(self, message: Incoming) -> None:
        # Home Assistant forgets discovered entities when it restarts and asks again with "online".
        if message.payload.strip() == b"online":
            self.announce()

    async def _publish_all(self) -> None:
        for device in self._inventory.devices.values():
            self._send_availability(device)
            if device.id not in self.offline:
                self._publish(device)

    def values(self, device_id: str) -> dict[str, Value]:
        """Return the simulated device's current values."""
        return dict(self.state[device_id])
