"""When Sasha is offline, silent or never there, the agent says so, in time, and raises nothing."""

from __future__ import annotations

import time

from homeassistant.core import HomeAssistant
from homeassistant.helpers import intent

from .assist import converse, speech, wait_until
from .conftest import AddSasha
from .rig import Rig, Tap, retained


async def test_offline_sasha_is_reported_at_once(
    hass: HomeAssistant, rig: Rig, sasha: str, broker: int, add_sasha: AddSasha
) -> None:
    """A daemon on another topic root answers; once it is stopped, the agent says it is offline without waiting."""
    root = "home/sasha2"
    # Starting and stopping processes blocks; Home Assistant's loop must not.
    await hass.async_add_executor_job(rig.daemon, root)
    entry, agent = await add_sasha(root, timeout=30.0)
    await wait_until(lambda: agent.link.status == "online", f"{root}/status to say online")
    served = await converse(hass, entry.entry_id, "turn on the kitchen light")
    assert speech(served).startswith("Done"), speech(served)

    await hass.async_add_executor_job(rig.stop_daemon, root)
    await wait_until(lambda: agent.link.status == "offline", f"{root}/status to say offline")
    started = time.monotonic()
    result = await converse(hass, entry.entry_id, "turn off the kitchen light")

    assert time.monotonic() - started < 1.0
    assert result.response.response_type == intent.IntentResponseType.ERROR
    assert result.response.error_code == intent.IntentResponseErrorCode.FAILED_TO_HANDLE
    assert "offline" in speech(result)


async def test_silent_sasha_times_out(hass: HomeAssistant, broker: int, add_sasha: AddSasha) -> None:
    """Sasha says it is online but nobody answers: the agent speaks a timeout after the configured 2 s."""
    root = "test/silent"
    with retained(broker, f"{root}/status", "online"), Tap(broker, [f"{root}/request"]) as tap:
        entry, agent = await add_sasha(root, timeout=2.0)
        await wait_until(lambda: agent.link.status == "online", f"{root}/status to say online")
        started = time.monotonic()

        result = await converse(hass, entry.entry_id, "turn on the living room lamp")

        elapsed = time.monotonic() - started
        assert 2.0 <= elapsed < 3.0, elapsed
        assert result.response.response_type == intent.IntentResponseType.ERROR
        assert speech(result) == "Sasha did not answer within 2 seconds."
        # The request did go out: the silence is Sasha's.
        await tap.wait_for(f"{root}/request", lambda m: "turn on the living room lamp" in m.payload)


async def test_sasha_that_never_ran_times_out_with_a_hint(
    hass: HomeAssistant, broker: int, add_sasha: AddSasha
) -> None:
    """No daemon has ever served this root: the timeout says Sasha never reported in."""
    entry, _agent = await add_sasha("test/never", timeout=1.0)
    started = time.monotonic()

    result = await converse(hass, entry.entry_id, "hello")

    assert time.monotonic() - started < 2.0
    assert result.response.response_type == intent.IntentResponseType.ERROR
    assert "never reported in on test/never/status" in speech(result)
