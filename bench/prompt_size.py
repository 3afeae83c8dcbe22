"""What each request sends and what of it is new to the server, and prompt characters for homes of 10 to 1,000 devices.

First table: the example home (39 devices), the goals of `harness.SERIES` planned one after
another with the clock moving, as a household sends them. Per request: characters and tokens
sent (all calls), and the characters and tokens after the longest prefix shared with the
previous request, which is what a server with a prefix cache (llama.cpp, vLLM, Ollama, OpenAI)
reads again. Tokens are the server's `usage` through the real `openai` SDK: against the
scripted server its documented estimate (`sasha.planning.llm.scripted.estimate_tokens`), with
`--tiny` (the bundled llama-cpp-python + SmolLM2 server) or `--base-url` a real tokenizer's;
new tokens are always the estimate.

Second table (scripted server only): prompt characters for synthetic homes, the selection and
room calls included, with a scripted model that picks three rooms.

    .venv/bin/python bench/prompt_size.py [--tiny | --base-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sasha.home import inventory
from sasha.home.inventory import Inventory
from sasha.planning import prompts
from sasha.planning.llm.client import ModelClient, ModelSettings
from sasha.planning.llm.scripted import ScriptedModel, common_prefix, estimate_tokens, prompt_text
from sasha.planning.llm.tiny import TinyModelServer
from sasha.planning.planner import Planner
from sasha.sim import physics, synthetic

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import SERIES, RecordingClient

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 40
SIZES = (10, 50, 200, 1000)
NOW = datetime(2026, 11, 26, 21, 30)
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
    """Plan the series on the example home; per request, what was sent and what was new to the server."""
    home = inventory.from_file(ROOT / "devices.yaml")
    state = physics.initial_state(home)
    async with _server(args, 4 * len(SERIES)) as (base_url, model):
        # Only the prompt is measured: one generated token and no repair round keep a slow real
        # server quick (the answer is cut off, which does not matter here).
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
        client = RecordingClient(settings)
        clock = [NOW]
        planner = Planner(home, client, state=lambda: state, max_devices_in_prompt=LIMIT, clock=lambda: clock[0])
        print(f"example home, {len(home)} devices, {len(SERIES)} goals in turn ({base_url})")
        print("new = after the longest prefix shared with the previous request (what a prefix cache re-reads)")
        print(f"{'goal':<36} {'chars':>6} {'tokens':>6} {'new chars':>9} {'new tok.':>8}  calls")
        previous = ""
        new_chars: list[int] = []
        for number, goal in enumerate(SERIES):
            clock[0] = NOW + timedelta(minutes=7 * number)  # the clock moves between requests, as it does
            client.sent = []
            result = await planner.plan(goal, f"series-{number}")
            chars = tokens = fresh = fresh_tokens = 0
            for text in (prompt_text(c.messages) for c in client.sent):
                shared = common_prefix(previous, text)
                chars += len(text)
                tokens += estimate_tokens(text)
                fresh += len(text) - shared
                fresh_tokens += estimate_tokens(text[shared:])
                previous = text
            used = sum(c.prompt_tokens or 0 for c in result.calls)
            if number:
                new_chars.append(fresh)
            calls = " + ".join(c.purpose for c in result.calls)
            print(f"{goal:<36} {chars:>6,} {used or tokens:>6,} {fresh:>9,} {fresh_tokens:>8,}  {calls}")
        await client.close()
    print(f"median new characters per request after the first: {statistics.median(new_chars):,.0f}")


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
        state = physics.initial_state(home)
        whole = prompts.describe_devices(everything, state)  # every device with its values, in one prompt
        baseline = len(prompts.system_prompt(templates, home, len(home))) + len(whole) + len(request)
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
