"""Latency of explicit commands on the local fast path, over the MQTT API, on three homes.

A client publishes a request on `sasha/request`; the daemon matches it locally (no model),
validates it and publishes the device command. Printed, for the example home, the 170-device
scenario house and a generated home of 1,000 devices: p50/p99 from the request being sent to
the device command arriving at a subscriber, and to the reply arriving, for N requests against
a private mosquitto. The sentences alternate between devices named outright ("turn on the
kitchen light") and rooms ("turn off the lights in the study"), so both forms are measured.

Each home is measured twice: as deployed (`sasha run` and `sasha sim` as their own processes,
with the audit log on disk) and in one process (the daemon, the simulator and the client on one
event loop, no audit log), which shows what Sasha's own code costs without process hops.

    .venv/bin/python bench/local_latency.py [--requests 500] [--sizes 1000,10000] [--only-generated]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import yaml
from harness import percentile, start_sasha

from sasha.adapters import adapter_for
from sasha.assistant import Assistant
from sasha.home import inventory
from sasha.home.inventory import Inventory
from sasha.mqtt.connection import MqttSettings
from sasha.mqtt.mosquitto import Mosquitto
from sasha.planning.planner import Planner
from sasha.sim import synthetic
from sasha.sim.testbed import simulated_home
from sasha.surfaces.daemon import Daemon, DaemonOptions

ROOT = Path(__file__).resolve().parent.parent
HOMES = {
    "example home (devices.yaml)": (
        ROOT / "devices.yaml",
        ["living_room_lamp", "kitchen_light", "bedroom_light", "office_light", "hallway_light", "garage_light"],
        ["kitchen", "office", "hallway", "bathroom"],
    ),
    "170-device house (large_house.yaml)": (
        ROOT / "tests" / "scenarios" / "homes" / "large_house.yaml",
        ["library_lamp", "kitchen_ceiling", "study_lamp", "attic_ceiling", "gym_lamp", "nursery_lamp"],
        ["study", "library", "sauna", "pantry"],
    ),
}


def _sentences(home: Inventory, devices: list[str], rooms: list[str], count: int) -> list[tuple[str, set[str]]]:
    """Return (sentence, a device it must reach) pairs: named devices and rooms, on and off in turn."""
    out: list[tuple[str, set[str]]] = []
    for i in range(count):
        word = "on" if (i // 2) % 2 == 0 else "off"
        if i % 2 == 0:
            device = home.devices[devices[(i // 2) % len(devices)]]
            out.append((f"turn {word} the {device.name.lower()}", {device.id}))
        else:
            room = home.rooms[rooms[(i // 2) % len(rooms)]]
            lights = {d.id for d in home.in_room(room.id) if d.type.value == "light"}
            out.append((f"turn {word} the lights in the {room.name.lower()}", lights))
    return out


@contextlib.asynccontextmanager
async def _in_process(home: Inventory, broker: Mosquitto) -> AsyncIterator[None]:
    """Serve the API on one event loop with the simulator (and the measuring client)."""
    async with simulated_home(home, MqttSettings.from_url(broker.url)) as bed:
        assistant = Assistant(home, bed.executor, Planner(home, None, state=bed.mirror.snapshot), mirror=bed.mirror)
        stop = asyncio.Event()
        serving = asyncio.create_task(Daemon(assistant, bed.link, options=DaemonOptions(open=True)).serve(stop))
        await asyncio.sleep(0.3)
        try:
            yield
        finally:
            stop.set()
            await serving


@contextlib.asynccontextmanager
async def _deployed(path: Path, broker: Mosquitto) -> AsyncIterator[None]:
    """Run `sasha sim` and `sasha run` (no model, audit log in a temporary state directory) as processes."""
    common = ("--devices", str(path), "--mqtt-url", broker.url)
    with tempfile.TemporaryDirectory(prefix="sasha-latency-") as state:
        processes = [
            await start_sasha(*command, stderr=asyncio.subprocess.DEVNULL)
            for command in (("sim", *common), ("run", "--open", *common, "--state-dir", state))
        ]
        try:
            yield
        finally:
            for process in processes:
                process.terminate()
                await process.wait()


async def _ready(client: aiomqtt.Client) -> None:
    """Wait until the daemon answers (it loads its sentence templates before it serves)."""
    async with asyncio.timeout(60):
        while True:
            await client.publish("sasha/request", "turn on the kitchen light", qos=1)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1):
                    async for message in client.messages:
                        if message.topic.value == "sasha/response":
                            return


async def _measure(
    home: Inventory, path: Path, devices: list[str], rooms: list[str], requests: int, *, deployed: bool
) -> tuple[list[float], list[float], list[float]]:
    routes = {t: d.id for d in home.devices.values() for t in adapter_for(d).command_topics(d)}
    async with Mosquitto() as broker, _deployed(path, broker) if deployed else _in_process(home, broker):
        to_command: list[float] = []
        to_reply: list[float] = []
        bare: list[float] = []
        # TCP_NODELAY as Sasha's own connection sets it: Nagle would hold the small request back.
        nodelay = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
        async with aiomqtt.Client(
            "127.0.0.1", broker.port, protocol=aiomqtt.ProtocolVersion.V5, socket_options=nodelay
        ) as client:
            sentences = _sentences(home, devices, rooms, requests)
            await client.subscribe("sasha/response", qos=1)
            await _ready(client)
            # Only the command topics of the devices spoken to: state traffic of the whole home
            # would make the measuring client, not Sasha, the slow part.
            wanted = {t for t, d in routes.items() if any(d in targets for _, targets in sentences)}
            for topic in sorted(wanted):
                await client.subscribe(topic, qos=0)
            # The floor under every figure: one message through the same broker and back.
            await client.subscribe("bench/echo", qos=0)
            for _ in range(min(requests, 200)):
                began = time.perf_counter()
                await client.publish("bench/echo", b"x", qos=0)
                async for message in client.messages:
                    if message.topic.value == "bench/echo":
                        bare.append((time.perf_counter() - began) * 1000)
                        break
            for text, targets in sentences:
                began = time.perf_counter()
                await client.publish("sasha/request", text, qos=1)
                got_command = got_reply = False
                async with asyncio.timeout(5):
                    async for message in client.messages:
                        topic = message.topic.value
                        if not got_command and routes.get(topic) in targets:
                            to_command.append((time.perf_counter() - began) * 1000)
                            got_command = True
                        elif topic == "sasha/response":
                            to_reply.append((time.perf_counter() - began) * 1000)
                            got_reply = True
                        if got_command and got_reply:
                            break
    return to_command, to_reply, bare


def _generated(count: int, folder: Path) -> tuple[Path, list[str], list[str]]:
    """Write a generated home of `count` devices; return its file, six of its lights and four rooms with lights."""
    data = synthetic.home_data(count)
    path = folder / f"generated-{count}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    home = inventory.from_file(path)
    lights = [d for d in home.devices.values() if d.type.value == "light"]
    rooms = list(dict.fromkeys(d.room for d in lights))
    return path, [d.id for d in lights[:: max(1, len(lights) // 6)][:6]], rooms[:4]


async def main(requests: int, sizes: list[int], only_generated: bool) -> None:
    """Run the benchmark on the homes, as deployed and in one process, and print the figures."""
    print(f"requests: {requests} explicit commands per home over the MQTT API, no model configured")
    folder = Path(tempfile.mkdtemp(prefix="sasha-latency-homes-"))
    homes = {} if only_generated else dict(HOMES)
    homes |= {f"generated home of {size:,} devices": _generated(size, folder) for size in sizes}
    for label, (path, devices, rooms) in homes.items():
        home = inventory.from_file(path)
        for deployed in (True, False):
            to_command, to_reply, bare = await _measure(home, path, devices, rooms, requests, deployed=deployed)
            how = "sasha run and sasha sim as processes" if deployed else "all in one process"
            print(f"{label}: {len(home)} devices, {how}")
            rows = (
                ("request → device command", to_command),
                ("request → reply", to_reply),
                ("bare broker round trip", bare),
            )
            for name, values in rows:
                print(
                    f"  {name:26} p50 {percentile(values, 0.5):6.2f} ms  p99 {percentile(values, 0.99):6.2f} ms"
                    f"  mean {statistics.mean(values):6.2f} ms"
                )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--sizes", default="1000", help="generated homes, e.g. 1000,10000")
    parser.add_argument("--only-generated", action="store_true", help="leave out the example and scenario homes")
    arguments = parser.parse_args()
    sizes = [int(size) for size in arguments.sizes.split(",")]
    asyncio.run(main(arguments.requests, sizes, arguments.only_generated))
