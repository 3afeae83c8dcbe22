"""Build the assistant from the settings: broker connection, mirror, executor, planner, audit."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sasha.assistant import Assistant
from sasha.config import Settings
from sasha.executor import Executor
from sasha.history.audit import AuditLog
from sasha.home.inventory import Inventory
from sasha.mqtt.connection import MqttConnection
from sasha.planning.llm.client import ModelClient
from sasha.planning.planner import Planner
from sasha.planning.prompts import Prompts
from sasha.policy import ConfirmMode, ModelBudget, PendingPlans
from sasha.routines.book import RoutineBook
from sasha.routines.engine import RoutineEngine, home_zone
from sasha.routines.store import RoutineStore
from sasha.state import StateMirror


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
    )


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
    status = f"{settings.api_topic}/status" if announce else None
    model_settings = settings.model_settings()
    client = ModelClient(model_settings) if model_settings is not None else None
    audit = AuditLog(settings.state_dir / "audit.db")
    pending = PendingPlans(home, path=settings.state_dir / "pending.db" if shared_pending else None)
    budget = ModelBudget(
        per_minute=settings.budget.per_minute,
        per_day=settings.budget.per_day,
        per_request=settings.planner.max_calls,
    )
    try:
        session = {} if session_expiry is None else {"session_expiry": session_expiry}
        async with MqttConnection(settings.mqtt(), client_id=client_id, status_topic=status, **session) as link:
            mirror = StateMirror(home)
            # The daemon's own topics share this connection: no state wildcard may catch them.
            avoid = [f"{settings.api_topic}/#"]
            if settings.api.ha_status_topic:
                avoid.append(settings.api.ha_status_topic)
            await mirror.attach(link, avoid=avoid)
            executor = Executor(home, link, mirror)
            # Home Assistant's entities report each call's outcome; other protocols have no such topic.
            await executor.attach(link, avoid=avoid)
            planner = make_planner(home, settings, client, mirror)
            engine = None
            if run_routines:
                engine = RoutineEngine(mirror, executor, zone=home_zone(home.home.timezone), audit=audit)
            topic = f"{settings.api_topic}/routines"

            def publish(text: str) -> None:
                link.publish_nowait(topic, text, retain=True)

            store = RoutineStore(settings.state_dir / "routines.yaml", home)
            book = RoutineBook(store, engine, publish if announce else None)
            book.load()
            assistant = Assistant(
                home,
                executor,
                planner,
                confirm=ConfirmMode(settings.confirm),
                audit=audit,
                routines=book,
                pending=pending,
                budget=budget,
                mirror=mirror,
            )
            yield Runtime(home, settings, link, mirror, assistant, client, book, engine)
    finally:
        if client is not None:
            await client.close()
        audit.close()
        pending.close()
