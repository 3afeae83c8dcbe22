"""The routines of a home: the file, the engine that runs them, and the retained topic that shows them.

Everything that changes routines — the chat, `sasha ask`, MQTT requests, `sasha routines` —
goes through here (or through the file, which is reloaded when it changes), so the file, the
engine and `<root>/routines` never disagree.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import re
from collections.abc import Callable

from sasha.routines.engine import RoutineEngine
from sasha.routines.routine import Routine, describe
from sasha.routines.store import RoutinesFileError, RoutineStore, to_data

_LOGGER = logging.getLogger(__name__)

Publish = Callable[[str], None]


class RoutineBook:
    """Keep the routines file, the engine and the published list in step."""

    def __init__(self, store: RoutineStore, engine: RoutineEngine | None, publish: Publish | None = None) -> None:
        self.store = store
        self._engine = engine
        self._publish = publish
        self._routines: list[Routine] = []

    @property
    def routines(self) -> list[Routine]:
        """Return the routines, in file order."""
        return list(self._routines)

    def load(self) -> None:
        """Read the file; a broken one is logged with its lines, and no routine runs from it."""
        try:
            self._routines = self.store.load()
        except RoutinesFileError as err:
            for problem in err.problems:
                _LOGGER.error("routines not loaded: %s", problem)  # noqa: TRY400  (a broken file is not a crash)
            self._routines = []
        self._apply()

    async def reload_if_changed(self) -> bool:
        """Reload when the file was edited by hand or by `sasha routines`; a broken edit keeps the last good ones."""
        if not self.store.changed():
            return False
        # Only the reading goes to a thread: the engine and the publish belong to the event loop.
        try:
            routines = await asyncio.to_thread(self.store.load)
        except RoutinesFileError as err:
            for problem in err.problems:
                _LOGGER.error("routines not reloaded, the last good ones keep running: %s", problem)  # noqa: TRY400
            return False
        self._routines = routines
        self._apply()
        return True

    async def add(self, routine: Routine) -> Routine:
        """Store a new routine under a free id and start running it."""
        taken = {r.id for r in self._routines}
        ident, n = routine.id, 2
        while ident in taken:
            ident, n = f"{routine.id}_{n}", n + 1
        routine = dataclasses.replace(routine, id=ident)
        await self._save([*self._routines, routine])
        return routine

    async def set_enabled(self, ident: str, enabled: bool) -> Routine:
        """Enable or disable a routine by id."""
        routine = self._get(ident)
        changed = dataclasses.replace(routine, enabled=enabled)
        await self._save([changed if r.id == ident else r for r in self._routines])
        return changed

    async def delete(self, ident: str) -> Routine:
        """Remove a routine by id."""
        routine = self._get(ident)
        await self._save([r for r in self._routines if r.id != ident])
        return routine

    def find(self, words: str) -> list[Routine]:
        """Return routines whose id or name contains every word of `words`."""
        wanted = [w for w in re.split(r"[^a-z0-9]+", words.lower()) if w and w not in ("the", "my")]
        found = [r for r in self._routines if all(w in f"{r.id} {r.name.lower()}" for w in wanted)]
        return found if wanted else []

    def _get(self, ident: str) -> Routine:
        for routine in self._routines:
            if routine.id == ident:
                return routine
        raise KeyError(ident)

    async def _save(self, routines: list[Routine]) -> None:
        await asyncio.to_thread(self.store.save, routines)
        self._routines = routines
        self._apply()

    def _apply(self) -> None:
        if self._engine is not None:
            self._engine.load(self._routines)
        if self._publish is not None:
            listing = [{**to_data(r), "description": describe(r)} for r in self._routines]
            self._publish(json.dumps(listing))
