"""The daemon's per-user lanes: bounded per user and in all, served in turn."""

from __future__ import annotations

import pytest

from sasha.surfaces.lanes import LaneFull, Lanes


async def test_lanes_are_served_in_turn_however_long_one_is() -> None:
    """Serve bob's one job right after alice's first of many; keep each lane's order."""
    lanes: Lanes[str] = Lanes(per_lane=100, total=1000)
    for n in range(50):
        lanes.put_nowait("alice", f"a{n}")
    lanes.put_nowait("bob", "b0")
    lanes.put_nowait("bob", "b1")
    taken = [await lanes.get() for _ in range(6)]
    assert taken == ["a0", "b0", "a1", "b1", "a2", "a3"]
    assert (lanes.qsize(), lanes.waiting("alice"), lanes.waiting("bob")) == (46, 46, 0)


async def test_a_full_lane_refuses_its_user_only_and_the_total_bounds_all() -> None:
    """Refuse alice past her lane while bob still gets in; refuse everyone past the total."""
    lanes: Lanes[int] = Lanes(per_lane=3, total=5)
    for n in range(3):
        lanes.put_nowait("alice", n)
    with pytest.raises(LaneFull):
        lanes.put_nowait("alice", 3)
    lanes.put_nowait("bob", 0)
    lanes.put_nowait("carol", 0)
    with pytest.raises(LaneFull):
        lanes.put_nowait("dave", 0)


async def test_join_waits_for_every_job_to_be_done() -> None:
    """Finish `join` only once each job taken is marked done."""
    lanes: Lanes[int] = Lanes(per_lane=3, total=5)
    await lanes.join()  # nothing put: nothing to wait for
    lanes.put_nowait("alice", 1)
    await lanes.get()
    joined = lanes.join()
    lanes.task_done()
    await joined
