"""Latency of explicit commands on the local fast path, over the MQTT API.

A client publishes a request on `sasha/request`; the daemon matches it with hassil (no model),
validates it and publishes the device command. Printed: p50/p99 from the request being sent to
the device command arriving at a subscriber, and to the reply arriving, for N requests against
a private mosquitto.

    .venv/bin/python bench/local_latency.py [--requests 500]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path

import aiomqtt

from sasha.assistant import Assistant
from sasha.home import inventory
from sasha.mqtt.connection import MqttSettings
from sasha.mqtt.mosquitto import Mosquitto
from sasha.planning.planner import Planner
from sasha.sim.testbed import simulated_home
from sasha.surfaces.daemon import Daemon

ROOT = Path(__file__).resolve().parent.parent
LIGHTS = ["living_room_lamp", "kitchen_light", "bedroom_light", "office_light", "hallway_light", "garage_light"]


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def main(requests: int) -> None:
    """Run the benchmark and print the figures."""
    home = inventory.from_file(ROOT / "devices.yaml")
    async with Mosquitto() as broker, simulated_home(home, MqttSettings.from_url(broker.url)) as bed:
        assistant = Assistant(home, bed.executor, Planner(home, None, state=bed.mirror.snapshot))
        stop = asyncio.Event()
        serving = asyncio.create_task(Daemon(assistant, bed.link).serve(stop))
        await asyncio.sleep(0.3)
        command_topics = {f"sasha-demo/{d}/set" for d in LIGHTS} | {f"cmnd/{d}/POWER" for d in LIGHTS}
        command_topics |= {f"zigbee2mqtt/{d}/set" for d in LIGHTS} | {f"sasha-demo/{d}/json/set" for d in LIGHTS}
        to_command: list[float] = []
        to_reply: list[float] = []
        async with aiomqtt.Client("127.0.0.1", broker.port, protocol=aiomqtt.ProtocolVersion.V5) as client:
            await client.subscribe("sasha/response", qos=1)
            await client.subscribe("#", qos=0)
            for i in range(requests):
                device = home.devices[LIGHTS[i % len(LIGHTS)]]
                word = "on" if (i // len(LIGHTS)) % 2 == 0 else "off"
                began = time.perf_counter()
                await client.publish("sasha/request", f"turn {word} the {device.name.lower()}", qos=1)
                got_command = got_reply = False
                async with asyncio.timeout(5):
                    async for message in client.messages:
                        topic = message.topic.value
                        if not got_command and topic in command_topics and device.id in topic:
                            to_command.append((time.perf_counter() - began) * 1000)
                            got_command = True
                        elif topic == "sasha/response":
                            to_reply.append((time.perf_counter() - began) * 1000)
                            got_reply = True
                        if got_command and got_reply:
                            break
        stop.set()
        await serving
    print(f"requests: {requests} explicit commands over the MQTT API, no model configured")
    for label, values in (("request → device command", to_command), ("request → reply", to_reply)):
        print(
            f"  {label:26} p50 {_percentile(values, 0.5):6.2f} ms  p99 {_percentile(values, 0.99):6.2f} ms"
            f"  mean {statistics.mean(values):6.2f} ms"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    asyncio.run(main(parser.parse_args().requests))
