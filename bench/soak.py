"""Soak `sasha run`: minutes of mixed traffic at a set rate, with a broker restart in the middle.

A private mosquitto (with persistence), the simulated example home, a scripted model that
answers slowly and sometimes fails, and `sasha run` as a process. A load client (Sasha's own
resilient MQTT connection, so its requests survive the restart) sends, at `--rate` requests a
second: explicit commands, malformed JSON, oversized payloads (answered on an MQTT v5 response
topic), gibberish for the model, and sensitive requests followed by their confirmation. Every
request names a reply route, so every one must be answered: `lost` is what never was.

Printed: answered, rejected, busy, lost, RSS of the daemon at the start and the end, p50/p99 of
explicit commands from sending to the reply.

    .venv/bin/python bench/soak.py [--minutes 2] [--rate 20]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import random
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import percentile, rss_mb, start_sasha
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from sasha.home import inventory
from sasha.mqtt.connection import Incoming, MqttConnection, MqttSettings
from sasha.mqtt.mosquitto import Mosquitto
from sasha.planning.llm.scripted import ScriptedModel
from sasha.sim.simulator import Simulator

ROOT = Path(__file__).resolve().parent.parent
LIGHTS = ["living room lamp", "kitchen light", "bedroom light", "office light", "hallway light", "garage light"]
INBOX = "sasha/reply/soak"


def _model_answers(count: int, rng: random.Random) -> list[dict[str, Any]]:
    """Slow answers, some server errors, some broken output: a model as it is on a bad day."""
    answers: list[dict[str, Any]] = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.15:
            answers.append({"http_error": 500})
        elif roll < 0.25:
            answers.append({"raw": "I think you should {broken json", "delay": 0.2})
        else:
            delay = rng.choice([0.1, 0.3, 0.8, 1.5])
            answers.append({"delay": delay, "kind": "answer", "message": "I am not sure what you mean.", "actions": []})
    return answers


class Load:
    """Send requests and match replies by id (or by correlation data for unreadable ones)."""

    def __init__(self, link: MqttConnection) -> None:
        self.link = link
        self.sent: dict[str, tuple[str, float]] = {}  # id → (kind, sent at)
        self.replied: dict[str, dict[str, Any]] = {}
        self.statuses: collections.Counter[str] = collections.Counter()
        self.explicit_ms: list[float] = []
        self.tokens: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self.duplicates = 0

    def on_reply(self, message: Incoming) -> None:
        """Record a reply."""
        body = json.loads(message.payload)
        ident = body.get("id") or (message.correlation_data or b"").decode()
        if ident in self.replied:
            self.duplicates += 1
            return
        if ident not in self.sent:
            return
        self.replied[ident] = body
        self.statuses[body["status"]] += 1
        kind, at = self.sent[ident]
        if kind == "explicit":
            self.explicit_ms.append((time.perf_counter() - at) * 1000)
        if kind == "sensitive" and body.get("confirm_token"):
            self.tokens.put_nowait((body["confirm_token"], body["conversation"]))

    def send(self, ident: str, kind: str, payload: bytes | str, properties: Properties | None = None) -> None:
        """Publish one request (held by the outbox while the broker is away)."""
        self.sent[ident] = (kind, time.perf_counter())
        self.link.publish_nowait("sasha/request", payload, properties=properties)

    def confirm(self, ident: str, token: str) -> None:
        """Publish a confirmation for a plan that waits."""
        self.sent[ident] = ("confirm", time.perf_counter())
        body = {"token": token, "approve": True, "id": ident, "reply_to": INBOX}
        self.link.publish_nowait("sasha/confirm", json.dumps(body))


def _request(load: Load, n: int, rng: random.Random) -> None:
    ident = f"s{n}"
    roll = rng.random()
    if roll < 0.4:
        word = rng.choice(["on", "off"])
        text = f"turn {word} the {rng.choice(LIGHTS)}"
        load.send(ident, "explicit", json.dumps({"text": text, "id": ident, "reply_to": INBOX}))
    elif roll < 0.6:
        load.send(ident, "garbage", json.dumps({"text": 42, "id": ident, "reply_to": INBOX}))
    elif roll < 0.65:
        properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        properties.ResponseTopic = INBOX
        properties.CorrelationData = ident.encode()
        load.send(ident, "oversized", b"x" * 20_000, properties)
    elif roll < 0.95:
        text = f"frobnicate the quantum teapot number {n}"
        load.send(ident, "model", json.dumps({"text": text, "id": ident, "reply_to": INBOX}))
    else:
        text = rng.choice(["open the garage door", "close the garage door"])
        load.send(ident, "sensitive", json.dumps({"text": text, "id": ident, "reply_to": INBOX}))


async def main(minutes: float, rate: float) -> None:  # noqa: PLR0915  (one linear story, read top to bottom)
    """Run the soak and print the figures."""
    rng = random.Random(13)
    home = inventory.from_file(ROOT / "devices.yaml")
    seconds = minutes * 60
    total = int(seconds * rate)
    with tempfile.TemporaryDirectory(prefix="sasha-soak-") as state:
        async with Mosquitto() as broker, ScriptedModel(_model_answers(total, rng)) as model:
            settings = MqttSettings.from_url(broker.url)
            sim_link = MqttConnection(settings, client_id="soak-sim", reconnect_min=0.1, reconnect_max=1.0)
            load_link = MqttConnection(settings, client_id="soak-load", reconnect_min=0.1, reconnect_max=1.0)
            async with sim_link, load_link:
                simulator = Simulator(home, sim_link, seed=1)
                await simulator.attach()
                load = Load(load_link)
                await load_link.subscribe([INBOX], load.on_reply)
                daemon = await start_sasha(
                    "run",
                    "--open",
                    "--devices",
                    str(ROOT / "devices.yaml"),
                    "--mqtt-url",
                    broker.url,
                    "--state-dir",
                    state,
                    "--model-retries",
                    "0",
                    "--model-timeout",
                    "5",
                    model_url=model.base_url,
                )
                # Ready when a warm-up command is answered.
                load.send(
                    "warm", "warm", json.dumps({"text": "turn on the office light", "id": "warm", "reply_to": INBOX})
                )
                while "warm" not in load.replied:
                    await asyncio.sleep(0.2)
                    if "warm" not in load.replied and load.sent["warm"][1] < time.perf_counter() - 5:
                        load.send(
                            "warm",
                            "warm",
                            json.dumps({"text": "turn on the office light", "id": "warm", "reply_to": INBOX}),
                        )
                rss_start = rss_mb(daemon.pid)
                began = time.perf_counter()
                restarted = False
                n = 0
                confirms = 0
                while (elapsed := time.perf_counter() - began) < seconds:
                    if not restarted and elapsed >= seconds / 2:
                        restarted = True
                        print(f"restarting the broker at {elapsed:.0f} s", flush=True)
                        await broker.restart()
                    target = int(elapsed * rate)
                    while n < target:
                        _request(load, n, rng)
                        n += 1
                    while not load.tokens.empty():
                        token, _conversation = load.tokens.get_nowait()
                        confirms += 1
                        load.confirm(f"k{confirms}", token)
                    await asyncio.sleep(0.05)
                # Let the last requests be answered (the model is slow on purpose).
                deadline = time.perf_counter() + 60
                while len(load.replied) < len(load.sent) and time.perf_counter() < deadline:  # noqa: ASYNC110  (polls two counters)
                    await asyncio.sleep(0.5)
                rss_end = rss_mb(daemon.pid)
                alive = daemon.returncode is None
                daemon.send_signal(signal.SIGTERM)
                _, err = await daemon.communicate()
    lost = [i for i in load.sent if i not in load.replied]
    kinds = collections.Counter(load.sent[i][0] for i in lost)
    answered = sum(v for k, v in load.statuses.items() if k not in ("rejected", "busy"))
    print(f"{len(load.sent)} requests and confirmations in {minutes} min at {rate}/s ({model.calls} model calls)")
    print(f"answered {answered}, rejected {load.statuses['rejected']}, busy {load.statuses['busy']}, lost {len(lost)}")
    if lost:
        print(f"  lost by kind: {dict(kinds)}")
    print(f"statuses: {dict(load.statuses)}; duplicate replies: {load.duplicates}")
    print(f"daemon alive through the soak: {alive}; exit code {daemon.returncode}")
    print(f"RSS {rss_start:.1f} MB at the start, {rss_end:.1f} MB at the end")
    print(
        f"explicit commands: p50 {percentile(load.explicit_ms, 0.5):.0f} ms,"
        f" p99 {percentile(load.explicit_ms, 0.99):.0f} ms over {len(load.explicit_ms)}"
    )
    tracebacks = err.decode().count("Traceback")
    print(f"tracebacks in the daemon's log: {tracebacks}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=2.0, help="how long (default 2)")
    parser.add_argument("--rate", type=float, default=20.0, help="requests a second (default 20)")
    args = parser.parse_args()
    asyncio.run(main(args.minutes, args.rate))
