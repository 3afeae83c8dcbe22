"""The planner: a request in words → a grounded decision for this home.

One structured model call makes the decision (after a selection call in large homes). The
answer is parsed and every action validated against the inventory; what is wrong goes back
to the model once for repair, and what is still wrong is dropped and reported. Nothing that
leaves here names a device the home lacks or a value a device cannot take.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sasha.home.actions import Action
from sasha.home.capabilities import Value
from sasha.home.inventory import Device, Inventory
from sasha.home.validation import validate
from sasha.planning import prompts, relevance
from sasha.planning.decision import Decision, DecisionError, parse_decision, parse_rooms, parse_selection
from sasha.planning.llm.client import (
    CallLimitReached,
    CallLog,
    CallRecord,
    DeadlineExceeded,
    ModelClient,
    ModelError,
)
from sasha.planning.llm.schema import decision_schema, rooms_schema, selection_schema
from sasha.routines.routine import check as check_routine
from sasha.routines.shapes import RoutineModel

_LOGGER = logging.getLogger(__name__)

# A device catalog longer than this many times the prompt's device limit is narrowed by
# room first: listing 1,000 device ids would itself cost a quarter of a full-home prompt.
_ROOM_STAGE = 4

NO_MODEL = (
    "No language model is configured, so I can only run explicit commands. To plan goals, set "
    "OPENAI_API_KEY (OpenAI) or OPENAI_BASE_URL (e.g. http://localhost:11434/v1 for Ollama) "
    "and SASHA_MODEL."
)

StateSource = Callable[[], Mapping[str, Mapping[str, Value]]]


@dataclass(frozen=True, slots=True)
class PlanResult:
    """What the planner decided, ready for the policy and the executor."""

    kind: str  # plan | routine | clarify | answer | infeasible | error
    message: str
    actions: tuple[Action, ...] = ()
    dropped: tuple[str, ...] = ()
    routine: RoutineModel | None = None
    calls: tuple[CallRecord, ...] = ()
    devices: tuple[str, ...] = ()
    # Which limit cut the request short: Limit.DEADLINE, Limit.CALL_CAP or Limit.CALL_TIMEOUT (None: none did).
    limit: str | None = None

    @property
    def tokens(self) -> int:
        """Return the tokens all model calls of this request used."""
        return sum((c.prompt_tokens or 0) + (c.completion_tokens or 0) for c in self.calls)


@dataclass(frozen=True, slots=True)
class Turn:
    """One exchange: what the user said, what the assistant decided, which devices it saw."""

    user: str
    assistant: str
    devices: tuple[str, ...]


@dataclass(slots=True)
class Conversations:
    """Bounded memory of recent turns per conversation id."""

    max_turns: int = 6
    max_conversations: int = 256
    _turns: collections.OrderedDict[str, collections.deque[Turn]] = field(default_factory=collections.OrderedDict)

    def history(self, conversation: str) -> list[Turn]:
        """Return the remembered turns of a conversation, oldest first."""
        return list(self._turns.get(conversation, ()))

    def add(self, conversation: str, turn: Turn) -> None:
        """Remember a turn, forgetting the oldest turn and the least recent conversation first."""
        turns = self._turns.setdefault(conversation, collections.deque(maxlen=self.max_turns))
        turns.append(turn)
        self._turns.move_to_end(conversation)
        while len(self._turns) > self.max_conversations:
            self._turns.popitem(last=False)


def ground(inventory: Inventory, decision: Decision) -> tuple[list[Action], list[str]]:
    """Validate a decision against the inventory; return the usable actions and the problems."""
    if decision.kind == "routine":
        if decision.routine is None:
            return [], ["kind is routine but 'routine' is missing"]
        routine, found = check_routine(inventory, decision.routine)
        return (list(routine.actions) if routine is not None else []), found
    if decision.kind != "plan":
        return [], []
    actions: list[Action] = []
    problems: list[str] = []
    for action in decision.actions:
        checked = validate(inventory, action.device, action.set)
        if checked.ok:
            actions.append(Action(checked.device, checked.values, action.reason))
        else:
            problems.extend(p.message for p in checked.problems)
    return actions, problems


class Planner:
    """Turn requests into grounded decisions through a model."""

    def __init__(
        self,
        inventory: Inventory,
        client: ModelClient | None,
        *,
        state: StateSource,
        templates: prompts.Prompts | None = None,
        max_devices_in_prompt: int = 40,
        clock: Callable[[], datetime] | None = None,
        conversations: Conversations | None = None,
        offline: Callable[[], Collection[str]] | None = None,
    ) -> None:
        self._inventory = inventory
        self._offline = offline
        self._client = client
        self._state = state
        self._prompts = templates or prompts.Prompts.load()
        self._max_devices = max_devices_in_prompt
        self._clock = clock or (lambda: datetime.now().astimezone())
        self.conversations = conversations or Conversations()
        self._system_text: str | None = None

    @property
    def has_model(self) -> bool:
        """Tell whether a model is configured."""
        return self._client is not None

    async def plan(self, text: str, conversation: str = "default") -> PlanResult:
        """Decide what to do about `text`, in the context of the conversation so far."""
        if self._client is None:
            return PlanResult("error", NO_MODEL)
        settings = self._client.settings
        log = CallLog.starting_now(settings.max_calls, settings.deadline)
        try:
            result = await self._plan(self._client, text, conversation, log)
        except ModelError as err:
            return PlanResult(
                "error", f"The model could not help: {err}", calls=tuple(log.records), limit=log.limit_hit
            )
        return dataclasses.replace(result, limit=log.limit_hit)

    async def _plan(self, client: ModelClient, text: str, conversation: str, log: CallLog) -> PlanResult:
        history = self.conversations.history(conversation)
        devices = await self._devices_for(client, text, history, log)
        # Stable to changing: the system prompt is the same bytes for every request (a server's
        # prefix cache skips it); the time, current values, conversation and request follow.
        live = prompts.request_prompt(
            self._prompts,
            self._inventory,
            devices,
            self._state(),
            self._clock(),
            limit=self._max_devices,
            turns=[(t.user, t.assistant) for t in history],
            request=text,
            offline=self._offline() if self._offline is not None else (),
        )
        messages = [{"role": "system", "content": self._system()}, {"role": "user", "content": live}]
        schema = decision_schema(devices)

        answer = await client.complete(messages, name="sasha_decision", schema=schema, purpose="plan", log=log)
        decision, actions, problems = self._read(answer)
        if problems:
            # One repair round, never more: the model sees exactly what was wrong.
            repair = prompts.repair_prompt(self._prompts, problems)
            retry = [*messages, {"role": "assistant", "content": answer}, {"role": "user", "content": repair}]
            try:
                answer2 = await client.complete(retry, name="sasha_decision", schema=schema, purpose="repair", log=log)
            except (CallLimitReached, DeadlineExceeded):
                # Out of calls or time: what was valid in the first answer still stands.
                answer2 = None
            if answer2 is not None:
                decision2, actions2, problems2 = self._read(answer2)
                if decision2 is not None:
                    decision, actions, problems = decision2, actions2, problems2
        used = tuple(d.id for d in devices)
        if decision is None:
            return PlanResult(
                "error", f"The model's answer could not be used: {problems[0]}", calls=tuple(log.records), devices=used
            )
        self.conversations.add(conversation, Turn(text, _remembered(decision), used))
        return _result(decision, actions, problems, tuple(log.records), used)

    def _system(self) -> str:
        """Return the system prompt every call starts with (rendered once: the home does not change)."""
        if self._system_text is None:
            self._system_text = prompts.system_prompt(self._prompts, self._inventory, self._max_devices)
        return self._system_text

    def _read(self, answer: str) -> tuple[Decision | None, list[Action], list[str]]:
        try:
            decision = parse_decision(answer)
        except DecisionError as err:
            return None, [], [str(err)]
        actions, problems = ground(self._inventory, decision)
        return decision, actions, problems

    async def _devices_for(self, client: ModelClient, text: str, history: list[Turn], log: CallLog) -> list[Device]:
        everything = list(self._inventory.devices.values())
        # A request that names rooms or devices is planned over those rooms (and the sensors
        # that bear on it) at every home size: a short prompt is what a slow local model needs.
        focused = relevance.focus(self._inventory, text)
        if len(everything) <= self._max_devices:
            return focused or everything
        named = {d.id for d in focused}
        if history:
            # Feedback such as "too bright" names nothing; the devices of the last turn still matter.
            named.update(history[-1].devices)
        local = [d for d in everything if d.id in named]
        if 0 < len(local) <= self._max_devices:
            return local
        candidates = local or everything
        if len(candidates) > _ROOM_STAGE * self._max_devices:
            candidates = await self._rooms_for(client, text, candidates, log)
            if len(candidates) <= self._max_devices:
                return candidates
        prompt = prompts.select_prompt(self._prompts, self._inventory, self._max_devices, candidates, request=text)
        messages = [{"role": "system", "content": self._system()}, {"role": "user", "content": prompt}]
        schema = selection_schema([d.id for d in candidates], self._max_devices)
        answer = await client.complete(messages, name="sasha_select", schema=schema, purpose="select", log=log)
        try:
            chosen = parse_selection(answer).devices
        except DecisionError as err:
            _LOGGER.warning("selection answer unusable (%s); planning with the devices the request names", err)
            chosen = [d.id for d in local]
        allowed = {d.id for d in candidates}
        return [self._inventory.devices[i] for i in dict.fromkeys(chosen) if i in allowed][: self._max_devices]

    async def _rooms_for(self, client: ModelClient, text: str, candidates: list[Device], log: CallLog) -> list[Device]:
        """Narrow a very large home to the rooms a request concerns, so the device catalog stays short."""
        limit = max(1, self._max_devices // 4)
        prompt = prompts.rooms_prompt(self._prompts, self._inventory, limit, request=text)
        messages = [{"role": "system", "content": self._system()}, {"role": "user", "content": prompt}]
        schema = rooms_schema(list(self._inventory.rooms), limit)
        answer = await client.complete(messages, name="sasha_rooms", schema=schema, purpose="rooms", log=log)
        try:
            rooms = set(parse_rooms(answer).rooms[:limit])
        except DecisionError as err:
            _LOGGER.warning("room selection unusable (%s); selecting from every device", err)
            return candidates
        return [d for d in candidates if d.room in rooms]


def _remembered(decision: Decision) -> str:
    """Return the decision as the assistant's turn in the history."""
    data: dict[str, Any] = decision.model_dump(exclude_none=True)
    return json.dumps(data, separators=(",", ":"))


def _result(
    decision: Decision, actions: list[Action], problems: list[str], calls: tuple[CallRecord, ...], used: tuple[str, ...]
) -> PlanResult:
    if decision.kind == "plan" and not actions:
        why = "; ".join(problems) if problems else "the plan had no actions"
        return PlanResult(
            "infeasible",
            f"I could not make any of those changes: {why}",
            dropped=tuple(problems),
            calls=calls,
            devices=used,
        )
    if decision.kind == "routine" and (problems or not actions):
        why = "; ".join(problems) if problems else "it had no actions"
        return PlanResult(
            "infeasible", f"I could not set up that routine: {why}", dropped=tuple(problems), calls=calls, devices=used
        )
    return PlanResult(
        decision.kind,
        decision.message,
        tuple(actions),
        tuple(problems),
        decision.routine if decision.kind == "routine" else None,
        calls,
        used,
    )
