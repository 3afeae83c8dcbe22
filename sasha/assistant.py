"""The assistant: one request, end to end, the same for the chat, MQTT and `sasha ask`.

    undo? → local fast path (hassil) → planner (model) → policy → executor → reply → audit

Explicit commands never reach the model. Sensitive devices, and every plan in review mode,
wait for a confirmation token; an unsafe move of a sensitive device is approved only by someone
the configuration allows (`Approvers`: the owners, or the device's own list; the local user of
the chat and `sasha ask`). Every request is written to the audit log.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sasha.executor import Executor, Outcome, Result
from sasha.history.audit import AuditLog, Entry
from sasha.history.outcomes import ReplyPath, Status
from sasha.history.states import StateHistory
from sasha.home.actions import Action
from sasha.home.confirmation import Verdict, say_offline, say_verdicts, settled
from sasha.home.inventory import Device, Inventory
from sasha.home.wording import say_changes
from sasha.planning.llm.client import CallRecord
from sasha.planning.planner import NO_MODEL, Planner, PlanResult
from sasha.policy import (
    Approvers,
    ConfirmMode,
    ModelBudget,
    Pending,
    PendingPlans,
    Refused,
    needs_confirmation,
    sensitive_devices,
)
from sasha.routines import preview
from sasha.routines.book import RoutineBook
from sasha.routines.engine import home_zone
from sasha.routines.routine import Routine, check, describe
from sasha.routines.store import RoutinesFileError, to_data
from sasha.routines.timers import Timers, revert
from sasha.state import StateMirror
from sasha.understanding import grammar, story, vocabulary
from sasha.understanding.answers import Answer, Answers
from sasha.understanding.intents import Bare, FastPath, Match, NotUnderstood, Question, Timed
from sasha.understanding.lanes import Lane, lane
from sasha.understanding.timing import When, say_delay

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ActionReply:
    """One action of a reply, with what became of it."""

    device: str
    set: dict[str, Any]
    reason: str
    result: str
    error: str | None = None
    # What the device reported afterwards (docs/design.md, section 6); None when it was not published.
    confirmation: str | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """The reply object of docs/design.md (section 6), plus the cost of the model calls."""

    status: Status
    message: str
    id: str | None = None
    conversation: str | None = None
    actions: tuple[ActionReply, ...] = ()
    routine: dict[str, Any] | None = None
    confirm_token: str | None = None
    calls: tuple[CallRecord, ...] = ()
    path: ReplyPath = ReplyPath.NONE
    at: float = field(default_factory=time.time)
    limit: str | None = None  # deadline | call_cap | call_timeout: the limit that cut the request short

    def to_json(self) -> dict[str, Any]:
        """Return the reply as the MQTT API sends it."""
        tokens = sum((c.prompt_tokens or 0) + (c.completion_tokens or 0) for c in self.calls)
        return {
            "id": self.id,
            "conversation": self.conversation,
            "status": self.status,
            "message": self.message,
            "actions": [
                {
                    "device": a.device,
                    "set": a.set,
                    "reason": a.reason,
                    "result": a.result,
                    "error": a.error,
                    "confirmation": a.confirmation,
                }
                for a in self.actions
            ],
            "routine": self.routine,
            "confirm_token": self.confirm_token,
            # When the reply was made: two answers to the same question still differ.
            "timestamp": datetime.fromtimestamp(self.at, UTC).isoformat(timespec="milliseconds"),
            "usage": {
                "model_calls": len(self.calls),
                "tokens": tokens,
                "latency_ms": round(sum(c.latency_ms for c in self.calls), 1),
                "limit": self.limit,
            },
        }


def _pending_replies(actions: Sequence[Action], why: str) -> tuple[ActionReply, ...]:
    return tuple(ActionReply(a.device, dict(a.set), a.reason, Result.SKIPPED.value, why) for a in actions)


def _outcome_replies(outcomes: Sequence[Outcome]) -> tuple[ActionReply, ...]:
    return tuple(
        ActionReply(
            o.action.device,
            dict(o.action.set),
            o.action.reason,
            o.result.value,
            o.error or ("held until the broker is back" if o.held else None),
            o.confirmation.value if o.confirmation is not None else None,
        )
        for o in outcomes
    )


def _confirmed_message(home: Inventory, outcomes: Sequence[Outcome], message: str, *, fast: bool) -> str:
    """Say the change as the devices confirmed it: "Done. X on." only when every device sent to did."""
    judged = [
        (home.devices[o.action.device], o.action, Verdict(o.confirmation, o.reported))
        for o in outcomes
        if o.result is Result.PUBLISHED and o.confirmation is not None
    ]
    notes = say_verdicts([(device, found) for device, _, found in judged])
    if not fast:
        return f"{message} {notes}" if notes else message
    if all(o.result is Result.PUBLISHED for o in outcomes) and not notes:
        return f"Done. {message}"
    # The fast path's summary would claim what was skipped or not confirmed too: say only the rest.
    sure = say_changes([(device, action.set) for device, action, found in judged if settled(found)])
    if not notes:
        return f"Done. {sure}." if sure else ""
    return f"{sure}. {notes}" if sure else notes


@dataclass(frozen=True, slots=True)
class _Asked:
    """A fast-path question waiting for its answer in one conversation, from one reply route."""

    question: Question
    route: str | None
    expires: float
    user: str | None = None


@dataclass(slots=True)
class _Request:
    text: str
    conversation: str
    request_id: str | None
    source: str
    started: float = field(default_factory=time.perf_counter)
    token: str | None = None
    # The reply topic the answer goes to; None for in-process surfaces (chat, `sasha ask`).
    route: str | None = None
    # A private conversation (the terminal chat) may confirm with a plain "yes".
    private: bool = True
    # The room the request comes from (a satellite's area): "the lights" then means its lights.
    area: str | None = None
    # The MQTT user who sent it (from the topic); None for local surfaces and anonymous senders.
    user: str | None = None


class Assistant:
    """Handle requests for one home."""

    def __init__(
        self,
        home: Inventory,
        executor: Executor,
        planner: Planner,
        *,
        confirm: ConfirmMode = ConfirmMode.SENSITIVE,
        audit: AuditLog | None = None,
        routines: RoutineBook | None = None,
        pending_ttl: float = 120.0,
        pending: PendingPlans | None = None,
        budget: ModelBudget | None = None,
        clock: Callable[[], float] = time.time,
        mirror: StateMirror | None = None,
        timers: Timers | None = None,
        approvers: Approvers | None = None,
        confirm_wait: float | None = 2.0,
        offline_commands: str = "send",
        history: StateHistory | None = None,
    ) -> None:
        self.home = home
        self.routines = routines
        # One-shot timers, kept and fired where the routines run (`sasha run`); None elsewhere.
        self.timers = timers
        self._mirror = mirror
        self.executor = executor
        self.planner = planner
        self.confirm_mode = confirm
        self.audit = audit
        self.pending = pending or PendingPlans(home, ttl=pending_ttl)
        self.budget = budget
        self.approvers = approvers or Approvers()
        # Told about a plan that waits for an approver other than its asker (the daemon tells
        # them on their own topics), and about what became of it when one settled it.
        self.on_approval_needed: Callable[[Pending, frozenset[str]], None] | None = None
        self.on_settled_for: Callable[[Pending, Reply], None] | None = None
        # With the state mirror, questions are answered locally and "volume up" knows the volume.
        # One vocabulary of the home for the fast path, the answers and the story questions.
        self._vocabulary = grammar.Vocabulary(home)
        answers = Answers(home, mirror.get, names=self._vocabulary) if mirror is not None else None
        state = mirror.snapshot if mirror is not None else None
        self.fast_path = FastPath(home, state=state, answers=answers, names=self._vocabulary)
        self._clock = clock
        # Seconds a request waits, at most, for its devices to report the change; None: no wait.
        self.confirm_wait = confirm_wait
        # "send": commands still go to a device that said it is offline (it may be back); "skip": they do not.
        self.skip_offline = offline_commands == "skip"
        # The recorded state changes a new routine's preview replays.
        self.history = history
        # The question each conversation was last asked ("Which fan do you mean?"), newest last.
        self._asked: dict[str, _Asked] = {}
        self._ask_ttl = pending_ttl

    def now(self) -> float:
        """Return the assistant's clock (wall time unless a test moves it)."""
        return self._clock()

    async def handle(
        self,
        text: str,
        *,
        conversation: str = "default",
        request_id: str | None = None,
        source: str = "api",
        approve: bool = False,
        token: str | None = None,
        route: str | None = None,
        private: bool = True,
        skip_local: bool = False,
        area: str | None = None,
        user: str | None = None,
    ) -> Reply:
        """Answer one request; `approve` confirms a plan that would otherwise wait.

        `token`, `route` and `private` bind a "yes" to the question it answers (see
        `Assistant.confirm`); `skip_local` goes straight to the planner when the local fast path
        was already tried; `area` is the room the request comes from; `user` is the MQTT user who asked
        (None: local or anonymous).
        """
        request = _Request(
            text.strip(),
            conversation,
            request_id,
            source,
            token=token,
            route=route,
            private=private,
            area=area,
            user=user,
        )
        reply = await self._answer(request, approve, local_only=False, skip_local=skip_local)
        if reply is None:  # only a local-only answer may be missing
            reply = self._reply(request, Status.ERROR, "The request was not answered.")
        await self._audit(request, reply)
        return reply

    async def handle_local(
        self,
        text: str,
        *,
        conversation: str = "default",
        request_id: str | None = None,
        source: str = "api",
        token: str | None = None,
        route: str | None = None,
        private: bool = True,
        area: str | None = None,
        user: str | None = None,
    ) -> Reply | None:
        """Answer a request without the model, or return None when it needs the model."""
        request = _Request(
            text.strip(),
            conversation,
            request_id,
            source,
            token=token,
            route=route,
            private=private,
            area=area,
            user=user,
        )
        reply = await self._answer(request, False, local_only=True, skip_local=False)
        if reply is not None:
            await self._audit(request, reply)
        return reply

    @staticmethod
    def looks_local(text: str) -> bool:
        """Guess cheaply whether a request is for the fast path (`understanding.lanes`); it decides the queue only."""
        return lane(text) is not Lane.MODEL

    async def confirm(
        self,
        token: str,
        approve: bool,
        *,
        request_id: str | None = None,
        source: str = "api",
        conversation: str | None = None,
        route: str | None = None,
        user: str | None = None,
        private: bool = True,
    ) -> Reply:
        """Run (or drop) a plan that waited for confirmation (`private`: from the local owner, the chat).

        The plan must be settled by the user who asked, from the reply route its question went
        to (None for the chat and the CLI) and, when `conversation` is given, from the
        conversation that asked; or by an approver of its devices (`Approvers`) with the token.
        """
        request = _Request(f"confirm {'yes' if approve else 'no'}", conversation or "", request_id, source)
        request.route = route
        request.user = user
        request.private = private
        reply = await self._settle(request, token, approve=approve, conversation=conversation)
        await self._audit(request, reply)
        return reply

    def asking(self, conversation: str) -> bool:
        """Tell whether a conversation has a fast-path question waiting for its answer."""
        asked = self._asked.get(conversation)
        return asked is not None and asked.expires > self._clock()

    async def _answer(self, request: _Request, approve: bool, *, local_only: bool, skip_local: bool) -> Reply | None:
        word = vocabulary.spoken(request.text)
        asked = self._asked.get(request.conversation)
        if (
            asked is not None
            and asked.expires > self._clock()
            and (asked.route, asked.user) == (request.route, request.user)
        ):
            reply = await self._answered(request, asked.question, word, approve)
            if reply is not None:
                return reply
            # Anything else is a new request: the question lapses, it never completes another one.
            self._asked.pop(request.conversation, None)
        if word in vocabulary.UNDO:
            return await self._undo(request, approve)
        listing = vocabulary.TIMERS_LIST.match(word)
        cancel = None if listing else vocabulary.TIMERS_CANCEL.match(word)
        if listing or cancel:
            return await self._timer_control(request, cancel)
        if self.routines is not None and (manage := vocabulary.MANAGE.match(word)):
            return await self._manage(request, self.routines, manage.group("verb"), manage.group("name"))
        if word in vocabulary.YES or word in vocabulary.NO:
            if request.token is not None:
                return await self._settle(
                    request, request.token, approve=word in vocabulary.YES, conversation=request.conversation
                )
            waiting = await asyncio.to_thread(self.pending.latest, request.conversation, self._clock())
            if waiting is not None and request.private:
                return await self._settle(request, waiting.token, approve=word in vocabulary.YES)
            if waiting is not None:
                # Conversation ids travel in clear text: knowing one must not be enough to say yes.
                why = "a plain yes or no does not settle a plan here; send it with the question's confirm_token"
                _LOGGER.warning("refused a confirmation in conversation %r: %s", request.conversation, why)
                return self._reply(request, Status.REJECTED, f"Refused: {why}.", path=ReplyPath.CONFIRM)
        return await self._request(request, approve, local_only=local_only, skip_local=skip_local)

    async def _answered(self, request: _Request, question: Question, word: str, approve: bool) -> Reply | None:
        """Complete the request that asked `question` with this answer, ask again, or return None (not an answer)."""
        if request.token is None and word in vocabulary.NO:
            self._asked.pop(request.conversation, None)
            return self._reply(request, Status.DONE, "OK, I left everything as it was.", path=ReplyPath.FAST)
        if request.token is None and word in vocabulary.YES:
            # "yes" picks nothing; it must not settle an older plan behind the question either.
            return self._ask(request, question, f"Please say which one. {question.message}")
        chosen = self.fast_path.choose(question, request.text)
        if chosen is None:
            return None
        if isinstance(chosen, Question):
            return self._ask(request, chosen, chosen.message)
        self._asked.pop(request.conversation, None)
        found = self.fast_path.complete(question, chosen)
        if isinstance(found, Question):
            return self._ask(request, found, found.message)  # the sentence had a second unclear part
        if isinstance(found, Answer):
            return self._reply(request, Status.ANSWER, found.message, path=ReplyPath.FAST)
        if found is None:
            names = ", ".join(self.home.devices[i].name for i in chosen)
            message = f"I could not do “{question.text}” with the {names}, so I did nothing."
            return self._reply(request, Status.INFEASIBLE, message, path=ReplyPath.FAST)
        if isinstance(found, Timed):
            return await self._timed(request, found, approve)
        if found.problem is not None:
            return self._reply(request, Status.INFEASIBLE, f"I can't do that: {found.problem}.", path=ReplyPath.FAST)
        return await self._act(request, list(found.actions), f"{found.summary}.", (), approve, path=ReplyPath.FAST)

    def _ask(self, request: _Request, question: Question, message: str) -> Reply:
        """Ask a fast-path question and remember it for the conversation's next message."""
        self._asked.pop(request.conversation, None)
        while len(self._asked) >= _ASKED_MAX:
            self._asked.pop(next(iter(self._asked)))  # anyone may open conversations: keep the newest
        self._asked[request.conversation] = _Asked(question, request.route, self._clock() + self._ask_ttl, request.user)
        return self._reply(request, Status.CLARIFY, message, path=ReplyPath.FAST)

    async def undo(self, *, conversation: str = "default", source: str = "api", approve: bool = False) -> Reply:
        """Restore what the last plan changed."""
        request = _Request("undo", conversation, None, source)
        reply = await self._undo(request, approve)
        await self._audit(request, reply)
        return reply

    # --- the steps ------------------------------------------------------------------------

    async def _request(self, request: _Request, approve: bool, *, local_only: bool, skip_local: bool) -> Reply | None:
        if not skip_local and (told := await self._story(request)) is not None:
            return told
        if not skip_local:
            found = self.fast_path.match(request.text, area=request.area)
            if isinstance(found, Answer):
                return self._reply(request, Status.ANSWER, found.message, path=ReplyPath.FAST)
            if isinstance(found, NotUnderstood) and not self.planner.has_model:
                # Several commands, one not understood: nothing is done rather than a part of it.
                done = "; ".join(f"“{p}”" for p in found.understood)
                known = f"I understood {done} but not" if done else "I did not understand"
                message = f"{known} “{found.part}”, so I did nothing. Please say that part another way."
                return self._reply(request, Status.CLARIFY, message, path=ReplyPath.FAST)
            if isinstance(found, Timed):
                return await self._timed(request, found, approve)
            if isinstance(found, Match):
                if found.problem is not None:
                    return self._reply(
                        request, Status.INFEASIBLE, f"I can't do that: {found.problem}.", path=ReplyPath.FAST
                    )
                return await self._act(
                    request, list(found.actions), f"{found.summary}.", (), approve, path=ReplyPath.FAST
                )
            if isinstance(found, Question) and not self.planner.has_model:
                # With a model, the planner can often tell which one from the conversation.
                return self._ask(request, found, found.message)
            if isinstance(found, Bare) and not self.planner.has_model:
                # A name alone says nothing to do; with a model it may answer the model's own question.
                return self._reply(request, Status.CLARIFY, found.message, path=ReplyPath.FAST)
            if found is None and not self.planner.has_model and (refusal := self.fast_path.explain(request.text)):
                status = Status.INFEASIBLE if refusal.unknown else Status.CLARIFY
                return self._reply(request, status, refusal.message, path=ReplyPath.FAST)
        if local_only and self.planner.has_model:
            return None
        if not self.planner.has_model or self.budget is None:
            result = await self.planner.plan(request.text, request.conversation)
            return await self._planned(request, result, approve)
        reservation = self.budget.reserve(self._clock(), request.user)
        if reservation is None:
            why = self.budget.why_not(self._clock(), request.user)
            return self._reply(
                request, Status.BUSY, f"Not now: {why}. Explicit commands still work.", path=ReplyPath.NONE
            )
        used = self.budget.per_request  # if planning fails outright, count the worst case
        try:
            result = await self.planner.plan(request.text, request.conversation)
            used = len(result.calls)
        finally:
            self.budget.settle(reservation, used)
        return await self._planned(request, result, approve)

    async def _reported(self, devices: Sequence[Device], start: float) -> list[story.Happening]:
        """Return the changes `devices` reported since `start` (the state history), first values left out."""
        if self.history is None:
            return []
        await self.history.flush()
        # Sensors report all the time and nobody "turns them on": only what can be commanded counts.
        wanted = {d.id for d in devices if d.writable}
        moves = await asyncio.to_thread(self.history.moves, start, wanted)
        merged: dict[tuple[float, str], dict[str, Any]] = {}
        for at, device, capability, value in moves:
            if capability in self.home.devices[device].writable:
                merged.setdefault((at, device), {})[capability] = value  # one report, several values
        return [story.Happening(at, device, values, "device", "") for (at, device), values in merged.items()]

    async def _preview(self, routine: Routine) -> str:
        """Say how often a new routine would have fired over the recorded history (" It would have run …")."""
        if self.history is None:
            return ""
        await self.history.flush()
        history, zone = self.history, home_zone(self.home.home.timezone)
        now = history.now()
        start = now - history.keep
        pairs = preview.reads(routine)
        if pairs:
            first = await asyncio.to_thread(history.first)
            if first is None:
                return " There is no recorded history yet to say how often it would have run."
            start = max(start, first)
        series = {pair: await asyncio.to_thread(history.changes, *pair, start) for pair in pairs}
        found = preview.firings(routine, series, zone=zone, start=start, end=now)
        if start > now - history.keep:
            since = datetime.fromtimestamp(start, zone).strftime("%a %H:%M")
            span = f"since {since} (as far back as the history goes)"
        else:
            span = f"in the last {_span(history.keep)}"
        return " " + preview.say(found, zone=zone, span=span)

    async def _story(self, request: _Request) -> Reply | None:
        """Answer "why is X on?", "what happened in the last hour?" from the audit log, or return None."""
        if self.audit is None:
            return None
        question = story.read(self._vocabulary, grammar.normalize(request.text))
        if question is None:
            return None
        now, zone = self._clock(), home_zone(self.home.home.timezone)
        start = story.start_of(question, zone=zone, now=now) if isinstance(question, story.Span) else now - STORY_KEPT
        entries = await asyncio.to_thread(self.audit.since, start)
        told = happenings(entries, self.routines)
        if isinstance(question, story.Span):
            # "What did you do" is Sasha's doing; "what happened" is the home's, by hand too.
            others = [] if question.mine else await self._reported(list(self.home.devices.values()), start)
            message = story.tell_span(self.home, question, told, zone=zone, now=now, reported=others)
        else:
            reported = await self._reported(question.devices, start)
            message = story.tell_why(
                self.home, question, told, zone=zone, now=now, kept="in the last 7 days", reported=reported
            )
        return self._reply(request, Status.ANSWER, message, path=ReplyPath.HISTORY)

    async def _planned(self, request: _Request, result: PlanResult, approve: bool) -> Reply:
        reply = await self._after_plan(request, result, approve)
        # Say which limit (deadline, call cap, per-call timeout) cut the request short, if one did.
        return replace(reply, limit=result.limit) if result.limit else reply

    async def _after_plan(self, request: _Request, result: PlanResult, approve: bool) -> Reply:
        calls = result.calls
        if result.kind == "plan":
            dropped = tuple(ActionReply("", {}, "", Result.SKIPPED.value, why) for why in result.dropped)
            return await self._act(
                request, list(result.actions), result.message, calls, approve, path=ReplyPath.MODEL, dropped=dropped
            )
        if result.kind == "routine" and result.routine is not None:
            routine, problems = check(self.home, result.routine, request=request.text)
            if routine is None or self.routines is None:
                why = "; ".join(problems) or "routines are not run here (start `sasha run`)"
                return self._reply(
                    request,
                    Status.INFEASIBLE,
                    f"I could not set up that routine: {why}",
                    calls=calls,
                    path=ReplyPath.MODEL,
                )
            # A new routine always waits for a yes, whatever the review policy says.
            pending = await self._hold(request, routine.actions, result.message, routine)
            shown = await self._preview(routine)
            message = f"{result.message} New routine '{routine.name}': {describe(routine)}.{shown} Shall I set it up?"
            return self._reply(
                request,
                Status.NEEDS_CONFIRMATION,
                message,
                actions=_pending_replies(routine.actions, "runs when the routine fires"),
                calls=calls,
                routine=to_data(routine),
                token=pending.token,
                path=ReplyPath.MODEL,
            )
        status = {"clarify": Status.CLARIFY, "answer": Status.ANSWER, "infeasible": Status.INFEASIBLE}.get(
            result.kind, Status.ERROR
        )
        return self._reply(
            request, status, result.message, calls=calls, path=ReplyPath.MODEL if calls else ReplyPath.NONE
        )

    async def _act(
        self,
        request: _Request,
        actions: list[Action],
        message: str,
        calls: tuple[CallRecord, ...],
        approve: bool,
        *,
        path: ReplyPath,
        dropped: tuple[ActionReply, ...] = (),
    ) -> Reply:
        if not approve and needs_confirmation(self.home, actions, self.confirm_mode):
            pending = await self._hold(request, actions, message)
            sensitive = sensitive_devices(self.home, actions, self.confirm_mode)
            names = ", ".join(self.home.devices[d].name for d in sensitive)
            why = f"sensitive: {names}" if sensitive else "review mode: every plan waits for your yes"
            # The fast path's message says the change ("Garage door open"), which is not done yet.
            asked = f"I would set: {message}" if path == "fast" else message
            question = f"{asked} Shall I go ahead? ({why})"
            if not self._may_approve(request, sensitive):
                question = f"{asked} An owner must approve this ({why}); I have asked them."
                self._ask_approvers(pending, sensitive)
            return self._reply(
                request,
                Status.NEEDS_CONFIRMATION,
                question,
                actions=_pending_replies(actions, "waiting for confirmation") + dropped,
                calls=calls,
                token=pending.token,
                path=path,
            )
        gone = say_offline([self.home.devices[d] for d in self.executor.offline(actions)], sent=not self.skip_offline)
        outcomes = await self.executor.execute(actions, confirm=self.confirm_wait, skip_offline=self.skip_offline)
        replies = _outcome_replies(outcomes) + dropped
        published = [o for o in outcomes if o.result is Result.PUBLISHED]
        if not published:
            reasons = "; ".join(o.error or "" for o in outcomes if o.error)
            said = f"{gone} " if gone else ""
            return self._reply(
                request,
                Status.INFEASIBLE,
                f"{said}Nothing could be done: {reasons}",
                actions=replies,
                calls=calls,
                path=path,
            )
        skipped = [r for r in replies if r.result != Result.PUBLISHED.value]
        note = f" Skipped: {'; '.join(r.error or '' for r in skipped)}." if skipped else ""
        done = _confirmed_message(self.home, outcomes, message, fast=path == "fast")
        # Said before the rest, as it was known before acting.
        done = " ".join(part for part in (gone, done) if part)
        return self._reply(request, Status.DONE, done + note, actions=replies, calls=calls, path=path)

    async def _timed(self, request: _Request, found: Timed, approve: bool) -> Reply:
        """Set a timer for a command ("in 10 minutes", "at 11pm"), or act now and set one to put it back ("for")."""
        if self.timers is None:
            why = "timers are kept by `sasha run` (it fires them); nothing was set"
            return self._reply(request, Status.INFEASIBLE, f"I can't do that here: {why}.", path=ReplyPath.TIMER)
        zone = home_zone(self.home.home.timezone)
        due = found.timing.due(datetime.fromtimestamp(self._clock(), UTC), zone)
        when = f"at {due.astimezone(zone):%H:%M} (in {say_delay(due.timestamp() - self._clock())})"
        actions = found.match.actions
        later = actions
        if found.timing.when is When.FOR:
            back = revert(self.home, actions, self._mirror.get if self._mirror is not None else None)
            if back is None:
                message = f"I do not know what to put back after {found.timing.phrase}, so I did nothing."
                return self._reply(request, Status.INFEASIBLE, message, path=ReplyPath.TIMER)
            later = back
        if needs_confirmation(self.home, list(later), ConfirmMode.SENSITIVE):
            unsafe = sensitive_devices(self.home, list(later), ConfirmMode.SENSITIVE)
            names = ", ".join(self.home.devices[d].name for d in unsafe)
            why = f"a timer moves a sensitive device only towards safety (lock, close, off, arm): {names}"
            return self._reply(request, Status.INFEASIBLE, f"I can't set that timer: {why}.", path=ReplyPath.TIMER)
        if found.timing.when is not When.FOR:
            timer = await asyncio.to_thread(
                self.timers.add, due.timestamp(), actions, found.match.summary, request.text
            )
            why = f"runs {when} (timer {timer.id})"
            message = f"Timer set: {found.match.summary} {when}."
            return self._reply(
                request, Status.DONE, message, actions=_pending_replies(actions, why), path=ReplyPath.TIMER
            )
        if needs_confirmation(self.home, list(actions), self.confirm_mode) and not approve:
            why = "it needs your yes now: say it without the time, then set the timer"
            return self._reply(
                request, Status.INFEASIBLE, f"I can't do that with a timer: {why}.", path=ReplyPath.TIMER
            )
        reply = await self._act(request, list(actions), f"{found.match.summary}.", (), approve, path=ReplyPath.FAST)
        if reply.status != Status.DONE:
            return reply
        says = say_changes([(self.home.devices[a.device], a.set) for a in later])
        timer = await asyncio.to_thread(self.timers.add, due.timestamp(), later, says, request.text)
        return replace(reply, message=f"{reply.message} Back {when}: {says} (timer {timer.id}).", path=ReplyPath.TIMER)

    async def _timer_control(self, request: _Request, cancel: re.Match[str] | None) -> Reply:
        """List the timers, or cancel one ("cancel timer 2") or all of them."""
        if self.timers is None:
            why = "timers are kept by `sasha run`, and none runs here"
            return self._reply(request, Status.INFEASIBLE, f"There are no timers here: {why}.", path=ReplyPath.TIMER)
        pending = self.timers.pending
        zone = home_zone(self.home.home.timezone)
        listed = [f"{i}) {t.says} at {datetime.fromtimestamp(t.at, zone):%H:%M}" for i, t in enumerate(pending, 1)]
        if cancel is None:
            message = f"Timers: {'; '.join(listed)}." if listed else "No timers are set."
            return self._reply(request, Status.ANSWER, message, path=ReplyPath.TIMER)
        if not pending:
            return self._reply(
                request, Status.INFEASIBLE, "No timers are set, so there is none to cancel.", path=ReplyPath.TIMER
            )
        number = cancel.group("n")
        if cancel.group("all"):
            gone = await asyncio.to_thread(self.timers.cancel, None)
        elif number is not None and 1 <= int(number) <= len(pending):
            gone = await asyncio.to_thread(self.timers.cancel, pending[int(number) - 1].id)
        elif number is None and len(pending) == 1:
            gone = await asyncio.to_thread(self.timers.cancel, pending[0].id)
        else:
            ask = f"Which timer: {'; '.join(listed)}? Say “cancel timer 2” or “cancel all timers”."
            return self._reply(request, Status.CLARIFY, ask, path=ReplyPath.TIMER)
        said = "; ".join(t.says for t in gone)
        return self._reply(
            request,
            Status.DONE,
            f"Cancelled {len(gone)} timer{'' if len(gone) == 1 else 's'}: {said}.",
            path=ReplyPath.TIMER,
        )

    async def _hold(self, request: _Request, actions: Sequence[Action], message: str, routine: Any = None) -> Pending:
        return await asyncio.to_thread(
            self.pending.add,
            actions,
            message,
            request.conversation,
            self._clock(),
            routine,
            route=request.route,
            user=request.user,
        )

    def _may_approve(self, request: _Request, devices: Sequence[str]) -> bool:
        """Tell whether the sender of `request` may approve moving `devices` in the unsafe direction."""
        # The chat and `sasha ask` are the local owner's.
        return request.private or self.approvers.may_approve(request.user, devices)

    def _ask_approvers(self, pending: Pending, devices: Sequence[str]) -> None:
        users = self.approvers.allowed(devices) - {pending.user or ""}
        if self.on_approval_needed is not None and users:
            self.on_approval_needed(pending, users)

    async def _settle(self, request: _Request, token: str, *, approve: bool, conversation: str | None = None) -> Reply:
        waiting = await asyncio.to_thread(self.pending.get, token, self._clock())
        held = sensitive_devices(self.home, waiting.actions, self.confirm_mode) if waiting is not None else []
        if waiting is not None and approve and not self._may_approve(request, held):
            names = ", ".join(self.home.devices[d].name for d in held)
            why = f"only an owner may approve moving {names}"
            # Refused before the token is taken: the plan still waits for someone who may approve it.
            _LOGGER.warning("refused a confirmation from user %r: %s", request.user, why)
            return self._reply(
                request, Status.REJECTED, f"That confirmation was refused: {why}.", path=ReplyPath.CONFIRM
            )
        # An approver of these devices settles with the token alone, from their own topics.
        designated = waiting is not None and request.user is not None and request.user in self.approvers.allowed(held)
        found = await asyncio.to_thread(
            self.pending.take,
            token,
            self._clock(),
            conversation=None if designated else conversation,
            route=request.route,
            user=request.user,
            bound=not designated,
        )
        if isinstance(found, Refused):
            _LOGGER.warning("refused a confirmation from %s: %s", request.source, found.reason)
            return self._reply(
                request,
                Status.REJECTED,
                f"That confirmation was refused: {found.reason}. Ask again.",
                path=ReplyPath.CONFIRM,
            )
        pending = found
        reply = await self._settled(request, pending, approve=approve)
        if pending.user != request.user and self.on_settled_for is not None:
            self.on_settled_for(pending, reply)
        return reply

    async def _settled(self, request: _Request, pending: Pending, *, approve: bool) -> Reply:
        request.conversation = request.conversation or pending.conversation
        if not approve:
            return self._reply(
                request,
                Status.DONE,
                "OK, I left everything as it was.",
                actions=_pending_replies(pending.actions, "declined"),
                path=ReplyPath.CONFIRM,
            )
        if pending.routine is not None and self.routines is not None:
            try:
                routine = await self.routines.add(pending.routine)
            except RoutinesFileError as err:
                return self._reply(request, Status.ERROR, f"The routine was not saved: {err}", path=ReplyPath.CONFIRM)
            message = f"Routine '{routine.name}' is set up: {describe(routine)}."
            return self._reply(request, Status.DONE, message, routine=to_data(routine), path=ReplyPath.CONFIRM)
        outcomes = await self.executor.execute(list(pending.actions), confirm=self.confirm_wait)
        replies = _outcome_replies(outcomes)
        status = Status.DONE if any(o.result is Result.PUBLISHED for o in outcomes) else Status.INFEASIBLE
        message = _confirmed_message(self.home, outcomes, pending.message, fast=False)
        # A device may still refuse after the yes (Home Assistant reports its service errors).
        failed = "; ".join(o.error or "" for o in outcomes if o.result is Result.FAILED)
        message = f"{message} Not done: {failed}." if failed else message
        return self._reply(request, status, message, actions=replies, path=ReplyPath.CONFIRM)

    async def _undo(self, request: _Request, approve: bool) -> Reply:
        if not self.executor.can_undo:
            return self._reply(request, Status.INFEASIBLE, "There is nothing to undo.", path=ReplyPath.UNDO)
        steps = self.executor.peek_undo()
        mode = ConfirmMode.BOTH if self.confirm_mode is ConfirmMode.BOTH else ConfirmMode.SENSITIVE
        if not approve and needs_confirmation(self.home, steps, mode):
            # Undoing a lock is unlocking it: sensitive devices wait for a yes here too.
            self.executor.drop_undo()
            pending = await self._hold(request, steps, "Restored the previous state.")
            held = sensitive_devices(self.home, steps, mode)
            question = "Undo touches sensitive devices. Shall I go ahead?"
            if not self._may_approve(request, held):
                question = "Undo touches sensitive devices. An owner must approve it; I have asked them."
                self._ask_approvers(pending, held)
            return self._reply(
                request,
                Status.NEEDS_CONFIRMATION,
                question,
                actions=_pending_replies(steps, "waiting for confirmation"),
                token=pending.token,
                path=ReplyPath.UNDO,
            )
        outcomes = await self.executor.undo(confirm=self.confirm_wait)
        replies = _outcome_replies(outcomes)
        if not any(o.result is Result.PUBLISHED for o in outcomes):
            return self._reply(
                request, Status.INFEASIBLE, "Nothing could be restored.", actions=replies, path=ReplyPath.UNDO
            )
        # As for any command: "restored" only as far as the devices confirmed it.
        message = _confirmed_message(self.home, outcomes, "Restored the previous state.", fast=False)
        return self._reply(request, Status.DONE, message, actions=replies, path=ReplyPath.UNDO)

    async def _manage(self, request: _Request, book: RoutineBook, verb: str, name: str) -> Reply:
        found = book.find(name)
        if not found:
            names = ", ".join(r.name for r in book.routines) or "none yet"
            return self._reply(
                request,
                Status.INFEASIBLE,
                f"There is no routine called {name!r} (routines: {names}).",
                path=ReplyPath.ROUTINES,
            )
        if len(found) > 1:
            return self._reply(
                request, Status.CLARIFY, f"Which routine: {', '.join(r.name for r in found)}?", path=ReplyPath.ROUTINES
            )
        action = vocabulary.MANAGE_VERBS.get(verb, "disable")
        try:
            if action == "delete":
                routine = await book.delete(found[0].id)
                message = f"Deleted the routine '{routine.name}'."
            else:
                routine = await book.set_enabled(found[0].id, action == "enable")
                message = f"The routine '{routine.name}' is {'on' if routine.enabled else 'off'}."
        except RoutinesFileError as err:
            return self._reply(
                request, Status.ERROR, f"routines.yaml could not be changed: {err}", path=ReplyPath.ROUTINES
            )
        return self._reply(request, Status.DONE, message, routine=to_data(routine), path=ReplyPath.ROUTINES)

    def _reply(
        self,
        request: _Request,
        status: Status,
        message: str,
        *,
        actions: tuple[ActionReply, ...] = (),
        calls: tuple[CallRecord, ...] = (),
        routine: dict[str, Any] | None = None,
        token: str | None = None,
        path: ReplyPath = ReplyPath.NONE,
    ) -> Reply:
        return Reply(
            status, message, request.request_id, request.conversation or None, actions, routine, token, calls, path
        )

    async def _audit(self, request: _Request, reply: Reply) -> None:
        if self.audit is None:
            return
        data = reply.to_json()
        await self.audit.record(
            Entry(
                at=self._clock(),
                request_id=request.request_id,
                conversation=reply.conversation,
                source=request.source,
                text=request.text,
                status=reply.status,
                message=reply.message,
                path=reply.path,
                actions=data["actions"],
                model_calls=[c.to_json() for c in reply.calls],
                tokens=data["usage"]["tokens"],
                latency_ms=(time.perf_counter() - request.started) * 1000,
                cached_tokens=_cached(reply.calls),
                user=request.user,
            )
        )


def _span(seconds: float) -> str:
    """Say a stretch of time: "7 days", "day", "12 hours"."""
    days, hours = seconds / 86400, seconds / 3600
    if days >= 1 and days == int(days):
        return "day" if days == 1 else f"{int(days)} days"
    return "hour" if hours == 1 else f"{hours:g} hours"


STORY_KEPT = 7 * 86400
"""How far back "why is X on?" reads the audit log (seconds)."""


def happenings(entries: Sequence[Entry], book: RoutineBook | None) -> list[story.Happening]:
    """Turn audit entries into what the story tells: each change sent, by which request or routine."""
    told = []
    for entry in entries:
        routine = entry.text.removeprefix("routine ") if entry.source == "routine" else None
        found = book.find(routine) if book is not None and routine is not None else []
        origin = found[0].created_from if len(found) == 1 else None
        for action in entry.actions:
            if action.get("result") != Result.PUBLISHED.value or not action.get("device"):
                continue
            told.append(
                story.Happening(
                    at=entry.at,
                    device=str(action["device"]),
                    set=dict(action.get("set") or {}),
                    source=entry.source,
                    # A "yes" says nothing of what it approved: the plan's own message does.
                    text=entry.message if entry.path == "confirm" else entry.text,
                    routine=routine,
                    origin=origin,
                    confirmation=action.get("confirmation"),
                    confirmed=entry.path == "confirm",
                )
            )
    return told


def _cached(calls: Sequence[CallRecord]) -> int | None:
    """Return the prompt tokens the server took from its cache over these calls; None when it never said."""
    known = [c.cached_tokens for c in calls if c.cached_tokens is not None]
    return sum(known) if known else None


# Open questions kept at most: conversation ids come from the network, one per message if it likes.
_ASKED_MAX = 1000
__all__ = ["NO_MODEL", "ActionReply", "Assistant", "Reply"]
