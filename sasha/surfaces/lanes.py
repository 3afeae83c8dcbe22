"""A bounded queue with one lane per user, served round-robin (the daemon's fairness, design.md 6).

One user's flood fills that user's lane only: the next job of every other user is served after
at most one job of each user ahead of it, however long the flooder's lane is.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Generic, TypeVar

_Job = TypeVar("_Job")


class LaneFull(Exception):
    """The user's lane, or the whole queue, is full."""


class Lanes(Generic[_Job]):
    """Jobs in per-user lanes (`per_lane` each, `total` in all); `get` takes the lanes in turn."""

    def __init__(self, per_lane: int, total: int) -> None:
        self.maxsize = per_lane
        self.total = total
        # Insertion order is the turn: a lane served goes to the back, an emptied lane is dropped.
        self._lanes: dict[str, collections.deque[_Job]] = {}
        self._count = 0
        self._ready = asyncio.Semaphore(0)
        self._unfinished = 0
        self._finished = asyncio.Event()
        self._finished.set()

    def qsize(self) -> int:
        """Return how many jobs wait, in all lanes."""
        return self._count

    def waiting(self, lane: str) -> int:
        """Return how many jobs wait in one lane."""
        found = self._lanes.get(lane)
        return len(found) if found is not None else 0

    def put_nowait(self, lane: str, job: _Job) -> None:
        """Add a job to the back of its lane; raise LaneFull when the lane or the queue is full."""
        queue = self._lanes.get(lane)
        if (queue is not None and len(queue) >= self.maxsize) or self._count >= self.total:
            raise LaneFull(lane)
        if queue is None:
            queue = self._lanes[lane] = collections.deque()
        queue.append(job)
        self._count += 1
        self._unfinished += 1
        self._finished.clear()
        self._ready.release()

    async def get(self) -> _Job:
        """Wait for a job and take it from the lane whose turn it is."""
        await self._ready.acquire()
        lane = next(iter(self._lanes))
        queue = self._lanes.pop(lane)
        job = queue.popleft()
        if queue:
            self._lanes[lane] = queue  # to the back: the other lanes go first
        self._count -= 1
        return job

    def task_done(self) -> None:
        """Say that a job taken with `get` is finished."""
        self._unfinished -= 1
        if self._unfinished <= 0:
            self._finished.set()

    async def join(self) -> None:
        """Wait until every job put is finished."""
        await self._finished.wait()


__all__ = ["LaneFull", "Lanes"]
