"""Prompt characters per request for homes of 10 to 1,000 devices, through the real planner.

The baseline puts every device with its capabilities and state in one prompt (what Home
Assistant's LLM API does). Sasha's figure is the sum of every prompt the planner really sends
for the request — room and device selection calls included — measured on the real `openai`
SDK against the scripted model server, which plays a model that picks three rooms.

    .venv/bin/python bench/prompt_size.py
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from sasha.home.inventory import Inventory
from sasha.planning import prompts
from sasha.planning.llm.client import ModelClient, ModelSettings
from sasha.planning.llm.scripted import ScriptedModel
from sasha.planning.planner import Planner
from sasha.sim import physics, synthetic

LIMIT = 40
SIZES = (10, 50, 200, 1000)
NOW = datetime(2026, 11, 26, 21, 30)


def _answers(home: Inventory, vague: bool) -> list[dict[str, Any]]:
    """Answer each call the planner will make the way a sensible model would."""
    rooms = list(home.rooms)[:3]
    in_rooms = [d.id for d in home.devices.values() if d.room in rooms]
    plan = {"kind": "plan", "message": "ok", "actions": [], "routine": None}
    if len(home) <= LIMIT or not vague:
        return [plan]
    if len(home) > 4 * LIMIT:
        return [{"rooms": rooms}, *([{"devices": in_rooms[:LIMIT]}] if len(in_rooms) > LIMIT else []), plan]
    return [{"devices": list(home.devices)[:LIMIT]}, plan]


async def _measure(home: Inventory, text: str, *, vague: bool) -> tuple[int, list[str]]:
    state = physics.initial_state(home)
    async with ScriptedModel(_answers(home, vague)) as server:
        client = ModelClient(ModelSettings(model="scripted", base_url=server.base_url, api_key="bench"))
        planner = Planner(home, client, state=lambda: state, max_devices_in_prompt=LIMIT, clock=lambda: NOW)
        result = await planner.plan(text)
        await client.close()
    return sum(c.prompt_chars for c in result.calls), [c.purpose for c in result.calls]


async def main() -> None:
    """Print the table."""
    templates = prompts.Prompts.load()
    print(f"{'devices':>7} {'baseline':>9} {'named room':>11} {'':>6} {'vague goal':>11} {'':>6}  calls (vague goal)")
    for size in SIZES:
        home = synthetic.home(size)
        room = next(iter(home.rooms.values()))
        everything = list(home.devices.values())
        request = "help me sleep better"
        baseline = len(prompts.system_prompt(templates, home, everything, physics.initial_state(home), NOW))
        baseline += len(request)
        named, _ = await _measure(home, f"make the {room.name} cozy", vague=False)
        vague, calls = await _measure(home, request, vague=True)
        print(
            f"{size:>7} {baseline:>9,} {named:>11,} {100 * named / baseline:>5.1f}% "
            f"{vague:>11,} {100 * vague / baseline:>5.1f}%  {' + '.join(calls)}"
        )


if __name__ == "__main__":
    asyncio.run(main())
