"""Build the assistant from the settings: broker connection, mirror, executor, planner, audit."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sasha.assistant import Assistant
from sasha.audit import AuditLog
from sasha.config import Settings
from sasha.executor import Executor
from sasha.inventory import Inventory
from sasha.llm.client import ModelClient
from sasha.mqtt import MqttConnection
from sasha.planner import Planner
from sasha.policy import ConfirmMode
from sasha.prompts import Prompts
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


@contextlib.asynccontextmanager
async def running(
    home: Inventory, settings: Settings, *, client_id: str | None = None, announce: bool = False
) -> AsyncIterator[Runtime]:
    """Connect and assemble; `announce` publishes online/offline on `<api_topic>/status`."""
    status = f"{settings.api_topic}/status" if announce else None
    model_settings = settings.model_settings()
    client = ModelClient(model_settings) if model_settings is not None else None
    audit = AuditLog(settings.state_dir / "audit.db")
    try:
        async with MqttConnection(settings.mqtt(), client_id=client_id, status_topic=status) as link:
            mirror = StateMirror(home)
            await mirror.attach(link)
            executor = Executor(home, link, mirror)
            planner = Planner(
                home,
                client,
                state=mirror.snapshot,
                templates=Prompts.load(settings.planner.prompts_dir),
                max_devices_in_prompt=settings.planner.max_devices_in_prompt,
            )
            assistant = Assistant(home, executor, planner, confirm=ConfirmMode(settings.confirm), audit=audit)
            yield Runtime(home, settings, link, mirror, assistant, client)
    finally:
        if client is not None:
            await client.close()
        audit.close()
