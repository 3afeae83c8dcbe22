"""Shared fixtures: a private mosquitto per test, the example home, and a wired-up rig."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from sasha.home import inventory
from sasha.home.inventory import Inventory
from sasha.mqtt.connection import MqttConnection, MqttSettings
from sasha.mqtt.mosquitto import Mosquitto
from sasha.planning.llm.client import ModelSettings
from sasha.planning.llm.scripted import ScriptedModel
from sasha.sim.testbed import Testbed, simulated_home

# Tests share 2 cores with brokers and subprocesses: a slow draw or example says nothing about
# correctness (speed is measured by bench/), so hypothesis must not fail on timing.
settings.register_profile("sasha", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("sasha")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "devices.yaml"


@pytest.fixture(scope="session")
def home() -> Inventory:
    """Return the example home."""
    return inventory.from_file(EXAMPLE)


@pytest.fixture
async def broker() -> AsyncIterator[Mosquitto]:
    """Start a fresh mosquitto on a free loopback port for one test.

    One broker per test keeps retained states of one test out of the next.
    """
    async with Mosquitto() as running:
        yield running


def fast(
    settings: MqttSettings, *, client_id: str | None = None, status_topic: str | None = None, max_outbox: int = 1000
) -> MqttConnection:
    """Build a connection that reconnects quickly, as tests need."""
    return MqttConnection(
        settings,
        client_id=client_id,
        status_topic=status_topic,
        max_outbox=max_outbox,
        reconnect_min=0.05,
        reconnect_max=0.5,
    )


@dataclass(frozen=True, slots=True)
class Rig(Testbed):
    """A simulated home on a private broker, with the assistant's side wired to it."""

    broker: Mosquitto


@pytest.fixture
async def rig(broker: Mosquitto, home: Inventory) -> AsyncIterator[Rig]:
    """Run the simulator and the assistant's connection, mirror and executor."""
    settings = MqttSettings.from_url(broker.url)
    async with simulated_home(home, settings, seed=7, ack_wait=2.0, reconnect_min=0.05, reconnect_max=0.5) as bed:
        yield Rig(bed.home, bed.simulator, bed.mirror, bed.executor, bed.link, bed.sim_link, broker)


@pytest.fixture
async def scripted() -> AsyncIterator[ScriptedModel]:
    """Run a scripted OpenAI-compatible server on loopback."""
    async with ScriptedModel() as server:
        yield server


def model_settings(server: ScriptedModel, **overrides: float | int | str) -> ModelSettings:
    """Point the real SDK at the scripted server, with quick timeouts for tests."""
    values: dict[str, object] = {
        "model": "scripted",
        "base_url": server.base_url,
        "api_key": "sk-test-secret-0123456789",
        "timeout": 5.0,
        "max_retries": 2,
        **overrides,
    }
    return ModelSettings(**values)  # type: ignore[arg-type]


def clean_env(**extra: str) -> dict[str, str]:
    """Return this process's environment without Sasha's and the SDK's settings, plus `extra`."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SASHA_"))}
    return {**keep, **extra}


async def start_sasha(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> asyncio.subprocess.Process:
    """Start `python -m sasha ARGS` (in the repository unless `cwd` says), with stdout and stderr piped."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sasha",
        *args,
        cwd=cwd,
        env=env or clean_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def run_sasha(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> tuple[int, str, str]:
    """Run `python -m sasha ARGS` to the end; return the exit code, stdout and stderr."""
    process = await start_sasha(*args, env=env, cwd=cwd)
    out, err = await process.communicate()
    return process.returncode or 0, out.decode(), err.decode()
