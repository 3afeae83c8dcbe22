"""One user's flood against `sasha run`, and how soon another user's explicit command is answered.

A private mosquitto, the example home played by `sasha sim`, a scripted model and `sasha run`
as a process with its default queues and model budgets (60 calls a minute in all, 30 per user). A flooder, user A
("alice", on `sasha/request/alice`) in its own process, so it does not share an event loop
with the measuring client, publishes `--requests` requests as fast as it can: a third valid
explicit commands ("turn on/off the office light"), a third malformed (`"text": 5`), a third
gibberish for the model, all asking for a reply. When the first half is at the broker, user B
("bob", on `sasha/request/bob`) sends "turn on the kitchen light" and times it to its reply,
then a few more while the flood drains; after the flood, B asks the model something.

Printed: B's commands' latency, whether B's request for the model got the model (A spent only
A's budget), the daemon's counters and A's and B's, model calls, RSS before and after, and
whether the daemon is alive.

    .venv/bin/python bench/flood.py [--requests 5000]
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
from typing import Any

from harness import rss_mb, shipped_limits, start_sasha

from sasha.mqtt.connection import Incoming, MqttConnection, MqttSettings
from sasha.mqtt.mosquitto import Mosquitto
from sasha.planning.llm.scripted import ScriptedModel

ROOT = Path(__file__).resolve().parent.parent
INBOX = "sasha/reply/bob"
ASK = "sasha/request/bob"

# The flooder: paho with a wide in-flight window, publishing without waiting for each PUBACK.
FLOODER = """
import json, sys
import paho.mqtt.client as mqtt
port, count = int(sys.argv[1]), int(sys.argv[2])
client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="flooder", protocol=mqtt.MQTTv5)
client.max_inflight_messages_set(200)
client.max_queued_messages_set(0)
client.connect("127.0.0.1", port)
client.loop_start()
sent = []
for i in range(count):
    if i == count // 2:
        sent[-1].wait_for_publish(60)  # the first half is at the broker, ahead of what comes next
        print("half", flush=True)
    text = [5, f"zorp {i} blee frum quax", "turn on the office light" if i % 2 else "turn off the office light"][i % 3]
    body = {"text": text, "id": i, "reply_to": "sasha/reply/alice/flood"}
    sent.append(client.publish("sasha/request/alice", json.dumps(body), qos=1))
for info in sent:
    info.wait_for_publish(60)
print("done", flush=True)
client.disconnect()
client.loop_stop()
"""


class Replies:
    """Record when each legitimate reply arrives."""

    def __init__(self) -> None:
        self.sent: dict[str, float] = {}
        self.latency_ms: dict[str, float] = {}
        self.status: dict[str, str] = {}
        self.arrived = asyncio.Event()

    def on_reply(self, message: Incoming) -> None:
        """Note the arrival time of a reply to one of ours."""
        body = json.loads(message.payload)
        ident = str(body.get("id"))
        if ident in self.sent and ident not in self.latency_ms:
            self.latency_ms[ident] = (time.perf_counter() - self.sent[ident]) * 1000
            self.status[ident] = body["status"]
            self.arrived.set()


async def _ask(link: MqttConnection, replies: Replies, ident: str, timeout: float = 60, text: str = "") -> None:
    replies.arrived.clear()
    replies.sent[ident] = time.perf_counter()
    text = text or ("turn on the kitchen light" if len(replies.sent) % 2 else "turn off the kitchen light")
    link.publish_nowait(ASK, json.dumps({"text": text, "id": ident, "reply_to": INBOX}))
    async with asyncio.timeout(timeout):
        while ident not in replies.latency_ms:
            await replies.arrived.wait()
            replies.arrived.clear()


async def _counters(link: MqttConnection, received: int) -> dict[str, Any]:
    """Return the daemon's counters once it has read `received` messages and its queues are empty."""
    latest: dict[str, Any] = {}
    seen = asyncio.Event()

    def on_stats(message: Incoming) -> None:
        if message.payload:
            latest.update(json.loads(message.payload))
            seen.set()

    await link.subscribe(["sasha/stats"], on_stats)
    try:
        async with asyncio.timeout(60):
            while not latest or latest["received"] < received or latest["queued_fast"] or latest["queued_model"]:
                seen.clear()
                await seen.wait()
    except TimeoutError:
        print(f"the daemon read {latest.get('received')} of {received} messages within a minute")
    return latest


async def _start_daemon(broker_url: str, model_url: str, state: str) -> asyncio.subprocess.Process:
    return await start_sasha(
        *("run", "--devices", str(ROOT / "devices.yaml"), "--mqtt-url", broker_url),
        *("--state-dir", state, "--model-retries", "0"),
        model_url=model_url,
    )


async def _flood(link: MqttConnection, replies: Replies, port: int, requests: int) -> tuple[int, float]:
    """Run A's flood; B asks when half of it is out, and again until it is over. Return B's count and seconds."""
    flooder = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-c", FLOODER, str(port), str(requests)),
        stdout=asyncio.subprocess.PIPE,
    )
    assert flooder.stdout is not None
    began = time.perf_counter()
    await flooder.stdout.readline()  # "half"
    await _ask(link, replies, "legit-0")
    during = 1
    while flooder.returncode is None and during < 20:
        try:
            await _ask(link, replies, f"legit-{during}", timeout=10)
        except TimeoutError:
            print(f"legit-{during}: no reply within 10 s", flush=True)
        during += 1
        await asyncio.sleep(0.05)
    await flooder.communicate()
    return during, time.perf_counter() - began


async def main(requests: int) -> None:
    """Run the flood and print the figures."""
    answers = [{"kind": "answer", "message": "I do not follow.", "actions": []}] * (requests + 10)
    with tempfile.TemporaryDirectory(prefix="sasha-flood-") as state:
        # The queue limits of the broker we ship: the default of 1,000 queued messages per
        # client would drop part of the flood before Sasha saw it.
        async with Mosquitto(extra=shipped_limits()) as broker, ScriptedModel(answers) as model:
            # The devices answer, as at home: a reply waits for them to confirm (`confirm_wait`).
            devices = await start_sasha(
                *("sim", "--devices", str(ROOT / "devices.yaml"), "--mqtt-url", broker.url),
                stderr=asyncio.subprocess.DEVNULL,
            )
            daemon = await _start_daemon(broker.url, model.base_url, state)
            link = MqttConnection(MqttSettings.from_url(broker.url), client_id="flood-bench")
            async with link:
                replies = Replies()
                await link.subscribe([INBOX], replies.on_reply)
                await link.wait_connected(10)
                for attempt in range(60):  # ready when a warm-up command is answered
                    try:
                        await _ask(link, replies, f"warm-{attempt}", timeout=1)
                        break
                    except TimeoutError:
                        continue
                quiet = [replies.latency_ms[i] for i in replies.latency_ms if i.startswith("warm")]
                for n in range(5):
                    await _ask(link, replies, f"quiet-{n}")
                rss_start = rss_mb(daemon.pid)
                during, flood_s = await _flood(link, replies, broker.port, requests)
                counters = await _counters(link, requests + len(replies.latency_ms))
                # B's own model budget is untouched by A's flood.
                await _ask(link, replies, "goal", timeout=30, text="make it cozy in here")
                rss_end = rss_mb(daemon.pid)
                alive = daemon.returncode is None
            daemon.send_signal(signal.SIGTERM)
            _, err = await daemon.communicate()
            devices.terminate()
            await devices.wait()
    legit = [replies.latency_ms.get(f"legit-{n}", 1e9) for n in range(during)]
    print(f"flood: {requests} requests from another process, published in {flood_s:.1f} s")
    print(f"quiet explicit command: {min(quiet + [replies.latency_ms[f'quiet-{n}'] for n in range(5)]):.1f} ms best")
    print(f"B's command sent when half of A's flood was out: answered in {legit[0]:.0f} ms")
    print(
        f"B's commands during the flood ({len(legit)}): worst {max(legit):.0f} ms,"
        f" all done: {all(replies.status.get(f'legit-{n}') == 'done' for n in range(during))}"
    )
    print(f"B's request for the model after the flood: {replies.status.get('goal')}")
    counts = {k: counters[k] for k in ("received", "answered", "rejected", "busy", "shed", "dropped")}
    budget = {k: v for k, v in counters.items() if k.startswith("model")}
    print(f"daemon counters: {counts}; model budget: {budget}")
    users = counters.get("users", {})
    print(f"A (alice): {users.get('alice')}; B (bob): {users.get('bob')}")
    print(f"model calls: {model.calls}; RSS {rss_start:.1f} MB -> {rss_end:.1f} MB; alive: {alive}")
    print(f"tracebacks in the daemon's log: {err.decode().count('Traceback')}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    asyncio.run(main(parser.parse_args().requests))
