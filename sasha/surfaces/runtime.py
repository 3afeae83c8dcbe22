"""Build the assistant from the settings: broker connection, mirror, executor, planner, audit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from sasha.assistant import Assistant
from sasha.config import Settings
from sasha.errors import ConfigError
from sasha.executor import Executor
from sasha.history.audit import AuditLog
from sasha.history.states import StateHistory
from sasha.home.inventory import Inventory
from sasha.mqtt.connection import MqttConnection
from sasha.planning.llm.client import ModelClient
from sasha.planning.planner import Planner
from sasha.planning.prompts import Prompts
from sasha.policy import Approvers, ConfirmMode, ModelBudget, PendingPlans
from sasha.routines.book import RoutineBook
from sasha.routines.engine import RoutineEngine, home_zone
from sasha.routines.store import RoutineStore
from sasha.routines.timers import Timers, TimersFileError
from sasha.state import StateMirror

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Runtime:
    """The running assistant and the parts it is made of."""

    home: Inventory
    settings: Settings
    link: MqttConnection
    mirror: StateMirror
    assistant: Assistant
    model: ModelClient | None
    routines: RoutineBook
    engine: RoutineEngine | None


def make_planner(home: Inventory, settings: Settings, client: ModelClient | None, mirror: StateMirror) -> Planner:
    """Build the planner the settings describe, reading the state from `mirror`."""
    return Planner(
        home,
        client,
        state=mirror.snapshot,
        templates=Prompts.load(settings.planner.prompts_dir),
        max_devices_in_prompt=settings.planner.max_devices_in_prompt,
        offline=mirror.offline,
    )


@contextlib.asynccontextmanager
async def _recording(history: StateHistory | None) -> AsyncIterator[None]:
    """Write the state history every second while the block runs, and what is left at its end."""
    if history is None:
        yield
        return
    # A plain task, not a TaskGroup: an error of the block must reach the caller as it is.
    writer = asyncio.create_task(history.run(), name="state-history")
    try:
        yield
    finally:
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer
        await history.flush()


@contextlib.asynccontextmanager
async def running(
    home: Inventory,
    settings: Settings,
    *,
    client_id: str | None = None,
    announce: bool = False,
    run_routines: bool = False,
    shared_pending: bool = False,
    session_expiry: int | None = None,
) -> AsyncIterator[Runtime]:
    """Connect and assemble.

    `announce` publishes online/offline on `<api_topic>/status` and the routines on
    `<api_topic>/routines`; `run_routines` builds the engine (only one process should run it);
    `shared_pending` keeps plans waiting for a yes in `<state_dir>/pending.db`, where every
    daemon sharing the state directory finds them.
    """
    unknown = sorted(set(settings.api.device_owners) - set(home.devices))
    if unknown:
        # A misspelt device would otherwise silently fall back to the owners.
        raise ConfigError(f"api.device_owners: no device {', '.join(map(repr, unknown))} in the inventory")
    status = f"{settings.api_topic}/status" if announce else None
    model_settings = settings.model_settings()
    client = ModelClient(model_settings) if model_settings is not None else None
    audit = AuditLog(settings.state_dir / "audit.db")
    history = None
    if settings.history_days > 0:
        history = StateHistory(settings.state_dir / "states.db", keep=settings.history_days * 86400)
    pending = PendingPlans(home, path=settings.state_dir / "pending.db" if shared_pending else None)
    budget = ModelBudget(
        per_minute=settings.budget.per_minute,
        per_day=settings.budget.per_day,
        per_request=settings.planner.max_calls,
        per_user_minute=settings.budget.per_user_minute,
        per_user_day=settings.budget.per_user_day,
    )
    try:
        session = {} if session_expiry is None else {"session_expiry": session_expiry}
        async with MqttConnection(settings.mqtt(), client_id=client_id, status_topic=status, **session) as link:
            mirror = StateMirror(home)
            # The daemon's own topics share this connection: no state wildcard may catch them.
            avoid = [f"{settings.api_topic}/#"]
            if settings.api.ha_status_topic:
                avoid.append(settings.api.ha_status_topic)
            if history is not None:
                mirror.add_listener(history.note)
            await mirror.attach(link, avoid=avoid)
            executor = Executor(home, link, mirror)
            # Home Assistant's entities report each call's outcome; other protocols have no such topic.
            await executor.attach(link, avoid=avoid)
            planner = make_planner(home, settings, client, mirror)
            engine = None
            timers = _timers(settings.state_dir / "timers.json", home) if run_routines else None
            if run_routines:
                zone = home_zone(home.home.timezone)
                engine = RoutineEngine(mirror, executor, zone=zone, audit=audit, timers=timers)
            topic = f"{settings.api_topic}/routines"

            def publish(text: str) -> None:
                link.publish_nowait(topic, text, retain=True)

            store = RoutineStore(settings.state_dir / "routines.yaml", home)
            book = RoutineBook(store, engine, publish if announce else None)
            book.load()
            # Compiling the home's words takes seconds for thousands of devices: do it off the loop,
            # so that meanwhile the connection comes up and the broker sends the retained states.
            assistant = await asyncio.to_thread(
                Assistant,
                home,
                executor,
                planner,
                confirm=ConfirmMode(settings.confirm),
                audit=audit,
                routines=book,
                pending=pending,
                budget=budget,
                mirror=mirror,
                timers=timers,
                approvers=Approvers.of(settings.api.owners, settings.api.device_owners),
                confirm_wait=settings.confirm_wait,
                offline_commands=settings.offline_commands,
                history=history,
            )
            async with _recording(history):
                yield Runtime(home, settings, link, mirror, assistant, client, book, engine)
    finally:
        if client is not None:
            await client.close()
        audit.close()
        if history is not None:
            history.close()
        pending.close()


def _timers(path: Path, home: Inventory) -> Timers | None:
    """Load the timers file; a broken one is named in the log and left alone (no timers this run)."""
    timers = Timers(path, home)
    try:
        timers.load()
    except TimersFileError as err:
        _LOGGER.error("%s: timers are off until it is fixed or removed", err)  # noqa: TRY400 (the message is whole)
        return None
    return timers
