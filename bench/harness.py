"""What the benchmarks share: percentiles, a process's memory, the shipped broker limits, `sasha` as a process."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt

from sasha.planning.llm.client import CallLog, ModelClient

ROOT = Path(__file__).resolve().parent.parent
_QUEUE_OPTIONS = ("max_queued_messages", "max_queued_bytes", "max_inflight_messages")


def percentile(values: list[float], share: float) -> float:
    """Return the value at `share` (0 to 1) of the sorted values, nan when there are none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def rss_mb(pid: int) -> float:
    """Return a process's resident memory in MB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def shipped_limits() -> list[str]:
    """Return the queue lines of deploy/mosquitto.conf."""
    lines = (ROOT / "deploy" / "mosquitto.conf").read_text().splitlines()
    return [line for line in lines if line.startswith(_QUEUE_OPTIONS)]


async def start_sasha(
    *args: str, model_url: str | None = None, stderr: int = asyncio.subprocess.PIPE
) -> asyncio.subprocess.Process:
    """Start `sasha ARGS` from the repository; with `model_url`, against that (scripted) model, else with none."""
    # The caller's own model and Sasha settings must not leak into what is measured.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SASHA_"))}
    if model_url is not None:
        env |= {"OPENAI_BASE_URL": model_url, "OPENAI_API_KEY": "sk-bench", "SASHA_MODEL": "scripted"}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sasha", *args, cwd=ROOT, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=stderr
    )


def mqtt_client(url: str) -> aiomqtt.Client:
    """Return an MQTT v5 client of a `mqtt://host:port` URL with TCP_NODELAY, as Sasha's own sockets have."""
    host, port = url.removeprefix("mqtt://").split(":")
    return aiomqtt.Client(
        host,
        int(port),
        protocol=aiomqtt.ProtocolVersion.V5,
        identifier=f"bench-{uuid.uuid4().hex[:8]}",
        socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
    )


# A series of different goals on the example home, in the order a day might bring them: the
# prompt benches send them one after another to one server, as a household would.
SERIES = (
    "make the living room cozy",
    "the bathroom is too humid",
    "it is too dark upstairs",
    "make the lounge nice for a film",
    "help me sleep better",
    "make the kitchen nice for cooking",
    "it is cold in the study",
    "help me save energy",
)


def copies_prompt(message: str, prompt: str) -> bool:
    """Say whether a model's message is a copy of prompt text (a placeholder, an example, a rule)."""
    said = " ".join(message.lower().split()).strip(" .!")
    return len(said) >= 3 and said in " ".join(prompt.lower().split())


@dataclass
class Sent:
    """One completion a recording client asked for: what it sent and, once back, the answer."""

    purpose: str
    messages: list[Mapping[str, str]]
    answer: str | None = None


class RecordingClient(ModelClient):
    """A model client that keeps every prompt it sends and every answer it gets (set `sent` to a list first)."""

    sent: list[Sent]

    async def complete(
        self,
        messages: Sequence[Mapping[str, str]],
        *,
        name: str,
        schema: Mapping[str, Any],
        purpose: str,
        log: CallLog,
    ) -> str:
        """Remember the prompt, complete it, remember the answer."""
        sent = Sent(purpose, list(messages))
        self.sent.append(sent)
        sent.answer = await super().complete(messages, name=name, schema=schema, purpose=purpose, log=log)
        return sent.answer
