"""Commands that do one thing and exit: `ask`, `plan`, `history`, `health`, `routines`."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import sys
from datetime import datetime

from rich.console import Console
from rich.table import Table

from sasha.assistant import Reply
from sasha.config import Settings
from sasha.history.audit import AuditLog
from sasha.history.outcomes import Status
from sasha.home.inventory import Inventory
from sasha.mqtt.connection import Incoming, MqttConnection
from sasha.planning.llm.client import ModelClient
from sasha.planning.planner import NO_MODEL
from sasha.routines.routine import describe
from sasha.routines.store import RoutinesFileError, RoutineStore, dump
from sasha.state import StateMirror
from sasha.surfaces import render
from sasha.surfaces.runtime import make_planner, running

_LOGGER = logging.getLogger(__name__)
# Retained states arrive right after subscribing; this is long enough on a LAN.
_STATE_WAIT = 2.0
# How long `ask` waits for the home's retained state before planning with what it has.
_ASK_STATE_WAIT = 3.0
EXIT_CODES = {
    Status.DONE: 0,
    Status.ANSWER: 0,
    Status.CLARIFY: 3,
    Status.NEEDS_CONFIRMATION: 3,
    Status.INFEASIBLE: 1,
    Status.REJECTED: 1,
    Status.ERROR: 1,
}


def _write(console: Console, text: str) -> None:
    """Write output meant for programs (JSON, YAML) to the console's file exactly as it is."""
    # console.print would wrap it at the console's width, breaking a long line of JSON or YAML.
    console.file.write(text)
    console.file.flush()


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
        _write(console, render.json_text(render.plan_json(result), indent=2))
    else:
        console.print(f"[bold]{result.kind}[/bold]: {result.message}")
        if result.actions:
            console.print(render.plan_table(home, result))
        for problem in result.dropped:
            console.print(f"  dropped: {problem}", markup=False)
        console.print(f"[dim]{render.calls_summary(result.calls)}[/dim]")
    return 1 if result.kind in ("error", "infeasible") else 0


def print_reply(reply: Reply, home: Inventory, console: Console) -> None:
    """Show a reply to a person."""
    console.print(f"[bold]{reply.status}[/bold]: {reply.message}", highlight=False)
    shown = [a for a in reply.actions if a.device]
    if shown:
        table = Table("device", "change", "result")
        for action in shown:
            device = home.devices.get(action.device)
            change = ", ".join(f"{k} → {v}" for k, v in action.set.items())
            result = action.result + (f" ({action.error})" if action.error else "")
            table.add_row(device.name if device else action.device, change, result)
        console.print(table)
    if reply.calls:
        console.print(f"[dim]{render.calls_summary(reply.calls)}[/dim]")


async def ask_once(
    home: Inventory, settings: Settings, text: str, *, as_json: bool, yes: bool, console: Console
) -> int:
    """Handle one request against the live home and print the reply; the exit code says how it went."""
    async with running(home, settings) as rt:
        try:
            await rt.link.wait_connected(_ASK_STATE_WAIT)
        except TimeoutError:
            console.print(f"error: cannot reach the broker at {settings.mqtt().url}", markup=False)
            return 1
        await rt.mirror.wait_until(lambda: rt.mirror.complete, _ASK_STATE_WAIT)
        reply = await rt.assistant.handle(text, conversation="cli", source="cli", approve=yes)
        await rt.link.flush()
    if as_json:
        _write(console, render.json_text(reply.to_json(), indent=2))
    else:
        print_reply(reply, home, console)
    return EXIT_CODES.get(reply.status, 1)


def show_history(settings: Settings, limit: int, console: Console) -> int:
    """Print the newest audited requests."""
    path = settings.state_dir / "audit.db"
    if not path.exists():
        console.print(f"No requests yet ({path} does not exist).", markup=False)
        return 0
    log = AuditLog(path)
    try:
        entries = log.recent(limit)
    finally:
        log.close()
    table = Table("when", "source", "user", "request", "path", "status", "actions", "tokens", "cached", "ms")
    for entry in entries:
        when = datetime.fromtimestamp(entry.at).strftime("%Y-%m-%d %H:%M:%S")
        actions = ", ".join(f"{a['device']}:{a['result']}" for a in entry.actions if a.get("device"))
        table.add_row(
            when,
            entry.source,
            entry.user or "",
            entry.text,
            entry.path,
            entry.status,
            actions,
            str(entry.tokens),
            "" if entry.cached_tokens is None else str(entry.cached_tokens),
            f"{entry.latency_ms:.0f}",
        )
    console.print(table)
    return 0


async def health(settings: Settings, timeout: float = 5.0, *, console: Console | None = None) -> int:
    """Exit 0 when the daemon's retained status is `online` (for health checks); say why not; print counters."""
    topic = f"{settings.api_topic}/status"
    stats_topic = f"{settings.api_topic}/stats"
    seen: list[bytes] = []
    stats: list[bytes] = []
    arrived = asyncio.Event()
    counted = asyncio.Event()

    def on_status(message: Incoming) -> None:
        seen.append(message.payload)
        arrived.set()

    def on_stats(message: Incoming) -> None:
        stats.append(message.payload)
        counted.set()

    # Its own connection with the daemon's settings: a daemon the broker refuses cannot say so
    # itself, but the same credentials here show it.
    mqtt = settings.mqtt()
    async with MqttConnection(mqtt, reconnect_max=1.0) as link:
        await link.subscribe([topic], on_status)
        await link.subscribe([stats_topic], on_stats)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                # A refused login will not get better by waiting: stop at the first refusal.
                while not arrived.is_set() and not link.refused:  # noqa: ASYNC110  (two conditions)
                    await asyncio.sleep(0.05)
        if not arrived.is_set():
            if link.refused:
                reason = f"not authorised: {mqtt.url} refused these credentials ({link.last_error})"
            elif not link.connected:
                reason = f"not connected to {mqtt.url}: {link.last_error or 'no answer'}"
            else:
                reason = f"no status on {topic}: the daemon has not run on this broker"
            sys.stderr.write(f"sasha health: {reason}\n")
            return 1
        # Retained messages arrive together; a daemon older than the counters sends none.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.5):
                await counted.wait()
    if console is not None:
        counters = render.counters_line(stats[-1]) if stats else None
        _write(console, render.printable(seen[-1]) + "\n" + (counters or ""))
        if stats and counters is None:
            sys.stderr.write(f"sasha health: the counters on {stats_topic} are not a JSON object\n")
    if seen[-1] != b"online":
        sys.stderr.write(f"sasha health: the daemon is {render.printable(seen[-1])[:40]} ({topic})\n")
        return 1
    return 0


def manage_routines(home: Inventory, settings: Settings, action: str, ident: str | None, console: Console) -> int:
    """Work on routines.yaml directly; a running daemon reloads it within seconds."""
    store = RoutineStore(settings.state_dir / "routines.yaml", home)
    try:
        routines = store.load()
    except RoutinesFileError as err:
        for problem in err.problems:
            console.print(str(problem), markup=False, highlight=False)
        return 1
    if action == "list":
        table = Table("id", "on", "name", "what")
        for routine in routines:
            table.add_row(routine.id, "yes" if routine.enabled else "no", routine.name, describe(routine))
        console.print(table if routines else f"No routines in {store.path}.")
        return 0
    found = [r for r in routines if r.id == ident]
    if not found:
        console.print(f"No routine with id {ident!r}; `sasha routines list` shows them.", markup=False)
        return 1
    routine = found[0]
    if action == "show":
        _write(console, dump([routine]))
        return 0
    if action == "delete":
        store.save([r for r in routines if r.id != routine.id])
    else:
        changed = dataclasses.replace(routine, enabled=action == "enable")
        store.save([changed if r.id == routine.id else r for r in routines])
    console.print(f"{action}d {routine.id}", markup=False)
    return 0
