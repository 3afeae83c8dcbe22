"""The table rig of the fast path's sentence tests: a simulated home, a spy on the broker, a scripted model.

Each row is checked on the broker (which devices got a command, decoded as the device would
read it) and on the scripted server's call log (zero calls over the whole table).
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sasha.adapters import adapter_for
from sasha.assistant import Assistant
from sasha.home.capabilities import Value, same_value
from sasha.home.inventory import Inventory
from sasha.mqtt.connection import Incoming, MqttConnection, MqttSettings
from sasha.mqtt.mosquitto import Mosquitto
from sasha.planning.llm.client import ModelClient
from sasha.planning.llm.scripted import ScriptedModel
from sasha.planning.planner import Planner
from sasha.routines.timers import Timers
from sasha.sim import testbed
from sasha.sim.testbed import simulated_home
from tests.conftest import model_settings

MARK = "sasha-test/marker"


@dataclass(frozen=True)
class Row:
    """One sentence: the state first (`given`), then what must reach the devices, or the reply."""

    say: str
    sent: dict[str, dict[str, Value]] = field(default_factory=dict)
    status: str = "done"
    says: str = ""
    given: dict[str, dict[str, Any]] = field(default_factory=dict)
    area: str | None = None  # the room the request comes from


def ask(say: str, says: str, area: str | None = None, **given: dict[str, Any]) -> Row:
    """Build a row that must ask a question and act on nothing."""
    return Row(say, {}, "clarify", says, given, area)


def answer(say: str, says: str, area: str | None = None, **given: dict[str, Any]) -> Row:
    """Build a row that must be answered from the state mirror."""
    return Row(say, {}, "answer", says, given, area)


@dataclass
class _Broker:
    """What reached the devices, as each device decodes it."""

    home: Inventory
    routes: dict[str, list[str]] = field(default_factory=dict)
    sent: dict[str, dict[str, Value]] = field(default_factory=dict)
    marked: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        for device in self.home.devices.values():
            for topic in adapter_for(device).command_topics(device):
                self.routes.setdefault(topic, []).append(device.id)

    def __call__(self, message: Incoming) -> None:
        if message.topic == MARK:
            self.marked.set()
            return
        for device_id in self.routes.get(message.topic, ()):
            device = self.home.devices[device_id]
            decoded = adapter_for(device).decode_command(device, message.topic, message.payload)
            self.sent.setdefault(device_id, {}).update(decoded)


@dataclass
class Rig:
    """A simulated home with an assistant that has a scripted model and one that has none."""

    bed: testbed.Testbed
    broker: _Broker
    assistant: Assistant
    model: ScriptedModel
    # With a model, an ambiguous command goes to it (it may know from the conversation); the
    # questions the fast path asks are checked on an assistant without one.
    alone: Assistant


async def rig(home: Inventory, settings: MqttSettings) -> AsyncIterator[Rig]:
    """Yield a rig on a broker: the simulated home, the spy, and both assistants."""
    async with (
        ScriptedModel() as model,
        simulated_home(home, settings, seed=3, ack_wait=2.0, reconnect_min=0.05, reconnect_max=0.5) as bed,
        MqttConnection(settings, reconnect_min=0.05, reconnect_max=0.5) as spy_link,
    ):
        spy = _Broker(home)
        await spy_link.subscribe([*spy.routes, MARK], spy)
        await spy_link.wait_connected(5)
        client = ModelClient(model_settings(model))
        planner = Planner(home, client, state=bed.mirror.snapshot)
        with tempfile.TemporaryDirectory(prefix="sasha-table-") as state:
            # Timers are kept (never fired here): a timed row sends nothing now.
            timers = Timers(Path(state) / "timers.json", home)
            try:
                bare = Planner(home, None, state=bed.mirror.snapshot)
                alone = Assistant(home, bed.executor, bare, mirror=bed.mirror, timers=timers)
                full = Assistant(home, bed.executor, planner, mirror=bed.mirror, timers=timers)
                yield Rig(bed, spy, full, model, alone)
            finally:
                await client.close()


async def play(rig: Rig, row: Row) -> None:
    """Set the row's state, say its sentence, and check the reply and exactly what reached the devices."""
    bed = rig.bed
    for device_id, values in row.given.items():
        assert not bed.simulator.set_values(device_id, values), row
        assert await bed.mirror.wait_for(device_id, values, timeout=5), row
    rig.broker.sent.clear()
    reply = await (rig.alone if row.status == "clarify" else rig.assistant).handle(row.say, area=row.area)
    # The marker goes out on the executor's own connection after the commands: once it is
    # back, every command of this row has reached the broker's subscribers too.
    rig.broker.marked.clear()
    await bed.link.publish(MARK, b"", wait=5)
    await asyncio.wait_for(rig.broker.marked.wait(), timeout=5)
    assert reply.status == row.status, (row.say, reply.message)
    assert row.says in reply.message, (row.say, reply.message)
    assert sorted(rig.broker.sent) == sorted(row.sent), (row.say, rig.broker.sent)
    for device_id, values in row.sent.items():
        got = rig.broker.sent[device_id]
        assert all(n in got and same_value(n, v, got[n]) for n, v in values.items()), (row.say, device_id, got)


async def table(broker: Mosquitto, home: Inventory, rows: list[Row]) -> None:
    """Play every row on one rig and check that the model was never called."""
    async for wired in rig(home, MqttSettings.from_url(broker.url)):
        for row in rows:
            await play(wired, row)
        assert wired.model.calls == 0
        assert wired.model.requests == []
