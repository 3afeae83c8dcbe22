"""Measure how much of a burst of QoS 1 requests mosquitto keeps for a client that is not reading.

A subscriber with a persistent session (as Sasha's daemon has) is away or busy while N
requests arrive; then it reads what the broker kept. Run against mosquitto's defaults and
against the queue limits of deploy/mosquitto.conf.

    .venv/bin/python bench/broker_burst.py [--requests 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

import aiomqtt
from harness import shipped_limits
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from sasha.mqtt.mosquitto import Mosquitto

ROOT = Path(__file__).resolve().parent.parent


def _subscriber(port: int) -> aiomqtt.Client:
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = 3600
    return aiomqtt.Client(
        "127.0.0.1",
        port,
        identifier="burst-reader",
        protocol=aiomqtt.ProtocolVersion.V5,
        clean_start=False,
        properties=properties,
    )


async def burst(extra: list[str], requests: int) -> tuple[int, float]:
    """Publish `requests` QoS 1 messages while the reader is away; return how many it gets and the seconds taken."""
    async with Mosquitto(extra=extra) as broker:
        async with _subscriber(broker.port) as reader:
            await reader.subscribe("sasha/request", qos=1)
        start = time.perf_counter()
        async with aiomqtt.Client("127.0.0.1", broker.port, identifier="burst-writer") as writer:
            for i in range(requests):
                await writer.publish("sasha/request", f'{{"text": "turn on the lamp", "id": {i}}}', qos=1)
        received = 0
        async with _subscriber(broker.port) as reader:
            messages = aiter(reader.messages)
            # Everything the broker kept arrives at once; 3 s of silence means that was all.
            while received < requests:
                try:
                    async with asyncio.timeout(3):
                        await anext(messages)
                except TimeoutError:
                    break
                received += 1
        return received, time.perf_counter() - start


async def main() -> None:
    """Print what each configuration kept of the burst."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=5000)
    args = parser.parse_args()
    for name, extra in (("mosquitto defaults", []), ("deploy/mosquitto.conf limits", shipped_limits())):
        received, seconds = await burst(extra, args.requests)
        print(f"{name:30} kept {received:5} of {args.requests} ({args.requests - received} dropped), {seconds:.1f}s")


if __name__ == "__main__":
    asyncio.run(main())
