"""Measure executor → broker → simulated device → state topic → state mirror.

Prints commands per second and p50/p99 latency for 1,000 commands against a local
mosquitto (a private one on a free port unless --mqtt-url is given), and the same round trip
made with bare aiomqtt clients (a command, an echoing device, its state) on the same broker.

    .venv/bin/python bench/mqtt_roundtrip.py [--commands 1000] [--mqtt-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections import defaultdict
from contextlib import AsyncExitStack
from pathlib import Path

from bare import bare_echo, bare_roundtrip
from harness import percentile

from sasha.executor import Executor, Result
from sasha.home import inventory
from sasha.home.actions import Action
from sasha.home.inventory import Device
from sasha.mqtt.connection import MqttConnection, MqttSettings
from sasha.mqtt.mosquitto import Mosquitto
from sasha.sim.testbed import simulated_home
from sasha.state import StateMirror

ROOT = Path(__file__).resolve().parent.parent


def _level(device: Device, i: int, current: object) -> int:
    cap = device.capabilities["brightness"]
    low, high = int(cap.min or 0), int(cap.max or 100)
    level = low + (i * 7) % (high - low + 1)
    if current == level:
        level = low if level != low else high
    return level


async def one_at_a_time(
    executor: Executor, mirror: StateMirror, dimmable: list[Device], commands: int
) -> tuple[float, list[float], dict[str, list[float]]]:
    """Send a command, wait for the device's state, repeat: the latency a user feels."""
    latencies: list[float] = []
    by_protocol: dict[str, list[float]] = defaultdict(list)
    start = time.perf_counter()
    for i in range(commands):
        device = dimmable[i % len(dimmable)]
        level = _level(device, i, mirror.values(device.id).get("brightness"))
        began = time.perf_counter()
        [outcome] = await executor.execute([Action(device.id, {"brightness": level})], remember=False)
        assert outcome.result is Result.PUBLISHED, outcome.error
        assert await mirror.wait_for(device.id, {"brightness": level}, timeout=5), device.id
        elapsed = (time.perf_counter() - began) * 1000
        latencies.append(elapsed)
        by_protocol[device.protocol.value].append(elapsed)
    return time.perf_counter() - start, latencies, by_protocol


async def _batched(executor: Executor, mirror: StateMirror, dimmable: list[Device], commands: int) -> float:
    """Send one command per light at once, wait for all states, repeat: how fast the pipeline drains."""
    start = time.perf_counter()
    sent = 0
    while sent < commands:
        batch = [
            Action(d.id, {"brightness": _level(d, sent + k, mirror.values(d.id).get("brightness"))})
            for k, d in enumerate(dimmable[: commands - sent])
        ]
        outcomes = await executor.execute(batch, remember=False)
        assert all(o.result is Result.PUBLISHED for o in outcomes)
        for action in batch:
            assert await mirror.wait_for(action.device, action.set, timeout=5)
        sent += len(batch)
    return time.perf_counter() - start


def _generic_lights(count: int) -> inventory.Inventory:
    return inventory.from_dict(
        {
            "home": {"name": "Echo", "base_topic": "bare"},
            "rooms": [{"id": "room", "name": "Room"}],
            "devices": [
                {
                    "id": f"light_{i}",
                    "name": f"Light {i}",
                    "room": "room",
                    "type": "light",
                    "protocol": "generic",
                    "capabilities": {"brightness": {"min": 1, "max": 100}},
                }
                for i in range(count)
            ],
        }
    )


async def executor_against_echo(url: str, commands: int) -> float:
    """Sasha's side alone: executor and mirror against the bare echoing device; return commands/s."""
    home = _generic_lights(9)
    lights = list(home.devices.values())
    async with bare_echo(url), MqttConnection(MqttSettings.from_url(url)) as link:
        mirror = StateMirror(home)
        await mirror.attach(link)
        executor = Executor(home, link, mirror)
        await link.wait_connected(10)
        await one_at_a_time(executor, mirror, lights, len(lights))  # every light has reported once
        elapsed, _, _ = await one_at_a_time(executor, mirror, lights, commands)
    return commands / elapsed


async def main(commands: int, url: str | None) -> None:
    """Run the benchmark and print the figures."""
    home = inventory.from_file(ROOT / "devices.yaml")
    dimmable = [d for d in home.devices.values() if "brightness" in d.capabilities]
    async with AsyncExitStack() as stack:
        if url is None:
            url = (await stack.enter_async_context(Mosquitto())).url
        bed = await stack.enter_async_context(simulated_home(home, MqttSettings.from_url(url)))
        executor, mirror = bed.executor, bed.mirror
        sequential, ms, by_protocol = await one_at_a_time(executor, mirror, dimmable, commands)
        batched = await _batched(executor, mirror, dimmable, commands)
        # Side by side on the same broker: the machine's load moves both alike.
        bare = await bare_roundtrip(url, commands)
        sasha_side = await executor_against_echo(url, commands)

    print(f"commands: {commands} across {len(dimmable)} dimmable lights, 4 protocols")
    print(f"one at a time: {commands / sequential:,.0f} commands/s")
    print(f"  executor→state latency: p50 {percentile(ms, 0.5):.2f} ms, p99 {percentile(ms, 0.99):.2f} ms,")
    print(f"  mean {statistics.mean(ms):.2f} ms, max {max(ms):.2f} ms")
    for protocol, values in sorted(by_protocol.items()):
        print(f"  {protocol:14} p50 {percentile(values, 0.5):.2f} ms  p99 {percentile(values, 0.99):.2f} ms")
    print(f"batched ({len(dimmable)} lights at once): {commands / batched:,.0f} commands/s")
    print(f"bare aiomqtt, one at a time, same broker: {bare:,.0f} commands/s")
    print(f"executor one at a time / bare aiomqtt: {commands / sequential / bare:.0%}")
    # Where the rest goes: the same executor against the bare device, one JSON state per command
    # (the simulator shares this process, and Tasmota devices answer with two messages).
    print(f"executor against the bare echo device / bare aiomqtt: {sasha_side / bare:.0%}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=1000)
    parser.add_argument("--mqtt-url", default=None)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.commands, arguments.mqtt_url))
