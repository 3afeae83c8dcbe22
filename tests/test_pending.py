"""Pending confirmations (tokens, binding, expiry, a shared file) and the model-call budget."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sasha.home.actions import Action
from sasha.home.inventory import Inventory
from sasha.policy import ModelBudget, Pending, PendingPlans, Refused
from sasha.routines.routine import check
from sasha.routines.shapes import RoutineModel

UNLOCK = [Action("front_door", {"lock": "unlocked"}, "let them in")]


def test_tokens_carry_at_least_128_bits(home: Inventory) -> None:
    """Issue tokens of 22+ url-safe characters (16 random bytes), all different."""
    plans = PendingPlans(home)
    tokens = {plans.add(UNLOCK, "m", "c", 0.0).token for _ in range(50)}
    assert len(tokens) == 50
    assert min(len(t) for t in tokens) >= 22  # 16 bytes in base64 without padding


def test_a_plan_is_taken_once_and_not_after_it_expires(home: Inventory) -> None:
    """Settle a plan once; refuse a second use and an expired token."""
    plans = PendingPlans(home, ttl=10)
    first = plans.add(UNLOCK, "m", "c", 0.0, route="sasha/reply/a")
    taken = plans.take(first.token, 1.0, route="sasha/reply/a")
    assert isinstance(taken, Pending)
    assert taken.actions == tuple(UNLOCK)
    assert isinstance(plans.take(first.token, 2.0, route="sasha/reply/a"), Refused)
    late = plans.add(UNLOCK, "m", "c", 0.0, route="sasha/reply/a")
    assert isinstance(plans.take(late.token, 10.0, route="sasha/reply/a"), Refused)


def test_a_confirmation_must_come_back_on_the_route_and_conversation_that_asked(home: Inventory) -> None:
    """Refuse another route or conversation, and leave the plan waiting for the asker."""
    plans = PendingPlans(home)
    held = plans.add(UNLOCK, "m", "alice", 0.0, route="sasha/reply/alice")
    wrong_route = plans.take(held.token, 1.0, conversation="alice", route="sasha/reply/mallory")
    assert isinstance(wrong_route, Refused)
    assert "route" in wrong_route.reason
    wrong_conversation = plans.take(held.token, 1.0, conversation="mallory", route="sasha/reply/alice")
    assert isinstance(wrong_conversation, Refused)
    assert "conversation" in wrong_conversation.reason
    in_process = plans.take(held.token, 1.0)  # the chat has no route: it cannot settle an MQTT question
    assert isinstance(in_process, Refused)
    assert isinstance(plans.take(held.token, 1.0, conversation="alice", route="sasha/reply/alice"), Pending)


def test_plans_in_a_shared_file_are_seen_by_every_process(home: Inventory, tmp_path: Path) -> None:
    """Accept in one store a token issued by another on the same file, once, with its routine."""
    model = RoutineModel.model_validate(
        {
            "name": "Fan when humid",
            "trigger": {"type": "state", "device": "bathroom_humidity", "capability": "humidity", "above": 60},
            "conditions": [],
            "actions": [{"device": "bathroom_fan", "set": {"power": "on"}, "reason": "steam"}],
        }
    )
    routine, problems = check(home, model, request="fan when humid")
    assert routine is not None, problems
    one = PendingPlans(home, path=tmp_path / "pending.db")
    two = PendingPlans(home, path=tmp_path / "pending.db")
    held = one.add(routine.actions, "m", "c", 0.0, routine, route="sasha/response")
    assert two.latest("c", 1.0) is not None
    taken = two.take(held.token, 1.0, route="sasha/response")
    assert isinstance(taken, Pending)
    assert taken.routine is not None
    assert taken.routine.name == "Fan when humid"
    assert isinstance(one.take(held.token, 1.0, route="sasha/response"), Refused)
    one.close()
    two.close()


def test_the_budget_never_lets_calls_pass_a_cap() -> None:
    """Reserve a request's worst case, give back what it did not use, refuse past the caps."""
    budget = ModelBudget(per_minute=10, per_day=13, per_request=4)
    first = budget.reserve(0.0)
    second = budget.reserve(0.0)
    assert first is not None
    assert second is not None
    assert budget.reserve(0.0) is None  # 8 reserved + 4 > 10
    budget.settle(first, 1)
    budget.settle(second, 1)
    third = budget.reserve(1.0)  # 2 used + 4 <= 10
    assert third is not None
    budget.settle(third, 4)
    assert budget.counters(1.0)["model_calls_minute"] == 6
    fourth = budget.reserve(61.0)  # a new minute; the day has 6 + 4 <= 13
    assert fourth is not None
    budget.settle(fourth, 4)
    assert budget.reserve(122.0) is None  # the day is spent: 10 + 4 > 13
    assert "a day" in budget.why_not(122.0)
    assert budget.counters(122.0) == {"model_calls_minute": 0, "model_calls_day": 10, "model_budget_refused": 2}
    assert budget.reserve(0.0 + 86401.0) is not None  # a day later


def test_no_cap_means_no_refusal() -> None:
    """Treat a cap of 0 as no cap."""
    budget = ModelBudget(per_minute=0, per_day=0, per_request=4)
    assert all(budget.reserve(0.0) is not None for _ in range(100))


def test_each_user_spends_only_their_own_share_of_the_budget() -> None:
    """Refuse a user past their share while another user's requests still get calls, all under the global cap."""
    budget = ModelBudget(per_minute=16, per_day=100, per_request=4, per_user_minute=8)
    assert budget.reserve(0.0, "alice") is not None
    assert budget.reserve(0.0, "alice") is not None
    assert budget.reserve(0.0, "alice") is None  # 8 + 4 > her 8
    assert "your share of 8 model calls a minute" in budget.why_not(0.0, "alice")
    assert budget.reserve(0.0, "bob") is not None
    assert budget.reserve(0.0, None) is not None  # the anonymous sender is a user of its own
    assert budget.reserve(0.0, "carol") is None  # 16 + 4 > 16: the global cap still holds
    assert "16 calls a minute" in budget.why_not(0.0, "carol")
    assert budget.refused_by_user == {"alice": 1, "carol": 1}
    assert budget.reserve(61.0, "alice") is not None  # her minute is over


def test_a_plan_is_settled_by_its_own_user_or_unbound_by_an_approver(home: Inventory) -> None:
    """Refuse another user's confirmation, leave the plan waiting; settle it once unbound (an owner's)."""
    pending = PendingPlans(home)
    unlock = [Action("front_door", {"lock": "unlocked"})]
    held = pending.add(unlock, "m", "c", 0.0, route="sasha/reply/alice", user="alice")
    assert pending.get(held.token, 1.0) == held
    stranger = pending.take(held.token, 1.0, conversation="c", route="sasha/reply/alice", user="mallory")
    assert stranger == Refused("it comes from another user than the one who asked")
    taken = pending.take(held.token, 1.0, route="sasha/reply/owner", user="owner", bound=False)
    assert isinstance(taken, Pending)
    assert taken.user == "alice"
    assert pending.get(held.token, 1.0) is None
    pending.close()


def test_a_pending_file_of_an_older_version_is_started_afresh(home: Inventory, tmp_path: Path) -> None:
    """Replace a pending table without the user column: its plans would expire within minutes anyway."""
    path = tmp_path / "pending.db"
    with sqlite3.connect(path) as old:
        old.execute(
            "CREATE TABLE pending (token TEXT PRIMARY KEY, conversation TEXT NOT NULL, route TEXT,"
            " expires REAL NOT NULL, created REAL NOT NULL, message TEXT NOT NULL, actions TEXT NOT NULL,"
            " routine TEXT)"
        )
    old.close()
    pending = PendingPlans(home, path=path)
    held = pending.add([Action("office_light", {"power": "on"})], "m", "c", 0.0, user="alice")
    assert pending.get(held.token, 1.0) == held
    pending.close()


def test_one_users_many_plans_never_push_out_another_users(home: Inventory) -> None:
    """Keep each user's newest plans only (16), so a flood of questions keeps the others' plans waiting."""
    pending = PendingPlans(home, per_user=16)
    unlock = [Action("front_door", {"lock": "unlocked"})]
    bobs = pending.add(unlock, "m", "b", 0.0, user="bob")
    alices = [pending.add(unlock, "m", f"a{n}", 0.0 + n / 1000, user="alice") for n in range(40)]
    assert pending.get(bobs.token, 1.0) == bobs
    assert pending.get(alices[0].token, 1.0) is None
    assert all(pending.get(p.token, 1.0) is not None for p in alices[-16:])
    pending.close()
