"""The planner through the real openai SDK against the scripted server, down to the devices."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import openai
import pytest

from sasha.executor import Result
from sasha.mqtt.connection import Incoming, MqttSettings
from sasha.mqtt.mosquitto import free_port
from sasha.planning.llm.client import ModelClient, ModelSettings
from sasha.planning.llm.scripted import ScriptedModel
from sasha.planning.planner import NO_MODEL, Planner
from tests.conftest import EXAMPLE, Rig, clean_env, fast, model_settings, run_sasha


@dataclass
class Bench:
    """A planner on the simulated home, talking to the scripted model."""

    rig: Rig
    model: ScriptedModel
    planner: Planner
    client: ModelClient
    wire: list[Incoming]

    async def commands(self) -> list[str]:
        """Return the topics of every device command that crossed the broker so far."""
        await asyncio.sleep(0.2)  # let in-flight messages land
        return [m.topic for m in self.wire if m.topic.endswith("/set") or m.topic.startswith("cmnd/")]

    async def run(self, text: str, conversation: str = "default") -> tuple[Any, list[Any]]:
        """Plan, execute what came out, and return both."""
        result = await self.planner.plan(text, conversation)
        outcomes = await self.rig.executor.execute(list(result.actions)) if result.actions else []
        return result, outcomes

    def system_prompt(self, call: int = -1) -> str:
        """Return the system prompt of one recorded request."""
        return str(self.model.requests[call]["messages"][0]["content"])

    def live(self, call: int = -1) -> str:
        """Return the live message (time, values, conversation, request) of one recorded request."""
        return str(self.model.requests[call]["messages"][1]["content"])


async def _bench(rig: Rig, scripted: ScriptedModel, **settings: Any) -> AsyncIterator[Bench]:
    client = ModelClient(model_settings(scripted, **settings))
    planner = Planner(rig.home, client, state=rig.mirror.snapshot)
    wire: list[Incoming] = []
    # Everything that crosses the broker from now on, to check what reached the devices.
    async with fast(MqttSettings.from_url(rig.broker.url)) as spy:
        await spy.subscribe(["#"], wire.append)
        await spy.wait_connected(5)
        await asyncio.sleep(0.2)
        wire.clear()
        try:
            yield Bench(rig, scripted, planner, client, wire)
        finally:
            await client.close()


@pytest.fixture
async def bench(rig: Rig, scripted: ScriptedModel) -> AsyncIterator[Bench]:
    """Wire a planner to the rig and the scripted model."""
    async for value in _bench(rig, scripted):
        yield value


def plan(*actions: tuple[str, dict[str, Any]], message: str = "ok") -> dict[str, Any]:
    """Build a scripted plan answer."""
    return {
        "kind": "plan",
        "message": message,
        "actions": [{"device": d, "set": s, "reason": "test"} for d, s in actions],
        "routine": None,
    }


COZY = plan(
    ("living_room_lamp", {"power": "on", "brightness": 30, "color_temp": 2700}),
    ("living_room_ceiling", {"power": "off"}),
    ("living_room_thermostat", {"target_temperature": 21.5}),
    message="Warm, dim light and a comfortable 21.5 °C.",
)


async def test_goal_becomes_a_plan_that_reaches_the_devices(bench: Bench) -> None:
    """Turn "make it cozy" into valid actions that the simulated devices then report."""
    bench.model.add(COZY)
    result, outcomes = await bench.run("make it cozy")
    assert result.kind == "plan"
    assert result.message.startswith("Warm, dim light")
    assert [o.result for o in outcomes] == [Result.PUBLISHED] * 3
    mirror = bench.rig.mirror
    assert await mirror.wait_for("living_room_lamp", {"power": "on", "brightness": 30, "color_temp": 2700}, timeout=5)
    assert await mirror.wait_for("living_room_thermostat", {"target_temperature": 21.5}, timeout=5)
    # One structured call, with the home, its current state and the decision schema.
    [request] = bench.model.requests
    assert request["model"] == "scripted"
    assert request["response_format"]["type"] == "json_schema"
    assert request["response_format"]["json_schema"]["name"] == "sasha_decision"
    schema = request["response_format"]["json_schema"]["schema"]
    device_enum = schema["properties"]["actions"]["items"]["properties"]["device"]["enum"]
    assert "living_room_lamp" in device_enum
    assert "bathroom_humidity" not in device_enum  # a sensor cannot be an action target
    assert "humidity" not in schema["properties"]["actions"]["items"]["properties"]["set"]["properties"]
    assert "living_room_lamp | Living room lamp" in bench.system_prompt()
    assert "power (on/off)" in bench.system_prompt()
    assert "living_room_lamp: power=off" in bench.live()
    assert request["messages"][-1]["content"].rstrip().endswith("Request: make it cozy")
    assert result.calls[0].prompt_tokens is not None
    assert result.tokens > 0
    assert result.calls[0].latency_ms > 0


async def test_clarify_round_trip(bench: Bench) -> None:
    """Ask which room, then read the answer with the question in context."""
    bench.model.add(
        {"kind": "clarify", "message": "Which room should I make cozy?", "actions": [], "routine": None},
        plan(("bedroom_light", {"power": "on", "brightness": 25}), message="Dimmed the bedroom."),
    )
    first, outcomes = await bench.run("make it cozy", "c1")
    assert (first.kind, first.message, outcomes) == ("clarify", "Which room should I make cozy?", [])
    second, outcomes = await bench.run("the bedroom", "c1")
    assert second.kind == "plan"
    assert [o.action.device for o in outcomes] == ["bedroom_light"]
    messages = bench.model.requests[1]["messages"]
    # The conversation is in the live message, after the stable system prompt, before the request.
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "User: make it cozy\nYou: " in messages[1]["content"]
    assert "Which room should I make cozy?" in messages[1]["content"]
    assert messages[1]["content"].rstrip().endswith("Request: the bedroom")
    # Another conversation does not see this one.
    bench.model.add({"kind": "answer", "message": "Hello", "actions": [], "routine": None})
    await bench.run("hi", "c2")
    assert "Earlier in this conversation" not in bench.live(2)


async def test_feedback_revises_the_plan(bench: Bench) -> None:
    """Revise a plan after "too bright", with the previous plan in context."""
    bench.model.add(
        plan(("living_room_lamp", {"power": "on", "brightness": 90}), message="Lamp on, bright."),
        plan(("living_room_lamp", {"brightness": 35}), message="Dimmer now."),
    )
    await bench.run("I want to read", "f")
    assert await bench.rig.mirror.wait_for("living_room_lamp", {"brightness": 90}, timeout=5)
    result, _ = await bench.run("too bright", "f")
    assert result.message == "Dimmer now."
    assert await bench.rig.mirror.wait_for("living_room_lamp", {"brightness": 35}, timeout=5)
    assert '"brightness":90' in bench.live(1)
    # The prompt of the second call shows the state the first plan produced.
    assert "living_room_lamp: power=on, brightness=90" in bench.live(1)


async def test_answers_come_from_sensor_values(bench: Bench) -> None:
    """Put the mirror's sensor readings in the prompt so answers use real values."""
    bench.rig.simulator.set_values("bedroom_climate", {"temperature": 23.5, "humidity": 40})
    assert await bench.rig.mirror.wait_for("bedroom_climate", {"temperature": 23.5}, timeout=5)
    bench.model.add({"kind": "answer", "message": "Yes, 23.5 °C.", "actions": [], "routine": None})
    result, outcomes = await bench.run("is it warm in the bedroom?")
    assert (result.kind, outcomes) == ("answer", [])
    assert "bedroom_climate: temperature=23.5" in bench.live()


async def test_infeasible_request(bench: Bench) -> None:
    """Say what is missing and touch nothing."""
    bench.model.add({"kind": "infeasible", "message": "There is no coffee machine.", "actions": [], "routine": None})
    result, outcomes = await bench.run("make me a coffee")
    assert (result.kind, result.actions, outcomes) == ("infeasible", (), [])
    assert "coffee" in result.message
    assert await bench.commands() == []


BAD_ACTIONS = [
    ("unknown device", ("coffee_machine", {"power": "on"}), "no device 'coffee_machine'"),
    ("unknown capability", ("living_room_lamp", {"color": "red"}), "has no capability 'color'"),
    ("read-only capability", ("bathroom_humidity", {"humidity": 40}), "sensor reading"),
    ("out of range", ("living_room_lamp", {"brightness": 400}), "between 1 and 100%"),
]


@pytest.mark.parametrize(("bad", "problem"), [c[1:] for c in BAD_ACTIONS], ids=[c[0] for c in BAD_ACTIONS])
async def test_bad_action_is_repaired_in_one_call(bench: Bench, bad: tuple[str, dict[str, Any]], problem: str) -> None:
    """Send the problem back once; a fixed answer then runs, and only it."""
    bench.model.add(plan(bad, ("office_light", {"power": "on"})), plan(("office_light", {"power": "on"})))
    result, outcomes = await bench.run("do it")
    assert bench.model.calls == 2
    assert [c.purpose for c in result.calls] == ["plan", "repair"]
    repair = bench.model.requests[1]["messages"]
    assert [m["role"] for m in repair] == ["system", "user", "assistant", "user"]
    assert problem in repair[-1]["content"]
    assert [(o.action.device, o.result) for o in outcomes] == [("office_light", Result.PUBLISHED)]
    assert result.dropped == ()
    assert await bench.commands() == ["sasha-demo/office_light/set"]


@pytest.mark.parametrize(("bad", "problem"), [c[1:] for c in BAD_ACTIONS], ids=[c[0] for c in BAD_ACTIONS])
async def test_still_bad_after_repair_is_dropped_and_reported(
    bench: Bench, bad: tuple[str, dict[str, Any]], problem: str
) -> None:
    """Drop what is still invalid after the one repair, report it, and never loop."""
    bench.model.add(
        plan(bad, ("office_light", {"power": "on"})),
        plan(bad, ("office_light", {"power": "on"})),
        plan(("garage_light", {"power": "on"})),  # must never be asked for
    )
    result, outcomes = await bench.run("do it")
    assert bench.model.calls == 2
    assert len(bench.model.answers) == 1
    assert [o.action.device for o in outcomes] == ["office_light"]
    assert any(problem in d for d in result.dropped)
    assert await bench.commands() == ["sasha-demo/office_light/set"]


async def test_only_invalid_actions_make_an_infeasible_reply(bench: Bench) -> None:
    """Call a plan whose every action was dropped infeasible, with the reasons, and run nothing."""
    bench.model.add(plan(("coffee_machine", {"power": "on"})), plan(("coffee_machine", {"power": "on"})))
    result, outcomes = await bench.run("coffee please")
    assert result.kind == "infeasible"
    assert "no device 'coffee_machine'" in result.message
    assert outcomes == []
    assert await bench.commands() == []


DESK_ON = '{"kind":"plan","message":"m","actions":[{"device":"office_light","set":{"power":"on"},"reason":"r"}]}'


@pytest.mark.parametrize(
    "raw",
    [f"```json\n{DESK_ON}\n```", f"Sure! Here is my plan: {DESK_ON} Enjoy."],
    ids=["fenced", "prose around"],
)
async def test_json_in_a_fence_or_prose_is_read_in_one_call(bench: Bench, raw: str) -> None:
    """Read JSON inside a ```json fence or surrounded by prose without a repair."""
    bench.model.add({"raw": raw})
    result, outcomes = await bench.run("desk light on")
    assert bench.model.calls == 1
    assert [o.action.device for o in outcomes] == ["office_light"]
    assert result.kind == "plan"
    assert await bench.commands() == ["sasha-demo/office_light/set"]


@pytest.mark.parametrize(
    "raw", ['{"kind": "plan", "actions": [', "", "I would turn on the lights.", '{"kind": "party"}']
)
async def test_unreadable_answer_is_repaired(bench: Bench, raw: str) -> None:
    """Send a malformed, empty or prose-only answer back once for repair."""
    bench.model.add({"raw": raw}, plan(("office_light", {"power": "on"})))
    _, outcomes = await bench.run("desk light on")
    assert bench.model.calls == 2
    assert "could not be used" in bench.model.requests[1]["messages"][-1]["content"]
    assert [o.action.device for o in outcomes] == ["office_light"]
    assert await bench.commands() == ["sasha-demo/office_light/set"]


async def test_unreadable_twice_is_an_error_and_runs_nothing(bench: Bench) -> None:
    """Give up after one repair of an unreadable answer."""
    bench.model.add({"raw": "{not json"}, {"raw": "still not json"}, plan(("office_light", {"power": "on"})))
    result, outcomes = await bench.run("desk light on")
    assert (result.kind, outcomes, bench.model.calls) == ("error", [], 2)
    assert "could not be used" in result.message
    assert await bench.commands() == []


async def test_rate_limit_then_success(bench: Bench) -> None:
    """Retry a 429 (the SDK's backoff) and go on with the answer."""
    bench.model.add({"http_error": 429}, plan(("office_light", {"power": "on"})))
    result, outcomes = await bench.run("desk light on")
    assert result.kind == "plan"
    assert bench.model.calls == 2
    assert [o.result for o in outcomes] == [Result.PUBLISHED]
    assert await bench.commands() == ["sasha-demo/office_light/set"]


async def test_server_error_every_time(bench: Bench, caplog: pytest.LogCaptureFixture) -> None:
    """Report a model that fails every retry, and touch nothing."""
    caplog.set_level(logging.DEBUG)
    bench.model.add(*[{"http_error": 500, "message_text": "boom sk-test-secret-0123456789"}] * 3)
    result, outcomes = await bench.run("make it cozy")
    assert (result.kind, outcomes) == ("error", [])
    assert "HTTP 500" in result.message
    assert bench.model.calls == 3  # the first try and max_retries=2
    assert result.calls[0].error
    assert "sk-test-secret" not in result.message
    assert "sk-test-secret" not in caplog.text
    assert await bench.commands() == []


async def test_timeout(rig: Rig, scripted: ScriptedModel) -> None:
    """Give up on a model that does not answer in time, do not send the call again, and touch nothing."""
    async for bench in _bench(rig, scripted, timeout=0.3, max_retries=2):
        bench.model.add({"delay": 2, **plan(("office_light", {"power": "on"}))})
        result, outcomes = await bench.run("desk light on")
        assert (result.kind, outcomes) == ("error", [])
        assert "did not answer within 0.3 s" in result.message
        assert result.limit == "call_timeout"
        assert bench.model.calls == 1  # retries are for 429, 5xx and the network, never a timeout
        assert await bench.commands() == []


async def test_the_deadline_holds_across_the_calls_of_a_request(rig: Rig, scripted: ScriptedModel) -> None:
    """Cut the repair call to what is left of the request's deadline, and keep the valid part of the plan."""
    async for bench in _bench(rig, scripted, timeout=10.0, deadline=2.0):
        bad = ("coffee_machine", {"power": "on"})
        bench.model.add(
            {"delay": 0.2, **plan(bad, ("office_light", {"power": "on"}))},
            {"delay": 5, **plan(("office_light", {"power": "on"}))},
        )
        result, outcomes = await bench.run("desk light on")
        assert result.limit == "deadline"
        assert [c.purpose for c in result.calls] == ["plan", "repair"]
        assert "deadline" in (result.calls[1].error or "")
        assert bench.model.calls == 2
        assert [o.action.device for o in outcomes] == ["office_light"]
        assert "no device 'coffee_machine'" in result.dropped[0]


async def test_a_request_past_its_deadline_says_so(rig: Rig, scripted: ScriptedModel) -> None:
    """Answer `error` naming the deadline when the first call uses up the whole budget."""
    async for bench in _bench(rig, scripted, timeout=5.0, deadline=0.3):
        bench.model.add({"delay": 2, **plan(("office_light", {"power": "on"}))})
        result, outcomes = await bench.run("desk light on")
        assert (result.kind, outcomes, result.limit) == ("error", [], "deadline")
        assert "0.3 s deadline" in result.message
        assert await bench.commands() == []


async def test_json_schema_rejection_falls_back_and_is_remembered(rig: Rig) -> None:
    """Fall back to json_object with the schema attached when json_schema is refused, and keep using it."""
    async with ScriptedModel(rejects=["json_schema"]) as server:
        async for bench in _bench(rig, server):
            server.add(plan(("office_light", {"power": "on"})), plan(("office_light", {"power": "off"})))
            result, _ = await bench.run("desk light on")
            assert result.kind == "plan"
            assert server.rejected == 1
            response_format = server.requests[0]["response_format"]
            assert response_format["type"] == "json_object"
            assert (
                "office_light"
                in response_format["schema"]["properties"]["actions"]["items"]["properties"]["device"]["enum"]
            )
            await bench.run("desk light off")
            assert server.rejected == 1
            assert bench.client.mode == "json_object+schema"


async def test_plain_prompting_when_no_structured_mode_is_accepted(rig: Rig) -> None:
    """Fall back to plain prompting when every structured mode is refused."""
    async with ScriptedModel(rejects=["json_schema", "json_object"]) as server:
        async for bench in _bench(rig, server):
            server.add({"raw": "Here you go:\n" + json.dumps(plan(("office_light", {"power": "on"})))})
            result, outcomes = await bench.run("desk light on")
            assert server.rejected == 3  # json_schema, json_object with the schema, json_object
            assert "response_format" not in server.requests[0]
            assert "exactly one JSON object" in server.requests[0]["messages"][0]["content"]
            assert [o.action.device for o in outcomes] == ["office_light"]
            assert result.calls[0].mode == "plain"


async def test_no_model_configured(rig: Rig) -> None:
    """Say clearly that no model is configured and how to configure one."""
    planner = Planner(rig.home, None, state=rig.mirror.snapshot)
    result = await planner.plan("make it cozy")
    assert (result.kind, result.message) == ("error", NO_MODEL)
    assert "OPENAI_BASE_URL" in result.message


async def test_plan_command_end_to_end(rig: Rig, scripted: ScriptedModel) -> None:
    """Run `sasha plan` against a broker and a model given the SDK's way, and print JSON."""
    scripted.add(COZY)
    env = clean_env(OPENAI_BASE_URL=scripted.base_url, OPENAI_API_KEY="sk-x", SASHA_MODEL="local-model")
    args = ("plan", "make it cozy", "--json", "--mqtt-url", rig.broker.url, "--devices", str(EXAMPLE))
    code, out, err = await run_sasha(*args, env=env)
    assert code == 0, err
    reply = json.loads(out)
    assert reply["status"] == "plan"
    assert [a["device"] for a in reply["actions"]] == [
        "living_room_lamp",
        "living_room_ceiling",
        "living_room_thermostat",
    ]
    assert reply["model_calls"][0]["purpose"] == "plan"
    assert reply["model_calls"][0]["prompt_tokens"] > 0
    [request] = scripted.requests
    assert request["model"] == "local-model"
    assert "hvac_mode=heat" in request["messages"][1]["content"]  # state read from the broker
    # Nothing was executed: the simulated lamp is still off.
    assert rig.simulator.values("living_room_lamp")["power"] == "off"


async def test_plan_command_without_a_model() -> None:
    """Say how to configure a model, and exit 2, when none is configured."""
    args = ("plan", "make it cozy", "--devices", str(EXAMPLE), "--mqtt-url", f"mqtt://127.0.0.1:{free_port()}")
    code, out, _ = await run_sasha(*args)
    assert code == 2
    assert "OPENAI_BASE_URL" in out


def test_model_settings_follow_the_sdk_conventions() -> None:
    """Read OPENAI_API_KEY, OPENAI_BASE_URL and SASHA_MODEL; none of them means no model."""
    assert ModelSettings.from_environment({}) is None
    local = ModelSettings.from_environment({"OPENAI_BASE_URL": "http://localhost:11434/v1", "SASHA_MODEL": "qwen2.5"})
    assert local is not None
    assert (local.base_url, local.api_key, local.model) == ("http://localhost:11434/v1", None, "qwen2.5")
    hosted = ModelSettings.from_environment({"OPENAI_API_KEY": "sk-secret-value"}, timeout=12.0)
    assert hosted is not None
    assert hosted.timeout == 12.0
    assert "sk-secret-value" not in repr(hosted)


async def test_a_refused_key_is_reported_without_the_key(rig: Rig, scripted: ScriptedModel) -> None:
    """Explain a 401 without echoing the key the server quotes back."""
    scripted.add({"http_error": 401, "message_text": "Incorrect API key provided: sk-test-secret-0123456789"})
    async for bench in _bench(rig, scripted):
        result, _ = await bench.run("hello")
        assert result.kind == "error"
        assert "check OPENAI_API_KEY" in result.message
        assert "sk-test-secret" not in result.message


async def test_the_call_cap_stops_the_repair(rig: Rig, scripted: ScriptedModel) -> None:
    """Skip the repair round when the request may make only one call, and drop the bad action."""
    async for bench in _bench(rig, scripted, max_calls=1):
        bench.model.add(plan(("coffee_machine", {"power": "on"}), ("office_light", {"power": "on"})))
        result, outcomes = await bench.run("do it")
        assert bench.model.calls == 1
        assert [o.action.device for o in outcomes] == ["office_light"]
        assert "no device 'coffee_machine'" in result.dropped[0]
        assert result.limit == "call_cap"


async def test_models_endpoint(scripted: ScriptedModel) -> None:
    """List the scripted model through the SDK, as clients probe servers."""
    client = openai.AsyncOpenAI(base_url=scripted.base_url, api_key="x")
    models = await client.models.list()
    assert [m.id for m in models.data] == ["scripted"]
    await client.close()


async def test_a_chat_keeps_the_stable_start_and_grows_the_conversation(bench: Bench) -> None:
    """Over three turns, send the same system message and each earlier turn once more, in order."""
    for message in ("Lamp on.", "Dimmer.", "Warmer."):
        bench.model.add({"kind": "answer", "message": message, "actions": [], "routine": None})
    for text in ("I want to read", "too bright", "a bit warmer"):
        await bench.run(text, "chat")
    systems = {bench.system_prompt(i) for i in range(3)}
    assert len(systems) == 1
    third = bench.live(2)
    assert third.index("User: I want to read") < third.index("User: too bright") < third.index("Request: a bit warmer")
    assert "Dimmer." in third
