"""`sasha plan`: ask the model what it would do about one request, and show it."""

from __future__ import annotations

import json
import logging

from rich.console import Console

from sasha import render
from sasha.config import Settings
from sasha.inventory import Inventory
from sasha.llm.client import ModelClient
from sasha.mqtt import MqttConnection
from sasha.planner import NO_MODEL
from sasha.runtime import make_planner
from sasha.state import StateMirror

_LOGGER = logging.getLogger(__name__)
# Retained states arrive right after subscribing; this is long enough on a LAN.
_STATE_WAIT = 2.0


async def read_state(home: Inventory, settings: Settings) -> StateMirror:
    """Collect the retained state of the home from the broker, briefly; empty if it is away."""
    mirror = StateMirror(home)
    async with MqttConnection(settings.mqtt(), reconnect_max=1.0) as link:
        await mirror.attach(link)
        try:
            await link.wait_connected(_STATE_WAIT)
        except TimeoutError:
            _LOGGER.warning("broker %s unreachable: planning without the current state", settings.mqtt().url)
            return mirror
        await mirror.wait_until(lambda: mirror.complete, _STATE_WAIT)
    return mirror


async def plan_once(home: Inventory, settings: Settings, text: str, *, as_json: bool, console: Console) -> int:
    """Plan one request against the home's current state; exit 0 when there is something to do."""
    model = settings.model_settings()
    if model is None:
        console.print(NO_MODEL, markup=False)
        return 2
    mirror = await read_state(home, settings)
    client = ModelClient(model)
    planner = make_planner(home, settings, client, mirror)
    try:
        with console.status("thinking…"):
            result = await planner.plan(text)
    finally:
        await client.close()
    if as_json:
        console.print_json(json.dumps(render.plan_json(result)))
    else:
        console.print(f"[bold]{result.kind}[/bold]: {result.message}")
        if result.actions:
            console.print(render.plan_table(home, result))
        for problem in result.dropped:
            console.print(f"  dropped: {problem}", markup=False)
        console.print(f"[dim]{render.calls_summary(result.calls)}[/dim]")
    return 1 if result.kind in ("error", "infeasible") else 0
