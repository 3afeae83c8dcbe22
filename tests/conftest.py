"""Shared fixtures: a private mosquitto per test, the example home, and a wired-up rig."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sasha import inventory
from sasha.broker import Mosquitto
from sasha.executor import Executor
from sasha.inventory import Inventory
from sasha.mqtt import MqttConnection, MqttSettings
from sasha.simulator import Simulator
from sasha.state import StateMirror

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "devices.yaml"


@pytest.fixture(scope="session")
def home() -> Inventory:
    """Return the example home."""
    return inventory.from_file(EXAMPLE)


@pytest.fixture
async def broker() -> AsyncIterator[Mosquitto]:
    """Start a fresh mosquitto on a free loopback port for one test.

    One broker per test keeps retained states of one test out of the next.
    """
    async with Mosquitto() as running:
        yield running


def fast(
    settings: MqttSettings, *, client_id: str | None = None, status_topic: str | None = None, max_outbox: int = 1000
) -> MqttConnection:
    """Build a connection that reconnects quickly, as tests need."""
    return MqttConnection(
        settings,
        client_id=client_id,
        status_topic=status_topic,
        max_outbox=max_outbox,
        reconnect_min=0.05,
        reconnect_max=0.5,
    )


@dataclass
class Rig:
    """A simulated home on a broker, with the assistant's side wired to it."""

    broker: Mosquitto
    home: Inventory
    simulator: Simulator
    mirror: StateMirror
    executor: Executor
    link: MqttConnection
    sim_link: MqttConnection


@pytest.fixture
async def rig(broker: Mosquitto, home: Inventory) -> AsyncIterator[Rig]:
    """Run the simulator and the assistant's connection, mirror and executor."""
    settings = MqttSettings.from_url(broker.url)
    async with fast(settings, client_id="test-sim") as sim_link, fast(settings, client_id="test-sasha") as link:
        simulator = Simulator(home, sim_link, seed=7)
        await simulator.attach()
        mirror = StateMirror(home)
        await mirror.attach(link)
        executor = Executor(home, link, mirror, ack_wait=2.0)
        await sim_link.wait_connected(5)
        await link.wait_connected(5)
        # The mirror has the home once every device's retained state came in.
        for device_id in home.devices:
            assert await mirror.wait_for(device_id, simulator.values(device_id), timeout=5), device_id
        yield Rig(broker, home, simulator, mirror, executor, link, sim_link)
