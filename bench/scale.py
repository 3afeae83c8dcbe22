"""Generated homes of 100 to 10,000 devices, each served by a real `sasha run` with a model configured.

Per size: `sasha check` time, start → `online` (every subscription acknowledged), the daemon's
RSS after the requests, request → reply for explicit commands (p50/p99), and the executor's
round trip against bare aiomqtt on the same broker (in this process, on that home). The home's
devices are played by `sasha sim`, started first, so the daemon meets every device's retained
state when it subscribes and each reply waits for its device to confirm, as at home.

    .venv/bin/python bench/scale.py [--sizes 100,1000,3000,10000] [--requests 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import tempfile
import time
from pathlib import Path

import yaml
from bare import bare_roundtrip
from harness import ROOT, mqtt_client, percentile, rss_mb, shipped_limits, start_sasha
from mqtt_roundtrip import one_at_a_time

from sasha.adapters import adapter_for
from sasha.home import inventory
from sasha.home.inventory import Inventory
from sasha.mqtt.connection import MqttSettings
from sasha.mqtt.mosquitto import Mosquitto
from sasha.planning.llm.scripted import ScriptedModel
from sasha.sim import synthetic
from sasha.sim.testbed import simulated_home

_ROUNDTRIPS = 300


async def _check_seconds(path: Path) -> float:
    began = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sasha", "check", "--devices", str(path), cwd=ROOT, stdout=asyncio.subprocess.DEVNULL
    )
    assert await process.wait() == 0
    return time.perf_counter() - began


async def _serve(
    path: Path, home: Inventory, url: str, model_url: str, requests: int
) -> tuple[float, list[float], float]:
    """Start `sasha run`, time it to online, send explicit commands one at a time; return online s, ms, RSS MB."""
    with tempfile.TemporaryDirectory() as state:
        devices = await _start_devices(path, home, url)
        async with mqtt_client(url) as client:
            await client.subscribe("sasha/status", qos=1)
            await client.subscribe("sasha/response", qos=1)
            began = time.perf_counter()
            args = ("run", "--open", "--devices", str(path), "--mqtt-url", url, "--state-dir", state)
            process = await start_sasha(*args, model_url=model_url, stderr=asyncio.subprocess.DEVNULL)
            try:
                async with asyncio.timeout(120):
                    async for message in client.messages:
                        if message.topic.matches("sasha/status") and message.payload == b"online":
                            break
                online = time.perf_counter() - began
                lights = [d for d in home.devices.values() if "power" in d.capabilities][:requests]
                latencies = []
                for i, device in enumerate(lights):
                    ident = f"r{i}"
                    sent = time.perf_counter()
                    text = f"turn {'on' if i % 2 else 'off'} {device.name}"
                    await client.publish("sasha/request", json.dumps({"id": ident, "text": text}), qos=1)
                    async with asyncio.timeout(30):
                        async for message in client.messages:
                            if message.topic.matches("sasha/response"):
                                reply = json.loads(message.payload)  # type: ignore[arg-type]
                                if reply.get("id") == ident:
                                    assert reply["status"] == "done", reply
                                    break
                    latencies.append((time.perf_counter() - sent) * 1000)
                # The model's SDK loads at the daemon's first quiet moment after online: count it in.
                await asyncio.sleep(2)
                memory = rss_mb(process.pid)
            finally:
                process.send_signal(signal.SIGTERM)
                await process.wait()
                devices.terminate()
                await devices.wait()
    return online, latencies, memory


async def _start_devices(path: Path, home: Inventory, url: str) -> asyncio.subprocess.Process:
    """Start `sasha sim` and wait until it has published every device's state."""
    process = await start_sasha("sim", "--devices", str(path), "--mqtt-url", url, stderr=asyncio.subprocess.DEVNULL)
    # The simulator publishes in inventory order, so the last device's state comes last.
    last = list(home.devices.values())[-1]
    async with mqtt_client(url) as client:
        await client.subscribe(adapter_for(last).state_topics(last)[0], qos=1)
        async with asyncio.timeout(120):
            async for _ in client.messages:
                break
    return process


async def _roundtrip_ratio(home: Inventory, url: str) -> float:
    """Executor → simulated device → state mirror, one at a time, over bare aiomqtt's rate on the same broker."""
    dimmable = [d for d in home.devices.values() if "brightness" in d.capabilities][:9]
    async with simulated_home(home, MqttSettings.from_url(url)) as bed:
        seconds, _, _ = await one_at_a_time(bed.executor, bed.mirror, dimmable, _ROUNDTRIPS)
    return _ROUNDTRIPS / seconds / await bare_roundtrip(url, _ROUNDTRIPS)


async def main(sizes: list[int], requests: int) -> None:
    """Run every size and print one table."""
    rows = []
    async with ScriptedModel() as model:
        for size in sizes:
            data = synthetic.home_data(size)
            home = inventory.from_dict(data)
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "devices.yaml"
                path.write_text(yaml.safe_dump(data, sort_keys=False))
                check = await _check_seconds(path)
                # The deployment's queue limits; a fresh broker per size keeps sessions apart.
                async with Mosquitto(extra=shipped_limits()) as broker:
                    online, ms, memory = await _serve(path, home, broker.url, model.base_url, requests)
                # Its own broker too: the stopped daemon's and simulator's sessions stay subscribed
                # on the first, and the broker would keep queueing every message for them.
                async with Mosquitto(extra=shipped_limits()) as broker:
                    ratio = await _roundtrip_ratio(home, broker.url)
            rows.append((size, check, online, memory, percentile(ms, 0.5), percentile(ms, 0.99), ratio))
            print(f"  {size} devices measured", file=sys.stderr)
        assert model.calls == 0  # explicit commands never reach the model
    print(f"{len(sizes)} generated homes, `sasha run` with a (scripted) model configured, {requests} explicit commands")
    print("| devices | check | start → online | RSS after requests | command p50 | p99 | round trip vs bare |")
    print("|---|---|---|---|---|---|---|")
    for size, check, online, memory, p50, p99, ratio in rows:
        figures = f"{check:.2f} s | {online:.2f} s | {memory:.1f} MB | {p50:.1f} ms | {p99:.1f} ms | {ratio:.0%}"
        print(f"| {size:,} | {figures} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,3000,10000")
    parser.add_argument("--requests", type=int, default=20)
    arguments = parser.parse_args()
    asyncio.run(main([int(s) for s in arguments.sizes.split(",")], arguments.requests))
