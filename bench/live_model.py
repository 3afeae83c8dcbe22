"""A live model over the scenario goals: calls, tokens, latency and how usable its answers were.

Every `say` step of the scenario files that reaches the model in replay (it has scripted
answers) is planned once through the real planner and the real `openai` SDK, against
`OPENAI_BASE_URL` (with `SASHA_MODEL`) or, when that is not set, the bundled tiny model server
(llama-cpp-python + SmolLM2-135M, `make realmodel`). Printed per goal and in total: model
calls, prompt and completion tokens, latency p50/p95 per call, the share of first answers that
were a structurally valid decision, the share that needed the repair round, and the share that
stayed unusable, and the share of messages that copy prompt text.

With `--series`, the goals of `harness.SERIES` on the example home are planned one after
another against one server (as a household would send them), and each request's latency is
printed: a server with a prefix cache reads only what is new, so the second and later requests
should be faster than the first.

    .venv/bin/python bench/live_model.py [PATH ...] [--max-tokens-plan N] [--deadline S]
    .venv/bin/python bench/live_model.py --series
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from harness import SERIES, RecordingClient, copies_prompt, percentile

from sasha.home import inventory
from sasha.planning.decision import DecisionError, parse_decision
from sasha.planning.llm.client import ModelSettings
from sasha.planning.llm.tiny import TinyModelServer
from sasha.planning.planner import Planner
from sasha.scenarios.files import discover, load
from sasha.sim import physics

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = [ROOT / "tests" / "scenarios" / "studio"]


@contextlib.asynccontextmanager
async def _server() -> AsyncIterator[tuple[str, str]]:
    if os.environ.get("OPENAI_BASE_URL"):
        yield os.environ["OPENAI_BASE_URL"], os.environ.get("SASHA_MODEL", "default")
        return
    async with TinyModelServer() as tiny:
        yield tiny.base_url, tiny.model


def _settings(args: argparse.Namespace, base_url: str, model: str, **extra: Any) -> ModelSettings:
    """Return the model settings of the command line, with no retries (each call is measured once)."""
    bounds: dict[str, Any] = {}
    if args.max_tokens_plan:
        bounds = {"max_tokens_plan": args.max_tokens_plan, "max_tokens_repair": args.max_tokens_plan}
    return ModelSettings(
        model=model,
        base_url=base_url,
        api_key=os.environ.get("OPENAI_API_KEY"),
        timeout=args.timeout,
        deadline=args.deadline,
        max_retries=0,
        **bounds,
        **extra,
    )


async def main() -> None:
    """Plan every model goal of the scenarios once and print the table."""
    parser = argparse.ArgumentParser(description="A live model over the scenario goals.")
    parser.add_argument("paths", nargs="*", type=Path, default=DEFAULT)
    parser.add_argument("--max-tokens-plan", type=int, default=None, help="completion tokens of plan/repair calls")
    parser.add_argument("--deadline", type=float, default=90.0, help="seconds per request (default 90)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per call (default 60)")
    parser.add_argument("--series", action="store_true", help="plan harness.SERIES on the example home in turn")
    args = parser.parse_args()
    if args.series:
        await _series(args)
        return
    goals = []
    for path in discover(args.paths):
        scenario = load(path)
        goals += [(scenario, step.say) for step in scenario.steps if step.say and step.model]
    async with _server() as (base_url, model):
        client = RecordingClient(_settings(args, base_url, model))
        print(f"{len(goals)} goals against {base_url} ({model})")
        print(f"{'goal':<44} {'calls':>5} {'prompt':>7} {'compl.':>6} {'first':>6}  result")
        latencies: list[float] = []
        rows = []
        copies = 0
        for scenario, text in goals:
            client.sent = []
            state = physics.initial_state(scenario.home)
            planner = Planner(scenario.home, client, state=lambda state=state: state)  # type: ignore[misc]
            result = await planner.plan(text or "")
            latencies += [c.latency_ms for c in result.calls if c.error is None]
            plans = [c.answer for c in client.sent if c.purpose == "plan" and c.answer is not None]
            try:
                first_ok = bool(plans) and parse_decision(plans[0]) is not None
            except DecisionError:
                first_ok = False
            copies += _copied(client)
            repaired = any(c.purpose == "repair" for c in result.calls)
            unusable = result.kind == "error"
            prompt = sum(c.prompt_tokens or 0 for c in result.calls)
            completion = sum(c.completion_tokens or 0 for c in result.calls)
            rows.append((len(result.calls), prompt, completion, first_ok, repaired, unusable))
            outcome = result.kind + (f" ({result.limit})" if result.limit else "")
            print(
                f"{(text or '')[:44]:<44} {len(result.calls):>5} {prompt:>7,} {completion:>6,} "
                f"{'valid' if first_ok else 'no':>6}  {outcome}"
            )
        await client.close()
    count = len(rows) or 1
    print()
    print(f"model calls per goal:          {statistics.mean(r[0] for r in rows):.2f}")
    print(f"prompt tokens per goal:        {statistics.mean(r[1] for r in rows):,.0f}")
    print(f"completion tokens per goal:    {statistics.mean(r[2] for r in rows):,.0f}")
    p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
    print(f"latency per call:              p50 {p50:,.0f} ms, p95 {p95:,.0f} ms")
    print(f"valid decision on first call:  {100 * sum(r[3] for r in rows) / count:.0f} %")
    print(f"needed the repair round:       {100 * sum(r[4] for r in rows) / count:.0f} %")
    print(f"unusable (error):              {100 * sum(r[5] for r in rows) / count:.0f} %")
    print(f"message copies prompt text:    {100 * copies / count:.0f} %")


def _copied(client: RecordingClient) -> bool:
    """Say whether the first plan answer's message is a copy of the text it was sent."""
    for call in client.sent:
        if call.purpose == "plan" and call.answer is not None:
            prompt = "\n".join(m["content"] for m in call.messages)
            try:
                return copies_prompt(parse_decision(call.answer).message, prompt)
            except DecisionError:
                return False
    return False


async def _series(args: argparse.Namespace) -> None:
    """Plan the series of goals on the example home in turn; print each request's latency."""
    home = inventory.from_file(ROOT / "devices.yaml")
    state = physics.initial_state(home)
    async with _server() as (base_url, model):
        # The first answer only: no repair round, so each row is one request read.
        client = RecordingClient(_settings(args, base_url, model, max_calls=1))
        planner = Planner(home, client, state=lambda: state)
        print(f"{len(SERIES)} goals in turn on the example home against {base_url} ({model})")
        print(f"{'goal':<36} {'ms':>7} {'prompt':>7} {'cached':>7} {'copy':>5}  message")
        latencies: list[float] = []
        copies = 0
        for number, goal in enumerate(SERIES):
            client.sent = []
            result = await planner.plan(goal, f"series-{number}")
            ms = sum(c.latency_ms for c in result.calls)
            latencies.append(ms)
            copied = _copied(client)
            copies += copied
            prompt = sum(c.prompt_tokens or 0 for c in result.calls)
            cached = sum(getattr(c, "cached_tokens", None) or 0 for c in result.calls)
            message = " ".join(result.message.split())[:60]
            print(f"{goal:<36} {ms:>7,.0f} {prompt:>7,} {cached:>7,} {'yes' if copied else 'no':>5}  {message}")
        await client.close()
    first, later = latencies[0], latencies[1:]
    median = statistics.median(later)
    print()
    print(f"first request:                 {first:,.0f} ms")
    print(f"later requests:                median {median:,.0f} ms, {min(later):,.0f}-{max(later):,.0f} ms")
    faster = [100 * (1 - ms / first) for ms in later]
    spread = f"{min(faster):.0f}-{max(faster):.0f} %"
    print(f"later faster than the first:   {spread} (median {statistics.median(faster):.0f} %)")
    print(f"message copies prompt text:    {copies} of {len(SERIES)}")


if __name__ == "__main__":
    asyncio.run(main())
