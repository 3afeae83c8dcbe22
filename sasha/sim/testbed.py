"""A simulated home wired to the assistant's side: simulator, state mirror and executor.

The demo, the benchmarks, the tests and the scenario runner all need the same
thing: the devices of an inventory answering on a broker, and Sasha's connection, mirror
and executor attached to it, with the mirror already holding every device's state.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from sasha.errors import SashaError
from sasha.executor import Executor
from sasha.home.inventory import Inventory
from sasha.mqtt.connection import MqttConnection, MqttSettings
from sasha.sim.simulator import Simulator, outbox_size
from sasha.state import StateMirror


@dataclass(frozen=True, slots=True)
class Testbed:
    """The running pieces, for callers to drive and inspect."""

    home: Inventory
    simulator: Simulator
    mirror: StateMirror
    executor: Executor
    link: MqttConnection
    sim_link: MqttConnection


@contextlib.asynccontextmanager
async def simulated_home(
    home: Inventory,
    settings: MqttSettings,
    *,
    seed: int | None = 1,
    initial: Mapping[str, Mapping[str, Any]] | None = None,
    ack_wait: float = 5.0,
    reconnect_min: float = 0.5,
    reconnect_max: float = 30.0,
    sim_reconnect_min: float | None = None,
    ready_timeout: float = 10.0,
) -> AsyncIterator[Testbed]:
    """Run the simulated home and the assistant's side until the block ends."""
    sim_min = reconnect_min if sim_reconnect_min is None else sim_reconnect_min
    sim_link = MqttConnection(
        settings, reconnect_min=sim_min, reconnect_max=max(sim_min, reconnect_max), max_outbox=outbox_size(home)
    )
    link = MqttConnection(settings, reconnect_min=reconnect_min, reconnect_max=reconnect_max)
    async with sim_link, link:
        simulator = Simulator(home, sim_link, seed=seed, initial=initial)
        await simulator.attach()
        mirror = StateMirror(home)
        # Tests serve the API (root `sasha`) on this connection too.
        await mirror.attach(link, avoid=["sasha/#", "homeassistant/status"])
        executor = Executor(home, link, mirror, ack_wait=ack_wait)
        await sim_link.wait_connected(ready_timeout)
        await link.wait_connected(ready_timeout)
        for device_id in home.devices:
            if not await mirror.wait_for(device_id, simulator.values(device_id), timeout=ready_timeout):
                raise SashaError(f"the state of '{device_id}' did not arrive from the simulator")
        yield Testbed(home, simulator, mirror, executor, link, sim_link)
