"""A real model: llama-cpp-python's server with SmolLM2-135M, a real and unpredictable generator.

A 135M model plans badly, and that is the point. These tests assert what must hold whatever a
model says: every reply has a valid status, nothing invalid reaches the broker, sensitive
devices never move without a yes, the output mode is found by itself, usage comes from the
server, timed-out calls are not sent again, the deadline holds, the daemon keeps serving.

The server runs once per session (`tiny_model`); a pass-through proxy per test records every
request's `response_format` and the status the server answered with.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from sasha.adapters import adapter_for
from sasha.assistant import Assistant
from sasha.home import inventory
from sasha.home.safety import safe_direction
from sasha.home.validation import validate
from sasha.mqtt.connection import Incoming, MqttSettings
from sasha.planning.llm.client import (
    CallLog,
    CallTimeout,
    DeadlineExceeded,
    Mode,
    ModelClient,
    ModelSettings,
)
from sasha.planning.llm.tiny import TinyModelServer, TinyModelUnavailable
from sasha.planning.planner import Planner
from sasha.sim import physics
from sasha.surfaces.daemon import Daemon, DaemonOptions
from tests.conftest import ROOT, Rig, clean_env, fast, run_sasha
from tests.surfaces.test_daemon import request

pytestmark = pytest.mark.real_model

STUDIO = ROOT / "tests" / "scenarios" / "homes" / "studio.yaml"
STATUSES = {"done", "needs_confirmation", "clarify", "answer", "infeasible", "rejected", "error"}
KINDS = {"plan", "routine", "clarify", "answer", "infeasible", "error"}
# Small bounds keep a rambling 135M model from holding the single-queue server for long.
BOUNDS: dict[str, Any] = {
    "max_tokens_plan": 128,
    "max_tokens_repair": 128,
    "max_tokens_select": 80,
    "max_tokens_rooms": 40,
    "timeout": 60.0,
    "deadline": 60.0,
    "max_retries": 0,
}


@pytest.fixture(scope="session")
def tiny_model() -> Iterator[TinyModelServer]:
    """Start the bundled tiny model server once for the session (and fail loudly if it cannot start)."""
    server = TinyModelServer(n_ctx=4096)
    try:
        server.start()
    except TinyModelUnavailable as err:
        pytest.fail(f"the real model server could not start (`make test` installs it): {err}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Proxy:
    """A pass-through proxy in front of the model server that records what crossed it."""

    upstream: str
    base_url: str = ""
    # (response_format type or "plain", schema attached, status) per chat completion answered.
    seen: list[tuple[str, bool, int]] = field(default_factory=list)
    # Chat completions that arrived, answered or abandoned by the client.
    arrived: int = 0

    def formats(self) -> list[str]:
        """Return the response_format type of every request, in order."""
        return [kind for kind, _, _ in self.seen]


@pytest.fixture
async def proxy(tiny_model: TinyModelServer) -> AsyncIterator[Proxy]:
    """Run a recording pass-through proxy to the tiny model on a free loopback port."""
    recorder = Proxy(tiny_model.base_url)
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300))

    async def forward(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        response_format = {}
        if request.method == "POST":
            recorder.arrived += 1
            response_format = json.loads(body).get("response_format") or {}
        async with session.request(
            request.method,
            recorder.upstream + request.path.removeprefix("/v1"),
            data=body,
            headers={"content-type": request.headers.get("content-type", "application/json")},
        ) as upstream:
            payload = await upstream.read()
            if request.method == "POST":
                kind = response_format.get("type", "plain")
                recorder.seen.append((kind, "schema" in response_format, upstream.status))
            return web.Response(body=payload, status=upstream.status, content_type=upstream.content_type)

    app = web.Application()
    app.router.add_route("*", "/v1/{tail:.*}", forward)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    recorder.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    try:
        yield recorder
    finally:
        await runner.cleanup()
        await session.close()


def _settings(base_url: str, **overrides: Any) -> ModelSettings:
    return ModelSettings(model="smollm2-135m", base_url=base_url, **{**BOUNDS, **overrides})


async def test_the_mode_fallback_finds_json_object_with_the_schema(proxy: Proxy) -> None:
    """Meet the 500 refusal of json_schema once, move to json_object + schema, and count real usage."""
    home = inventory.from_file(STUDIO)
    state = physics.initial_state(home)
    client = ModelClient(_settings(proxy.base_url, max_retries=2))
    planner = Planner(home, client, state=lambda: state)
    result = await planner.plan("make the studio cozy for reading")
    await client.close()
    # No retry spent on the refusal, though two were allowed; the mode is remembered.
    assert proxy.seen[0] == ("json_schema", False, 500)
    assert proxy.formats().count("json_schema") == 1
    assert all(kind == "json_object" and schema for kind, schema, _ in proxy.seen[1:])
    assert client.mode is Mode.JSON_OBJECT_SCHEMA
    assert result.kind in KINDS
    call = result.calls[0]
    assert call.mode == "json_object+schema"
    assert (call.prompt_tokens or 0) > 100  # the real tokenizer's count
    assert 0 < (call.completion_tokens or 0) <= BOUNDS["max_tokens_plan"]
    assert call.latency_ms > 0


async def test_a_timed_out_call_is_not_sent_again_and_the_deadline_holds(proxy: Proxy) -> None:
    """Give up on a call after its timeout without re-sending it, and stop at the request's deadline."""
    home = inventory.from_file(STUDIO)
    messages = [
        {"role": "system", "content": "Describe every device of this home in detail.\n" + home.home.name},
        {"role": "user", "content": "Write a long essay about lamps."},
    ]
    modes = {proxy.base_url: Mode.JSON_OBJECT_SCHEMA}
    schema = {"type": "object", "properties": {"essay": {"type": "string"}}, "required": ["essay"]}
    # 64 tokens cannot come back within 0.05 s; few enough that the abandoned call ends soon.
    client = ModelClient(_settings(proxy.base_url, timeout=0.05, max_retries=2, max_tokens_plan=64), modes=modes)
    log = CallLog.starting_now(4, 90.0)
    with pytest.raises(CallTimeout):
        await client.complete(messages, name="essay", schema=schema, purpose="plan", log=log)
    await client.close()
    assert log.limit_hit == "call_timeout"

    client = ModelClient(_settings(proxy.base_url, timeout=60.0, max_retries=2, max_tokens_plan=64), modes=modes)
    log = CallLog.starting_now(4, 0.05)
    with pytest.raises(DeadlineExceeded):
        await client.complete(messages, name="essay", schema=schema, purpose="plan", log=log)
    with pytest.raises(DeadlineExceeded):
        await client.complete(messages, name="essay", schema=schema, purpose="plan", log=log)
    await client.close()
    assert log.limit_hit == "deadline"
    assert proxy.arrived == 2  # one request per call that was sent: no re-sends, nothing after the deadline
    assert [record.attempts for record in log.records] == [1, 0]


def _check_command(rig: Rig, message: Incoming) -> str | None:
    """Return what is wrong with a device command seen on the broker (None: a valid command)."""
    for device in rig.home.devices.values():
        adapter = adapter_for(device)
        if message.topic in adapter.command_topics(device):
            values = adapter.decode_command(device, message.topic, message.payload)
            checked = validate(rig.home, device.id, values)
            return None if checked.ok else f"{device.id}: {[p.message for p in checked.problems]}"
    if message.topic.endswith("/set") or message.topic.startswith("cmnd/"):
        return f"a command for no device: {message.topic}"
    return None


async def test_goals_over_the_api_never_publish_anything_invalid(rig: Rig, tiny_model: TinyModelServer) -> None:
    """Serve model goals and an explicit command over MQTT; check every command on the broker and sensitive devices."""
    sensitive = [d.id for d in rig.home.devices.values() if d.sensitive]
    before = {d: rig.simulator.values(d) for d in sensitive}
    wire: list[Incoming] = []
    client = ModelClient(_settings(tiny_model.base_url))
    planner = Planner(rig.home, client, state=rig.mirror.snapshot)
    daemon = Daemon(Assistant(rig.home, rig.executor, planner), rig.link, options=DaemonOptions(open=True))
    stop = asyncio.Event()
    async with fast(MqttSettings.from_url(rig.broker.url)) as spy:
        await spy.subscribe(["#"], wire.append)
        await spy.wait_connected(5)
        task = asyncio.create_task(daemon.serve(stop))
        await asyncio.sleep(0.3)  # let the subscriptions reach the broker
        try:
            replies = []
            for text in (
                "open up the hallway and the garage for the guests",
                "make the living room cozy",
                "turn on the kitchen light",
            ):
                reply, _ = await request(rig.broker.url, json.dumps({"text": text}), timeout=200)
                replies.append(reply)
        finally:
            stop.set()
            await task
            await client.close()
        await asyncio.sleep(0.3)  # let in-flight messages land
    assert all(r["status"] in STATUSES for r in replies), replies
    assert replies[-1]["status"] == "done"  # the daemon kept serving after the model's goals
    assert [problem for m in wire if (problem := _check_command(rig, m))] == []
    # Without a yes (none came), a sensitive device may only be moved towards safety (lock, close,
    # off, arm): every command that reached one is such a move, and so is whatever changed.
    for device in (rig.home.devices[d] for d in sensitive):
        adapter = adapter_for(device)
        for message in wire:
            if message.topic in adapter.command_topics(device):
                values = adapter.decode_command(device, message.topic, message.payload)
                assert safe_direction(device, values), (device.id, values)
        after = rig.simulator.values(device.id)
        changed = {name: value for name, value in after.items() if before[device.id].get(name) != value}
        assert not changed or safe_direction(device, changed), (device.id, changed)
    assert all(r["usage"]["latency_ms"] > 0 for r in replies[:2] if r["usage"]["model_calls"])


async def test_the_scenario_suite_runs_live_to_its_report(tiny_model: TinyModelServer, tmp_path: Path) -> None:
    """Run the studio scenarios (eight goals) with `sasha scenario run --live` and get the whole report."""
    report = tmp_path / "report.json"
    env = clean_env(OPENAI_BASE_URL=tiny_model.base_url, SASHA_MODEL=tiny_model.model)
    args = ["scenario", "run", str(ROOT / "tests" / "scenarios" / "studio"), "--live", "--json", str(report)]
    args += ["--max-tokens-plan", "128", "--max-tokens-repair", "128", "--model-deadline", "45"]
    code, out, err = await run_sasha(*args, env=env)
    assert code in (0, 1), err  # 1: some scenario failed, which a 135M model may well do
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["live"] is True
    assert len(data["scenarios"]) == 5
    assert sum(s["steps"] for s in data["scenarios"]) >= 5
    assert "scenarios passed" in out
