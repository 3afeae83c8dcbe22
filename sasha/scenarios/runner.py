"""Play scenarios against the real assistant, a real broker and the simulated home.

For each scenario: the simulated home from its inventory (with its start values), the
assistant with the scenario's configuration, a routine engine on a manual clock, and — unless
live — the scripted model server answering each step's `model:` answers. Expectations are
checked against what the devices report, what crossed the broker, and the reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from sasha.adapters import adapter_for
from sasha.assistant import Assistant, Reply
from sasha.config import Settings
from sasha.history.audit import AuditLog
from sasha.history.states import StateHistory
from sasha.home.capabilities import Value, same_value
from sasha.mqtt.connection import Incoming, MqttConnection, MqttSettings
from sasha.mqtt.embedded import EmbeddedBroker
from sasha.mqtt.mosquitto import Mosquitto, find_mosquitto
from sasha.planning.llm.client import Mode, ModelClient
from sasha.planning.llm.scripted import ScriptedModel
from sasha.planning.llm.settings import ModelSettings
from sasha.planning.planner import Planner
from sasha.policy import ConfirmMode
from sasha.routines.book import RoutineBook
from sasha.routines.engine import ManualClock, RoutineEngine, home_zone
from sasha.routines.store import RoutineStore
from sasha.scenarios.files import Scenario, ScenarioError, Step, discover, load
from sasha.sim.testbed import Testbed, simulated_home
from sasha.state import StateMirror

# How long a step may take to show its effect on the devices.
_SETTLE = 3.0
_QUIET = 0.1


@dataclass(slots=True)
class ScenarioResult:
    """How one scenario went."""

    name: str
    file: str
    steps: int
    passed: bool
    failures: list[str] = field(default_factory=list)
    model_calls: int = 0
    tokens: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """Return the result as plain data for the JSON report."""
        return {
            "name": self.name,
            "file": self.file,
            "steps": self.steps,
            "passed": self.passed,
            "failures": self.failures,
            "model_calls": self.model_calls,
            "tokens": self.tokens,
            "seconds": round(self.seconds, 2),
        }


class _Spy:
    """Record which devices got commands, from the broker's point of view."""

    def __init__(self, bed: Testbed) -> None:
        self.routes: dict[str, list[str]] = {}
        for device in bed.home.devices.values():
            for topic in adapter_for(device).command_topics(device):
                self.routes.setdefault(topic, []).append(device.id)
        self.devices: list[str] = []

    def __call__(self, message: Incoming) -> None:
        self.devices.extend(self.routes.get(message.topic, ()))


def _same(name: str, expected: Any, actual: Value | None) -> bool:
    if actual is None:
        return False
    if isinstance(expected, str) and isinstance(actual, str):
        return expected.strip().lower() == actual.strip().lower()
    return same_value(name, expected, actual)


def _matches(values: Mapping[str, Value], expected: Mapping[str, Any]) -> bool:
    return all(_same(name, value, values.get(name)) for name, value in expected.items())


def _reports(mirror: StateMirror, device: str, values: Mapping[str, Any]) -> Callable[[], bool]:
    return lambda: _matches(mirror.values(device), values)


class _Play:
    """One scenario being played."""

    def __init__(
        self,
        *,
        scenario: Scenario,
        bed: Testbed,
        assistant: Assistant,
        engine: RoutineEngine,
        clock: ManualClock,
        spy: _Spy,
        server: ScriptedModel | None,
        live: bool,
    ) -> None:
        self.scenario = scenario
        self.bed = bed
        self.assistant = assistant
        self.engine = engine
        self.clock = clock
        self.spy = spy
        self.server = server
        self.live = live
        self.failures: list[str] = []
        self.calls = 0
        self.tokens = 0

    async def step(self, index: int, step: Step) -> None:
        where = f"step {index + 1} (line {self.scenario.lines[index]})"
        before = {d: dict(self.bed.mirror.values(d)) for d in step.expect.unchanged}
        self.spy.devices.clear()
        reply: Reply | None = None
        if step.say is not None:
            calls_before = self.server.calls if self.server else 0
            if self.server is not None:
                self.server.add(*step.model)
            reply = await self.assistant.handle(
                step.say, conversation=step.conversation or "scenario", source="scenario"
            )
            calls = (self.server.calls - calls_before) if self.server else len(reply.calls)
            self.calls += calls
            self.tokens += sum((c.prompt_tokens or 0) + (c.completion_tokens or 0) for c in reply.calls)
            await self.engine.tick()
        elif step.set is not None:
            for device, values in step.set.items():
                problems = self.bed.simulator.set_values(device, values)
                if problems:
                    self.failures.append(f"{where}: set {device}: {'; '.join(problems)}")
                await self.bed.mirror.wait_until(_reports(self.bed.mirror, device, values), _SETTLE)
            await self.engine.tick()
            calls = 0
        else:
            self.clock.advance(step.advance or 0)
            await self.engine.tick()
            calls = 0
        await self._check(where, step, reply, before, calls)

    async def _check(
        self, where: str, step: Step, reply: Reply | None, before: dict[str, dict[str, Value]], calls: int
    ) -> None:
        expect = step.expect
        mirror = self.bed.mirror
        for device, values in expect.state.items():
            await mirror.wait_until(_reports(mirror, device, values), _SETTLE)
        await asyncio.sleep(_QUIET)  # let any command in flight reach the spy
        for device, values in expect.state.items():
            seen = mirror.values(device)
            wrong = {k: seen.get(k) for k, v in values.items() if not _same(k, v, seen.get(k))}
            if wrong:
                self.failures.append(f"{where}: {device} should report {values}, reports {wrong}")
        for device in expect.unchanged:
            if mirror.values(device) != before[device]:
                self.failures.append(
                    f"{where}: {device} should be unchanged, was {before[device]}, is {mirror.values(device)}"
                )
        if expect.published is not None and sorted(set(self.spy.devices)) != sorted(set(expect.published)):
            self.failures.append(
                f"{where}: commands should reach {sorted(expect.published)}, reached {sorted(set(self.spy.devices))}"
            )
        if self.live or reply is None:
            return  # a live model's words and call count vary; the home's state is what counts
        if expect.status is not None and reply.status != expect.status:
            self.failures.append(f"{where}: status should be {expect.status}, was {reply.status} ({reply.message})")
        for text in expect.message_contains:
            if text.lower() not in reply.message.lower():
                self.failures.append(f"{where}: message should contain {text!r}: {reply.message!r}")
        if expect.model_calls is not None and calls != expect.model_calls:
            self.failures.append(f"{where}: model calls should be {expect.model_calls}, were {calls}")


_LIVE_MODES: dict[str, Mode] = {}


@contextlib.asynccontextmanager
async def _model(live: ModelSettings | None) -> AsyncIterator[tuple[ModelClient, ScriptedModel | None]]:
    if live is not None:
        # One live server for the whole run: the output mode it accepts is found once.
        client = ModelClient(live, modes=_LIVE_MODES)
        try:
            yield client, None
        finally:
            await client.close()
        return
    async with ScriptedModel() as server:
        # No retries: a scripted error means what it says, and tests stay fast.
        client = ModelClient(
            ModelSettings(model="scripted", base_url=server.base_url, api_key="scenario", max_retries=0, timeout=5)
        )
        try:
            yield client, server
        finally:
            await client.close()


async def run_scenario(scenario: Scenario, mqtt: MqttSettings, *, live: ModelSettings | None = None) -> ScenarioResult:
    """Play one scenario and check every expectation."""
    started = time.perf_counter()
    home = scenario.home
    zone = home_zone(home.home.timezone)
    start = datetime.fromisoformat(scenario.start) if scenario.start else datetime(2026, 6, 1, 12, tzinfo=zone)
    clock = ManualClock(start if start.tzinfo else start.replace(tzinfo=zone))
    config = scenario.config
    with tempfile.TemporaryDirectory(prefix="sasha-scenario-") as state_dir, contextlib.ExitStack() as stack:
        async with (
            simulated_home(home, mqtt, initial=scenario.initial, ack_wait=2.0) as bed,
            _model(live) as (client, server),
            MqttConnection(mqtt) as spy_link,
        ):
            spy = _Spy(bed)
            await spy_link.subscribe(list(spy.routes), spy)
            await spy_link.wait_connected(5)
            planner = Planner(
                home,
                client,
                state=bed.mirror.snapshot,
                max_devices_in_prompt=int(config.get("max_devices_in_prompt", 40)),
            )
            # The story questions ("why is the hall light on?") read the scenario's own audit log.
            audit = stack.enter_context(contextlib.closing(AuditLog(Path(state_dir) / "audit.db")))
            engine = RoutineEngine(bed.mirror, bed.executor, zone=zone, clock=clock, audit=audit)
            # The state history on the scenario clock, from the simulated home as it starts.
            history = StateHistory(Path(state_dir) / "states.db", keep=7 * 86400, clock=lambda: clock.now().timestamp())
            stack.callback(history.close)
            for device_id, values in bed.mirror.snapshot().items():
                history.note(device_id, values)
            bed.mirror.add_listener(history.note)
            book = RoutineBook(RoutineStore(Path(state_dir) / "routines.yaml", home), engine)
            assistant = Assistant(
                home,
                bed.executor,
                planner,
                confirm=ConfirmMode(config.get("confirm", "sensitive")),
                routines=book,
                clock=lambda: clock.now().timestamp(),
                mirror=bed.mirror,
                audit=audit,
                history=history,
            )
            play = _Play(
                scenario=scenario,
                bed=bed,
                assistant=assistant,
                engine=engine,
                clock=clock,
                spy=spy,
                server=server,
                live=live is not None,
            )
            for index, step in enumerate(scenario.steps):
                await play.step(index, step)
    return ScenarioResult(
        scenario.name,
        str(scenario.file),
        len(scenario.steps),
        not play.failures,
        play.failures,
        play.calls,
        play.tokens,
        time.perf_counter() - started,
    )


@contextlib.asynccontextmanager
async def _broker(settings: Settings) -> AsyncIterator[MqttSettings]:
    """Use the configured broker, else a private mosquitto, else the embedded one."""
    if "mqtt_url" in settings.model_fields_set:
        yield settings.mqtt()
        return
    if find_mosquitto() is not None:
        async with Mosquitto() as mosquitto:
            yield MqttSettings.from_url(mosquitto.url)
        return
    async with EmbeddedBroker() as embedded:
        yield MqttSettings.from_url(embedded.url)


async def run_files(
    paths: list[Path],
    settings: Settings,
    console: Console,
    *,
    live: bool = False,
    keyword: str | None = None,
    report: Path | None = None,
) -> int:
    """Run scenario files and folders; print the table; exit 1 if anything failed."""
    model = None
    if live:
        model = settings.model_settings()
        if model is None:
            console.print("--live needs a model: set OPENAI_API_KEY or OPENAI_BASE_URL (and SASHA_MODEL).")
            return 2
    scenarios = []
    for path in discover(paths):
        try:
            scenario = load(path)
        except ScenarioError as err:
            for problem in err.problems:
                console.print(str(problem), markup=False, highlight=False)
            return 2
        if keyword is None or keyword.lower() in scenario.name.lower() or keyword.lower() in path.name.lower():
            scenarios.append(scenario)
    results = []
    async with _broker(settings) as mqtt:
        for scenario in scenarios:
            with console.status(f"{scenario.name}…"):
                results.append(await run_scenario(scenario, mqtt, live=model))
    _print(results, console, live=live)
    if report is not None:
        body = json.dumps({"live": live, "scenarios": [r.to_json() for r in results]}, indent=2)
        await asyncio.to_thread(report.write_text, body)
    return 0 if all(r.passed for r in results) else 1


def _print(results: list[ScenarioResult], console: Console, *, live: bool) -> None:
    table = Table("scenario", "steps", "result", "model calls", "tokens", "time")
    for result in results:
        mark = "[green]pass[/green]" if result.passed else "[red]FAIL[/red]"
        table.add_row(
            result.name,
            str(result.steps),
            mark,
            str(result.model_calls),
            f"{result.tokens:,}",
            f"{result.seconds:.2f}s",
        )
    console.print(table)
    for result in results:
        for failure in result.failures:
            console.print(f"[red]{result.name}[/red] ({result.file}): {failure}", highlight=False)
    passed = sum(r.passed for r in results)
    calls = sum(r.model_calls for r in results)
    tokens = sum(r.tokens for r in results)
    rate = 100 * passed / len(results) if results else 0.0
    mode = "live model" if live else "scripted model"
    console.print(
        f"{passed}/{len(results)} scenarios passed ({rate:.0f} %, {mode}); {calls} model calls, {tokens:,} tokens"
    )
