"""Prompt tokens per request on the example home, and prompt characters for homes of 10 to 1,000 devices.

First table: the example home (37 devices) for goals that name a room and for vague goals. The
baseline is the whole home in one prompt, which is what every goal on this home cost before
named rooms narrowed the prompt (and what Home Assistant's LLM API sends). Sasha's figure is the
sum of the prompt tokens the server reports in `usage` for every call the planner really makes,
through the real `openai` SDK. Against the scripted server the tokens are its documented
estimate (`sasha.planning.llm.scripted.estimate_tokens`); with `--tiny` (the bundled
llama-cpp-python + SmolLM2 server) or `--base-url` they are a real tokenizer's.

Second table (scripted server only): prompt characters for synthetic homes, the selection and
room calls included, with a scripted model that picks three rooms.

    .venv/bin/python bench/prompt_size.py [--tiny | --base-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

from sasha.home import inventory
from sasha.home.inventory import Inventory
from sasha.planning import prompts
from sasha.planning.llm.client import CallLog, ModelClient, ModelSettings
from sasha.planning.llm.scripted import ScriptedModel
from sasha.planning.llm.tiny import TinyModelServer
from sasha.planning.planner import Planner
from sasha.sim import physics, synthetic

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 40
SIZES = (10, 50, 200, 1000)
NOW = datetime(2026, 11, 26, 21, 30)
NAMED = ("make the living room cozy", "the bathroom is too humid", "make the kitchen nice for cooking")
VAGUE = ("make it cozy", "help me sleep better", "help me save energy")
PLAN = {"kind": "plan", "message": "ok", "actions": [], "routine": None}


@contextlib.asynccontextmanager
async def _server(args: argparse.Namespace, answers: int) -> AsyncIterator[tuple[str, str]]:
    """Yield a base URL and model name: the scripted server, the tiny model, or the given URL."""
    if args.base_url:
        yield args.base_url, args.model
    elif args.tiny:
        async with TinyModelServer() as tiny:
            yield tiny.base_url, tiny.model
    else:
        async with ScriptedModel([PLAN] * answers) as scripted:
            yield scripted.base_url, "scripted"


async def _example(args: argparse.Namespace) -> None:
    home = inventory.from_file(ROOT / "devices.yaml")
    state = physics.initial_state(home)
    templates = prompts.Prompts.load()
    whole = prompts.system_prompt(templates, home, list(home.devices.values()), state, NOW)
    goals = [("named", g) for g in NAMED] + [("vague", g) for g in VAGUE]
    async with _server(args, 4 * len(goals)) as (base_url, model):
        # Only the prompt's size is measured: one generated token and no repair round keep a
        # slow real server quick (the answer is cut off, which does not matter here).
        settings = ModelSettings(
            model=model,
            base_url=base_url,
            api_key="bench",
            timeout=300,
            deadline=600,
            max_retries=0,
            max_calls=1,
            max_tokens_plan=1,
        )
        client = ModelClient(settings)
        print(f"example home, {len(home)} devices; prompt tokens from the server's usage ({base_url})")
        print(f"{'goal':<36} {'kind':<6} {'whole home':>10} {'sasha':>6} {'share':>6}  calls")
        shares: dict[str, list[float]] = {"named": [], "vague": []}
        for kind, goal in goals:
            log = CallLog(1)
            messages = [{"role": "system", "content": whole}, {"role": "user", "content": goal}]
            await client.complete(messages, name="sasha_decision", schema={"type": "object"}, purpose="plan", log=log)
            baseline = log.records[0].prompt_tokens or 0
            planner = Planner(home, client, state=lambda: state, max_devices_in_prompt=LIMIT, clock=lambda: NOW)
            result = await planner.plan(goal)
            used = sum(c.prompt_tokens or 0 for c in result.calls)
            share = 100 * used / baseline if baseline else 0.0
            shares[kind].append(share)
            calls = " + ".join(c.purpose for c in result.calls)
            print(f"{goal:<36} {kind:<6} {baseline:>10,} {used:>6,} {share:>5.1f}%  {calls}")
        await client.close()
    for kind, values in shares.items():
        print(f"mean share, {kind} goals: {sum(values) / len(values):.1f}% of the whole-home prompt")


def _answers(home: Inventory, vague: bool) -> list[dict[str, Any]]:
    """Answer each call the planner will make the way a sensible model would."""
    rooms = list(home.rooms)[:3]
    in_rooms = [d.id for d in home.devices.values() if d.room in rooms]
    if len(home) <= LIMIT or not vague:
        return [PLAN]
    if len(home) > 4 * LIMIT:
        return [{"rooms": rooms}, *([{"devices": in_rooms[:LIMIT]}] if len(in_rooms) > LIMIT else []), PLAN]
    return [{"devices": list(home.devices)[:LIMIT]}, PLAN]


async def _measure(home: Inventory, text: str, *, vague: bool) -> tuple[int, list[str]]:
    state = physics.initial_state(home)
    async with ScriptedModel(_answers(home, vague)) as server:
        client = ModelClient(ModelSettings(model="scripted", base_url=server.base_url, api_key="bench"))
        planner = Planner(home, client, state=lambda: state, max_devices_in_prompt=LIMIT, clock=lambda: NOW)
        result = await planner.plan(text)
        await client.close()
    return sum(c.prompt_chars for c in result.calls), [c.purpose for c in result.calls]


async def _synthetic() -> None:
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


async def main() -> None:
    """Print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tiny", action="store_true", help="measure on the bundled tiny model server")
    parser.add_argument("--base-url", help="measure on this OpenAI-compatible server instead")
    parser.add_argument("--model", default="default", help="model name for --base-url")
    args = parser.parse_args()
    await _example(args)
    if not (args.tiny or args.base_url):
        print()
        print("prompt characters for synthetic homes (scripted server)")
        await _synthetic()


if __name__ == "__main__":
    asyncio.run(main())
