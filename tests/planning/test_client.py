"""The model client against the scripted server: output modes, refusals, retries, bounds and the deadline."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import pytest

from sasha.planning.llm.client import (
    CallLimitReached,
    CallLog,
    CallTimeout,
    DeadlineExceeded,
    Mode,
    ModelClient,
    ModelUnavailable,
)
from sasha.planning.llm.schema import decision_schema
from sasha.planning.llm.scripted import ScriptedModel, estimate_tokens
from tests.conftest import EXAMPLE, ROOT, model_settings

ANSWER = {"kind": "answer", "message": "ok", "actions": [], "routine": None}
SCHEMA: dict[str, Any] = {"type": "object", "properties": {"kind": {"type": "string"}}, "required": ["kind"]}
MESSAGES = [{"role": "system", "content": "You plan."}, {"role": "user", "content": "make it cozy"}]


async def _ask(client: ModelClient, log: CallLog | None = None, purpose: str = "plan") -> str:
    return await client.complete(MESSAGES, name="sasha_decision", schema=SCHEMA, purpose=purpose, log=log or CallLog(4))


@pytest.mark.parametrize("status", [400, 422, 500])
async def test_a_refusal_at_any_status_falls_back_to_json_object_with_the_schema(status: int) -> None:
    """Recognise a refused json_schema by what the server says, at any status, and spend no retry on it."""
    async with ScriptedModel([ANSWER], rejects=["json_schema"], reject_status=status) as server:
        client = ModelClient(model_settings(server, max_retries=2))
        log = CallLog(4)
        assert await _ask(client, log) != ""
        await client.close()
    assert [r["response_format"]["type"] for r in server.refused] == ["json_schema"]
    assert server.requests[0]["response_format"] == {"type": "json_object", "schema": SCHEMA}
    assert client.mode is Mode.JSON_OBJECT_SCHEMA
    [record] = log.records
    assert (record.mode, record.attempts, record.error) == ("json_object+schema", 2, None)


async def test_modes_step_down_to_plain_and_are_remembered_per_server() -> None:
    """Walk json_schema → json_object+schema → json_object → plain once; clients sharing the memory skip the walk."""
    modes: dict[str, Mode] = {}
    async with ScriptedModel([ANSWER, ANSWER], rejects=["json_schema", "json_object"], reject_status=500) as server:
        first = ModelClient(model_settings(server), modes=modes)
        await _ask(first)
        second = ModelClient(model_settings(server), modes=modes)
        await _ask(second)
        await first.close()
        await second.close()
    assert [r["response_format"] for r in server.refused] == [
        {"type": "json_schema", "json_schema": {"name": "sasha_decision", "schema": SCHEMA, "strict": False}},
        {"type": "json_object", "schema": SCHEMA},
        {"type": "json_object"},
    ]
    assert ["response_format" in r for r in server.requests] == [False, False]
    assert modes == {server.base_url: Mode.PLAIN}


async def test_a_server_error_that_is_not_a_refusal_is_retried_in_the_same_mode() -> None:
    """Retry a plain 500 (it says nothing about the format) and keep json_schema."""
    failing = {"http_error": 500, "message_text": "CUDA out of memory"}
    async with ScriptedModel([failing, failing, ANSWER]) as server:
        client = ModelClient(model_settings(server, max_retries=2))
        log = CallLog(4)
        await _ask(client, log)
        await client.close()
    assert server.calls == 3
    assert [r["response_format"]["type"] for r in server.requests] == ["json_schema"] * 3
    assert log.records[0].attempts == 3


async def test_retries_are_bounded() -> None:
    """Give up after max_retries on a server that keeps failing, and say so."""
    async with ScriptedModel([{"http_error": 503}] * 5) as server:
        client = ModelClient(model_settings(server, max_retries=1))
        with pytest.raises(ModelUnavailable, match="HTTP 503"):
            await _ask(client)
        await client.close()
    assert server.calls == 2


async def test_a_timed_out_call_is_not_sent_again() -> None:
    """Raise CallTimeout after one request, although retries are allowed: the server is still busy with it."""
    async with ScriptedModel([{"delay": 2, **ANSWER}, ANSWER]) as server:
        client = ModelClient(model_settings(server, timeout=0.3, max_retries=2))
        log = CallLog(4)
        with pytest.raises(CallTimeout, match=r"within 0\.3 s"):
            await _ask(client, log)
        await client.close()
    assert server.calls == 1
    assert log.limit_hit == "call_timeout"
    assert len(server.answers) == 1


async def test_the_deadline_cuts_a_call_short() -> None:
    """Cut a call's timeout to what is left of the request's deadline, and name the deadline."""
    async with ScriptedModel([{"delay": 3, **ANSWER}]) as server:
        client = ModelClient(model_settings(server, timeout=10.0))
        log = CallLog.starting_now(4, 0.3)
        with pytest.raises(DeadlineExceeded, match=r"0\.3 s deadline"):
            await _ask(client, log)
        with pytest.raises(DeadlineExceeded):
            await _ask(client, log)  # nothing left: not even sent
        await client.close()
    assert server.calls == 1
    assert log.limit_hit == "deadline"


async def test_the_call_cap_is_named() -> None:
    """Refuse a call past the cap without sending it, and record which limit was hit."""
    async with ScriptedModel([ANSWER]) as server:
        client = ModelClient(model_settings(server))
        log = CallLog(1)
        await _ask(client, log)
        with pytest.raises(CallLimitReached):
            await _ask(client, log)
        await client.close()
    assert (server.calls, log.limit_hit) == (1, "call_cap")


async def test_max_tokens_per_kind_of_call() -> None:
    """Bound each call's completion tokens by its kind, with the settings' values."""
    async with ScriptedModel([ANSWER] * 4) as server:
        client = ModelClient(model_settings(server, max_tokens_plan=123))
        for purpose in ("plan", "repair", "select", "rooms"):
            await _ask(client, purpose=purpose)
        await client.close()
    assert [r["max_tokens"] for r in server.requests] == [123, 600, 300, 120]


async def test_usage_comes_from_the_server() -> None:
    """Record the server's token counts, which the scripted server estimates per word piece."""
    async with ScriptedModel([ANSWER]) as server:
        client = ModelClient(model_settings(server))
        log = CallLog(4)
        content = await _ask(client, log)
        await client.close()
    prompt = sum(estimate_tokens(m["content"]) for m in MESSAGES)
    assert (log.records[0].prompt_tokens, log.records[0].completion_tokens) == (prompt, estimate_tokens(content))


def test_token_estimate() -> None:
    """Count runs of letters, digits and punctuation marks as tokens."""
    assert estimate_tokens("") == 0
    assert estimate_tokens("living_room_lamp | power=on (1-100%)") == 17


def test_the_decision_schema_bounds_what_the_model_writes() -> None:
    """Bound the message and reasons (maxLength) and the number of actions (maxItems) in the schema itself."""
    from sasha.home import inventory

    schema = decision_schema(list(inventory.from_file(EXAMPLE).devices.values()))
    properties = schema["properties"]
    assert properties["message"]["maxLength"] > 0
    assert properties["actions"]["maxItems"] > 0
    assert properties["actions"]["items"]["properties"]["reason"]["maxLength"] > 0


@pytest.mark.parametrize("reports", ["openai", "llama.cpp", None])
async def test_cached_tokens_are_recorded_as_the_server_reports_them(reports: str | None) -> None:
    """Read the prefix cache from `prompt_tokens_details` (OpenAI) or `timings.cache_n` (llama.cpp), through the SDK."""
    async with ScriptedModel([ANSWER, ANSWER], reports_cache=reports) as server:
        client = ModelClient(model_settings(server))
        log = CallLog(4)
        await _ask(client, log)
        second = [MESSAGES[0], {"role": "user", "content": "too bright"}]
        await client.complete(second, name="sasha_decision", schema=SCHEMA, purpose="plan", log=log)
        await client.close()
    first, again = log.records
    if reports is None:
        assert (first.cached_tokens, again.cached_tokens) == (None, None)
        return
    shared = "<system>You plan.\n<user>"
    assert (first.cached_tokens, again.cached_tokens) == (0, estimate_tokens(shared))
    assert again.to_json()["cached_tokens"] == estimate_tokens(shared)


def test_the_daemon_does_not_import_the_sdk_before_it_is_online() -> None:
    """Import what `sasha run` imports without `openai`: 0.4 s that `ModelClient.warm` spends in a thread later."""
    code = "import sys, sasha.surfaces.cli, sasha.surfaces.daemon; print('openai' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.strip() == "False"


async def test_the_sdk_client_is_built_once_when_first_needed() -> None:
    """Build the SDK's client at the first call or warm-up, once, however many threads ask at the same time."""
    async with ScriptedModel() as server:
        client = ModelClient(model_settings(server))
        await client.close()  # nothing built yet: nothing to close
        built = await asyncio.gather(*(asyncio.to_thread(lambda: client._client) for _ in range(4)))
        assert all(b is built[0] for b in built)
        server.add({"kind": "answer", "message": "hi", "actions": []})
        assert '"hi"' in await _ask(client)
        assert client._client is built[0]
        await client.close()
