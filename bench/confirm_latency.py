"""What waiting for the device costs: explicit-command reply latency with confirmation on and off.

One process: a private mosquitto, the simulated example home and the assistant (no model, no
audit log). For N commands each, printed p50/p99 of `Assistant.handle` from the call to the
reply: with `confirm_wait` off (None: the reply after the broker's PUBACK, as before issue 23),
with the default 2 s wait and prompt devices, and with one device reporting 0.3 s late (the
reply waits as long as the slowest device of the request), and a silent device (the whole 2 s).

    .venv/bin/python bench/confirm_latency.py [--requests 200]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from harness import percentile

from sasha.assistant import Assistant
from sasha.home import inventory
from sasha.mqtt.connection import MqttSettings
from sasha.mqtt.mosquitto import Mosquitto
from sasha.planning.planner import Planner
from sasha.sim.testbed import simulated_home

ROOT = Path(__file__).resolve().parent.parent
CASES = (
    ("no confirmation (confirm_wait off)", None, {}, frozenset()),
    ("confirm_wait 2 s, prompt device", 2.0, {}, frozenset()),
    ("confirm_wait 2 s, device 0.3 s late", 2.0, {"office_light": 0.3}, frozenset()),
    ("confirm_wait 2 s, silent device", 2.0, {}, frozenset({"office_light"})),
)


async def main(requests: int) -> None:
    """Measure each case and print one line per case."""
    home = inventory.from_file(ROOT / "devices.yaml")
    async with Mosquitto() as broker, simulated_home(home, MqttSettings.from_url(broker.url)) as bed:
        planner = Planner(home, None, state=bed.mirror.snapshot)
        print(f"{'case':40} {'n':>5} {'p50 ms':>9} {'p99 ms':>9}  confirmations")
        for name, wait, late, silent in CASES:
            assistant = Assistant(home, bed.executor, planner, mirror=bed.mirror, confirm_wait=wait)
            bed.simulator.late.clear()
            bed.simulator.late.update(late)
            bed.simulator.silent = silent
            count = requests if not silent else max(3, requests // 40)  # each silent one costs the whole wait
            times: list[float] = []
            seen: dict[str, int] = {}
            for i in range(count):
                word = "on" if i % 2 == 0 else "off"
                started = time.perf_counter()
                reply = await assistant.handle(f"turn {word} the office light", conversation="bench")
                times.append((time.perf_counter() - started) * 1000)
                for action in reply.actions:
                    key = str(action.confirmation)
                    seen[key] = seen.get(key, 0) + 1
            p50, p99 = percentile(times, 0.5), percentile(times, 0.99)
            print(f"{name:40} {count:5} {p50:9.1f} {p99:9.1f}  {seen}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    asyncio.run(main(parser.parse_args().requests))
