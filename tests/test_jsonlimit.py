"""Bounded JSON: deep nesting from the network or a model is refused, never a RecursionError."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

import aiomqtt
import pytest

from sasha import jsonlimit
from sasha.adapters import _convert, adapter_for
from sasha.errors import DecodeError
from sasha.home.actions import Action
from sasha.home.inventory import Inventory
from sasha.planning.decision import DecisionError, extract_json, parse_decision
from sasha.sim.simulator import CONTROL_ROOT
from sasha.surfaces import api
from tests.conftest import Rig

# 2,000 levels in a few kilobytes: far under every size limit, far over Python's recursion limit.
DEEP_LIST = "[" * 2000 + "]" * 2000
DEEP_OBJECT = '{"a":' * 2000 + "1" + "}" * 2000


def test_loads_refuses_deep_nesting_as_a_decode_error() -> None:
    """Raise JSONDecodeError (TooDeep) at the first bracket over the limit."""
    with pytest.raises(json.JSONDecodeError, match="nested deeper than 32 levels") as caught:
        jsonlimit.loads(DEEP_LIST)
    assert caught.value.pos == 32
    with pytest.raises(jsonlimit.TooDeep):
        jsonlimit.loads(DEEP_OBJECT.encode())


def test_loads_reads_what_json_reads() -> None:
    """Parse ordinary JSON, 32 levels, and brackets inside strings, as json.loads does."""
    assert jsonlimit.loads('{"a": [1, {"b": null}]}') == {"a": [1, {"b": None}]}
    assert jsonlimit.loads("[" * 32 + "]" * 32) == json.loads("[" * 32 + "]" * 32)
    brackets = json.dumps({"name": "[" * 100 + '\\"{' * 50})
    assert jsonlimit.loads(brackets) == json.loads(brackets)


@pytest.mark.parametrize("payload", [DEEP_OBJECT, '{"text": ' + DEEP_LIST + "}"])
def test_api_rejects_deep_requests_and_confirmations(payload: str) -> None:
    """Reject a deep request or confirmation as invalid JSON."""
    for parse in (api.parse_request, api.parse_confirm):
        rejection = parse(payload.encode())
        assert isinstance(rejection, api.Rejection)
        assert "nested deeper than 32 levels" in rejection.reason
    # Not an object, so a request reads it as words (too many of them); never an exception.
    assert isinstance(api.parse_request(DEEP_LIST.encode()), api.Rejection)
    assert "nested deeper" in str(api.parse_confirm(DEEP_LIST.encode()))


def test_device_payloads_refuse_deep_nesting(home: Inventory) -> None:
    """Raise DecodeError for a deep state payload, whatever the protocol."""
    with pytest.raises(DecodeError, match="nested deeper"):
        _convert.json_object(DEEP_OBJECT.encode())
    for device in home.devices.values():
        adapter = adapter_for(device)
        for topic in adapter.state_topics(device):
            # Refused is good; a plain-text topic may read the payload as a word.
            with contextlib.suppress(DecodeError):
                adapter.decode_state(device, topic, DEEP_OBJECT.encode())


def test_model_answers_refuse_deep_nesting() -> None:
    """Raise DecisionError for a deep answer, bare, fenced or with prose around it."""
    for answer in (DEEP_OBJECT, f"```json\n{DEEP_OBJECT}\n```", f"Here: {DEEP_LIST} and {{}}"):
        with pytest.raises(DecisionError, match="nested deeper than 32 levels"):
            extract_json(answer)
    with pytest.raises(DecisionError):
        parse_decision('{"kind": "plan", "actions": ' + DEEP_LIST + "}")


async def test_a_deep_state_payload_on_the_broker_is_dropped(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    """Keep the mirror and the simulator running when deep payloads arrive over a real mosquitto."""
    device = rig.home.devices["living_room_ceiling"]
    topic = adapter_for(device).state_topics(device)[0]
    before = rig.mirror.snapshot()["living_room_ceiling"]
    host, port = rig.broker.url.removeprefix("mqtt://").split(":")
    with caplog.at_level(logging.DEBUG):
        async with aiomqtt.Client(host, int(port)) as client:
            await client.publish(topic, DEEP_OBJECT.encode(), qos=1)
            await client.publish(f"{CONTROL_ROOT}/set/living_room_ceiling", DEEP_OBJECT.encode(), qos=1)
        await asyncio.sleep(0.3)
        # Then a real command still goes through both sides.
        wanted = "off" if before.get("power") == "on" else "on"
        [outcome] = await rig.executor.execute([Action("living_room_ceiling", {"power": wanted}, "test")])
        assert outcome.result == "published"
        assert await rig.mirror.wait_for("living_room_ceiling", {"power": wanted}, timeout=5)
    assert rig.simulator.state["living_room_ceiling"]["power"] == wanted
    assert "nested deeper" in caplog.text
    assert "RecursionError" not in caplog.text
    assert "Traceback" not in caplog.text
