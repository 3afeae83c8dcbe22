"""`sasha run`: the headless daemon serving the MQTT API (docs/design.md, section 6).

Requests arrive on `<root>/request/<user>`, confirmations on `<root>/confirm/<user>` (through a
shared subscription with `--share`): the broker's ACL pins each user to the topics that carry
its name, so the user is read from the topic. With `--open` the un-suffixed `<root>/request` and
`<root>/confirm` are served too, for an anonymous sender. Each message is read at once and waits
in one of two bounded queues, each with one lane per user served in turn: commands that look
explicit (and confirmations) in the fast queue, whose workers never call the model, everything
else in the model queue. A full lane answers `busy`; the fast queue is served however long the
model queue is. Replies go to the MQTT v5 Response Topic (with its Correlation Data), else to
`reply_to`, else to the asker's own `<root>/reply/<user>` (`<root>/response` when anonymous) —
and only under the allowed reply prefixes, never under another user's; a refused route gets
its rejection on the asker's default route. No publish failure
escapes: a full outbox drops the reply with a warning, counted on the retained `<root>/stats`.
Retained requests and confirmations are never acted on. On stop, queued and running requests
are finished before `offline` is published.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import re
import secrets
import signal
import socket
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from sasha.assistant import Assistant, Reply
from sasha.config import Settings
from sasha.errors import InventoryError, OutboxFull, SashaError
from sasha.history.outcomes import Status
from sasha.home.inventory import Inventory
from sasha.mqtt.connection import Incoming, MqttConnection
from sasha.planning.llm.client import ModelClient
from sasha.planning.planner import NO_MODEL
from sasha.policy import Pending
from sasha.surfaces import api, discover
from sasha.surfaces.lanes import LaneFull, Lanes
from sasha.surfaces.runtime import Runtime, running

_LOGGER = logging.getLogger(__name__)
_Message = TypeVar("_Message", api.ApiRequest, api.ApiConfirm)
_SLUG = re.compile(r"[^a-zA-Z0-9_-]+")
# Rejections and busy replies are shed once the outbox is this full, keeping room for answers,
# and beyond this many a second: in a flood, sending every refusal costs more than reading it.
_SHED_SHARE = 0.5
_REFUSALS_PER_SECOND = 100.0
# Each user's share of the refusals sent: one flooder's refusals never crowd out another's.
_REFUSALS_PER_USER = 20.0
# All lanes together hold at most this many times one lane's size.
_LANES_TOTAL = 10
# Users counted apart on `<root>/stats`; the rest are summed up under "other users".
_USERS_COUNTED = 100
_OTHER_USERS = "(other users)"
# Larger requests are never urgent: a command is a short sentence.
_URGENT_MAX = 1024
_COUNTERS = ("received", "answered", "rejected", "busy", "dropped", "shed", "retained_ignored", "route_refused")


def node_id(root: str) -> str:
    """Return the Home Assistant discovery node id of an API root (`home/sasha2` → `sasha_home_sasha2`)."""
    # Home Assistant subscribes to <prefix>/<component>/[<node_id>/]<object_id>/config with
    # [a-zA-Z0-9_-] ids only; a slash in the node id makes the entity silently never appear.
    return "sasha_" + _SLUG.sub("_", root).strip("_")


def discovery(
    root: str, prefix: str = "homeassistant", *, home_name: str | None = None, user: str | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """Return Home Assistant MQTT discovery configs: a text box for requests, a sensor for replies.

    With `user` (Home Assistant's MQTT user) they ask on `<root>/request/<user>` and read
    `<root>/reply/<user>`; without, the anonymous `<root>/request` and `<root>/response`.
    """
    node = node_id(root)
    request = f"{root}/request/{user}" if user else f"{root}/request"
    reply = f"{root}/reply/{user}" if user else f"{root}/response"
    device = {
        "identifiers": [node],
        # Two instances in one Home Assistant must not both be called "Sasha".
        "name": f"Sasha ({home_name})" if home_name else "Sasha",
        "manufacturer": "Sasha",
        "model": "Smart-home assistant",
    }
    availability = {
        "availability_topic": f"{root}/status",
        "payload_available": "online",
        "payload_not_available": "offline",
    }
    text = {
        "name": "Request",
        "unique_id": f"{node}_request",
        "command_topic": request,
        "max": 255,
        "icon": "mdi:robot-happy",
        "device": device,
        **availability,
    }
    sensor = {
        "name": "Reply",
        "unique_id": f"{node}_reply",
        "state_topic": reply,
        # HA keeps at most 255 characters of state; the whole reply is in the attributes.
        "value_template": "{{ value_json.message[:250] }}",
        "json_attributes_topic": reply,
        # A repeated answer is still a new reply: automations triggered on it must fire.
        "force_update": True,
        "icon": "mdi:message-reply-text",
        "device": device,
        **availability,
    }
    return [
        (f"{prefix}/text/{node}/request/config", text),
        (f"{prefix}/sensor/{node}/reply/config", sensor),
    ]


@dataclass(slots=True)
class _Job:
    """A read message waiting for a worker, with where its reply goes."""

    kind: Literal["request", "confirm"]
    route: str
    properties: Properties | None
    ident: str
    conversation: str | None
    request: api.ApiRequest | None = None
    confirm: api.ApiConfirm | None = None
    skip_local: bool = False
    user: str | None = None  # from the topic; None: anonymous (`--open`)


@dataclass(frozen=True, slots=True)
class DaemonOptions:
    """How the daemon serves: topics, queues, reply routes, sharing."""

    root: str = "sasha"
    max_concurrent: int = 8
    # A reply waits for its devices to confirm (up to confirm_wait): enough workers that a few
    # silent devices never hold up everyone's explicit commands.
    fast_workers: int = 8
    queue: int = 100
    reply_routes: api.ReplyRoutes | None = None
    share: str | None = None
    discovery_prefix: str = "homeassistant"
    ha_status_topic: str | None = "homeassistant/status"
    home_name: str | None = None
    stats_interval: float = 5.0
    routines_owner: str | None = None  # this instance's id when it runs the routines
    # Also serve the un-suffixed, anonymous <root>/request and <root>/confirm.
    open: bool = False
    ha_user: str | None = "homeassistant"  # Home Assistant's MQTT user, for the discovered entities


@dataclass(slots=True)
class _Stats:
    counts: collections.Counter[str] = field(default_factory=collections.Counter)
    users: dict[str, collections.Counter[str]] = field(default_factory=dict)
    last_published: str = ""

    def user(self, name: str | None) -> collections.Counter[str]:
        """Return one user's counters (anonymous: ""), a shared one past `_USERS_COUNTED` users."""
        key = name or ""
        if key not in self.users and len(self.users) >= _USERS_COUNTED:
            key = _OTHER_USERS
        return self.users.setdefault(key, collections.Counter())


@dataclass(slots=True)
class _Bucket:
    """A token bucket: `rate` a second, at most `rate` saved up."""

    rate: float
    tokens: float = 0.0
    at: float = 0.0

    def take(self, now: float) -> bool:
        """Spend a token if there is one."""
        self.tokens = min(self.rate, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class Daemon:
    """Serve the MQTT API for one assistant."""

    def __init__(
        self,
        assistant: Assistant,
        link: MqttConnection,
        *,
        root: str = "sasha",
        max_concurrent: int = 8,
        options: DaemonOptions | None = None,
    ) -> None:
        self._assistant = assistant
        self._link = link
        self._options = options or DaemonOptions(root=root, max_concurrent=max_concurrent)
        self._root = self._options.root
        self._routes = self._options.reply_routes or api.reply_routes(self._root, assistant.home)
        size = self._options.queue
        self._fast: Lanes[_Job] = Lanes(size, size * _LANES_TOTAL)
        self._model: Lanes[_Job] = Lanes(size, size * _LANES_TOTAL)
        self._serving = False
        self._stats = _Stats()
        self._refusals = _Bucket(_REFUSALS_PER_SECOND, tokens=_REFUSALS_PER_SECOND)
        self._user_refusals: dict[str, _Bucket] = {}
        assistant.on_approval_needed = self._ask_approvers
        assistant.on_settled_for = self._tell_asker
        self._owner_seen: str | None = None
        self.handled = 0

    @property
    def counters(self) -> dict[str, int]:
        """Return what the daemon has done so far (replies by kind, drops, queue lengths, model budget)."""
        counts = {name: self._stats.counts[name] for name in _COUNTERS}
        counts |= {"queued_fast": self._fast.qsize(), "queued_model": self._model.qsize()}
        budget = self._assistant.budget
        if budget is not None:
            counts |= budget.counters(self._assistant.now())
        return counts

    @property
    def user_counters(self) -> dict[str, dict[str, int]]:
        """Return each user's counters: received, answered, rejected, busy, shed, model_budget_refused."""
        users = {name: dict(sorted(counts.items())) for name, counts in self._stats.users.items()}
        budget = self._assistant.budget
        for name, refused in budget.refused_by_user.items() if budget is not None else ():
            users.setdefault(name, {})["model_budget_refused"] = refused
        return dict(sorted(users.items()))

    # --- serving -----------------------------------------------------------------------

    async def serve(self, stop: asyncio.Event) -> None:
        """Serve until `stop` is set, then finish the queued requests and those in flight."""
        options = self._options
        self._link.on_connect(self._on_connected)
        self._link.prioritize(self._urgent, self._lane)
        share = f"$share/{options.share}/" if options.share else ""
        async with asyncio.TaskGroup() as group:
            workers = [
                group.create_task(self._work(self._fast, local=True), name=f"api-fast-{i}")
                for i in range(options.fast_workers)
            ]
            workers += [
                group.create_task(self._work(self._model, local=False), name=f"api-model-{i}")
                for i in range(options.max_concurrent)
            ]
            workers.append(group.create_task(self._publish_stats_every(options.stats_interval), name="api-stats"))
            self._serving = True
            await self._link.subscribe([f"{share}{self._root}/request/+"], self._on_request)
            await self._link.subscribe([f"{share}{self._root}/confirm/+"], self._on_confirm)
            if options.open:
                await self._link.subscribe([f"{share}{self._root}/request"], self._on_request)
                await self._link.subscribe([f"{share}{self._root}/confirm"], self._on_confirm)
            if options.ha_status_topic:
                await self._link.subscribe([options.ha_status_topic], self._on_ha_status)
            if options.routines_owner:
                # Read before this instance claims the topic (on connect), or it reads its own claim.
                await self._link.subscribe([f"{self._root}/routines/owner"], self._on_owner, early=True)
            if options.share:
                await self._link.subscribe([f"{self._root}/status"], self._on_status)
            if self._link.connected:
                await self._on_connected()
            # Online only now: a request sent the moment it appears finds its subscription.
            await self._link.ready()
            await stop.wait()
            self._serving = False  # stop taking new requests, then finish what is queued
            await self._fast.join()  # the fast queue moves work to the model queue, never back
            await self._model.join()
            for worker in workers:
                worker.cancel()
        if options.routines_owner and self._owner_seen == options.routines_owner:
            self._publish(f"{self._root}/routines/owner", "", retain=True)
        self._publish_stats(force=True)
        _LOGGER.info("stopped after %d requests", self.handled)

    async def _on_connected(self) -> None:
        self._announce()
        if self._options.routines_owner:
            self._publish(f"{self._root}/routines/owner", self._options.routines_owner, retain=True)
        self._publish_stats(force=True)

    def _announce(self) -> None:
        options = self._options
        # Home Assistant's entities ask as its MQTT user; with --open and no user, anonymously.
        user = options.ha_user
        for topic, config in discovery(self._root, options.discovery_prefix, home_name=options.home_name, user=user):
            self._publish(topic, json.dumps(config), retain=True)

    def _on_ha_status(self, message: Incoming) -> None:
        # Home Assistant's birth message: it has (re)started and forgotten MQTT entities.
        if message.payload.strip() == b"online":
            _LOGGER.info("Home Assistant is online: announcing the discovery configs again")
            self._announce()

    def _on_status(self, message: Incoming) -> None:
        # In a share group one instance stopping says "offline" for all: the others still serve.
        if self._serving and message.payload == b"offline":
            self._publish(f"{self._root}/status", "online", retain=True)

    def _on_owner(self, message: Incoming) -> None:
        owner = message.payload.decode("utf-8", "replace").strip()
        self._owner_seen = owner or None
        if owner and owner != self._options.routines_owner:
            _LOGGER.warning(
                "another instance (%s) runs the routines too: they will fire twice; "
                "start all instances but one with --no-routines",
                owner,
            )

    # --- reading -------------------------------------------------------------------------

    def _user(self, topic: str) -> tuple[bool, str | None]:
        """Return whether a request or confirmation topic is served, and its user (None: anonymous)."""
        for kind in ("request", "confirm"):
            base = f"{self._root}/{kind}"
            if topic == base:
                return self._options.open, None
            if topic.startswith(base + "/"):
                user = topic[len(base) + 1 :]
                return bool(user) and "/" not in user and len(user) <= _USER_MAX, user
        return False, None

    def _lane(self, topic: str) -> str | None:
        """Return the user a request or confirmation topic stands for ("" when anonymous), for turns in the inbox."""
        served, user = self._user(topic)
        return (user or "") if served else None

    def _urgent(self, topic: str, payload: bytes) -> bool:
        """Tell whether a received message goes ahead of the others: confirmations and explicit commands."""
        if topic.startswith(f"{self._root}/confirm"):
            return True
        if not topic.startswith(f"{self._root}/request") or len(payload) > _URGENT_MAX:
            return False
        text = payload.decode("utf-8", "replace")
        if text.lstrip().startswith("{"):
            # A guess for ordering only: the message is read properly when its turn comes.
            try:
                text = json.loads(text).get("text")
            except (ValueError, AttributeError, RecursionError):
                return False
        return isinstance(text, str) and Assistant.looks_local(text)

    def _intake(
        self, message: Incoming, kind: str, parse: Callable[[bytes], _Message | api.Rejection]
    ) -> tuple[_Message, str, Properties | None, str | None] | None:
        """Count, read and route a message; answer a rejection; return what is left to queue, with its user."""
        self._stats.counts["received"] += 1
        served, user = self._user(message.topic)
        if not served:
            _LOGGER.warning("dropped a %s on %s: not a user's topic", kind, message.topic)
            return None
        self._stats.user(user)["received"] += 1
        if not self._take(message, kind):
            return None
        parsed = _read(parse, message.payload)
        route = self._route(message, parsed.reply_to, getattr(parsed, "id", None), user)
        if route is None:
            return None
        topic, properties = route
        if isinstance(parsed, api.Rejection):
            self._reject(message, parsed, topic, properties, user)
            return None
        if not self._serving:
            # Stopping, or starting over with a new inventory: say so rather than go silent.
            _LOGGER.warning("stopping: refused a %s on %s", kind, message.topic)
            busy = api.short_reply(Status.BUSY, _STOPPING, parsed.id, parsed.conversation)
            self._send(topic, properties, busy, essential=False, user=user)
            return None
        return parsed, topic, properties, user

    def _on_request(self, message: Incoming) -> None:
        accepted = self._intake(message, "request", api.parse_request)
        if accepted is None:
            return
        parsed, topic, properties, user = accepted
        job = _Job(
            "request",
            topic,
            properties,
            parsed.id or f"r-{uuid.uuid4().hex[:12]}",
            # A request without a conversation starts its own: two clients never share one.
            parsed.conversation or f"c-{secrets.token_urlsafe(12)}",
            request=parsed,
            user=user,
        )
        if Assistant.looks_local(parsed.text) or self._assistant.asking(job.conversation or ""):
            # An answer to Sasha's own question ("the ceiling fan") is finished locally too.
            self._queue(job, self._fast)
        else:
            # With a model, what does not look like a command skips the fast path's matching: it
            # costs tens of milliseconds of CPU on the event loop, which a flood would multiply.
            job.skip_local = self._assistant.planner.has_model
            self._queue(job, self._model)

    def _on_confirm(self, message: Incoming) -> None:
        accepted = self._intake(message, "confirmation", api.parse_confirm)
        if accepted is None:
            return
        parsed, topic, properties, user = accepted
        ident = parsed.id or f"r-{uuid.uuid4().hex[:12]}"
        job = _Job("confirm", topic, properties, ident, parsed.conversation, confirm=parsed, user=user)
        self._queue(job, self._fast)

    def _take(self, message: Incoming, what: str) -> bool:
        if message.retain:
            # A retained request would be acted on again at every (re)connect.
            self._stats.counts["retained_ignored"] += 1
            _LOGGER.warning(
                "ignored a retained %s on %s: publish it without retain (and clear it with an empty retained message)",
                what,
                message.topic,
            )
            return False
        return True

    def _home_route(self, user: str | None) -> str:
        """Return where a user's replies go by default: its own prefix (`<root>/response` when anonymous)."""
        return f"{self._root}/reply/{user}" if user is not None else f"{self._root}/response"

    def _route(
        self, message: Incoming, reply_to: str | None, ident: str | None, user: str | None
    ) -> tuple[str, Properties | None] | None:
        """Return where the reply goes, or refuse the route (on the user's default route) and return None."""
        home = self._home_route(user)
        topic = message.response_topic or reply_to or home
        problem = self._routes.problem(topic)
        replies = f"{self._root}/reply/"
        if problem is None and user is not None and topic.startswith(replies) and not _under(topic, home):
            # Another user's prefix: its replies carry tokens and conversations meant for them.
            problem = f"replies to {user}'s requests go under {home}, not to {topic!r}"
        if problem is None:
            properties = None
            if message.response_topic and message.correlation_data is not None:
                properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
                properties.CorrelationData = message.correlation_data
            return topic, properties
        self._stats.counts["route_refused"] += 1
        _LOGGER.warning("refused to reply on %r for %s: %s", topic, message.topic, problem)
        body = api.short_reply(Status.REJECTED, f"Refused: {problem}.", ident)
        self._send(home, None, body, essential=False, user=user)
        return None

    def _reject(
        self,
        message: Incoming,
        rejection: api.Rejection,
        topic: str,
        properties: Properties | None,
        user: str | None,
    ) -> None:
        if message.response_topic is None and rejection.reply_to is None and user is None:
            _LOGGER.warning("dropped a message on %s: %s", message.topic, rejection.reason)
            return
        self._send(topic, properties, api.rejected(rejection), essential=False, user=user)

    def _queue(self, job: _Job, queue: Lanes[_Job]) -> None:
        try:
            queue.put_nowait(job.user or "", job)
        except LaneFull:
            lane = "explicit commands" if queue is self._fast else "requests for the model"
            if queue.waiting(job.user or "") >= queue.maxsize:
                message = f"Sasha is busy: {queue.maxsize} of your {lane} are waiting. Try again shortly."
            else:
                message = f"Sasha is busy: {queue.qsize()} {lane} are waiting. Try again shortly."
            self._send(
                job.route,
                job.properties,
                api.short_reply(Status.BUSY, message, job.ident, job.conversation),
                essential=False,
                user=job.user,
            )

    # --- answering -------------------------------------------------------------------------

    async def _work(self, queue: Lanes[_Job], *, local: bool) -> None:
        while True:
            job = await queue.get()
            try:
                reply = await self._answer(job, local=local)
            except Exception:
                _LOGGER.exception("request %r failed", job.ident)
                reply = Reply(Status.ERROR, "Something went wrong inside Sasha; the log says what.", job.ident)
            finally:
                queue.task_done()
            if reply is None:
                job.skip_local = True
                self._queue(job, self._model)
            else:
                body = reply.to_json()
                # A refusal for lack of budget gives way to real answers when the outbox fills.
                self._send(job.route, job.properties, body, essential=body["status"] != Status.BUSY, user=job.user)

    async def _answer(self, job: _Job, *, local: bool) -> Reply | None:
        assistant = self._assistant
        if job.confirm is not None:
            confirm = job.confirm
            return await assistant.confirm(
                confirm.token,
                confirm.approve,
                request_id=job.ident,
                source="mqtt",
                conversation=confirm.conversation,
                route=job.route,
                user=job.user,
                private=False,
            )
        request = job.request
        if request is None:
            return None
        common: dict[str, Any] = {
            "conversation": job.conversation or "",
            "request_id": job.ident,
            "source": "mqtt",
            "token": request.confirm_token,
            "area": request.area,
            "route": job.route,
            "private": False,
            "user": job.user,
        }
        if local:
            return await assistant.handle_local(request.text, **common)
        return await assistant.handle(request.text, skip_local=job.skip_local, **common)

    # --- publishing --------------------------------------------------------------------------

    def _ask_approvers(self, pending: Pending, users: frozenset[str]) -> None:
        """Tell the users who may approve a plain user's plan about it, each on `<root>/approvals/<user>`."""
        body = {
            "token": pending.token,
            "user": pending.user,
            "message": pending.message,
            "actions": [{"device": a.device, "set": dict(a.set)} for a in pending.actions],
            "expires": round(pending.expires, 3),
        }
        for user in sorted(users):
            self._publish(f"{self._root}/approvals/{user}", json.dumps(body))

    def _tell_asker(self, pending: Pending, reply: Reply) -> None:
        """Send what became of a plan an approver settled to the reply route its question went to."""
        if pending.route is not None:
            body = reply.to_json() | {"id": None, "conversation": pending.conversation}
            self._send(pending.route, None, body, user=pending.user)

    def _send(
        self,
        topic: str,
        properties: Properties | None,
        body: dict[str, Any],
        *,
        essential: bool = True,
        user: str | None = None,
    ) -> None:
        """Publish a reply; never raise. Refusals give way first when the outbox fills up."""
        status = str(body.get("status"))
        self.handled += 1
        counts = self._stats.counts
        outcome = "answered" if status not in (Status.REJECTED, Status.BUSY) else status
        counts[outcome] += 1
        mine = self._stats.user(user)
        mine[outcome] += 1
        now = time.monotonic()
        if not essential and (
            self._link.held >= self._link.max_outbox * _SHED_SHARE
            or not self._user_bucket(user).take(now)
            or not self._refusals.take(now)
        ):
            counts["shed"] += 1
            mine["shed"] += 1
            if counts["shed"] % 100 == 1:
                _LOGGER.warning("the outbox is filling up: %d refusals not sent so far", counts["shed"])
            return
        self._publish(topic, json.dumps(body), properties=properties)

    def _publish(self, topic: str, payload: str, *, retain: bool = False, properties: Properties | None = None) -> None:
        try:
            done = self._link.publish_nowait(topic, payload, retain=retain, properties=properties)
        except OutboxFull:
            self._stats.counts["dropped"] += 1
            if self._stats.counts["dropped"] % 100 == 1:
                _LOGGER.warning(
                    "the outbox is full: dropped a message to %s (%d dropped so far)",
                    topic,
                    self._stats.counts["dropped"],
                )
            return
        except Exception:
            self._stats.counts["dropped"] += 1
            _LOGGER.exception("could not queue a message to %s", topic)
            return
        done.add_done_callback(_retrieved)

    def _user_bucket(self, user: str | None) -> _Bucket:
        key = user or ""
        bucket = self._user_refusals.get(key)
        if bucket is None:
            if len(self._user_refusals) >= _USERS_COUNTED:
                self._user_refusals.pop(next(iter(self._user_refusals)))  # forget the oldest
            bucket = self._user_refusals[key] = _Bucket(_REFUSALS_PER_USER, tokens=_REFUSALS_PER_USER)
        return bucket

    def _publish_stats(self, *, force: bool = False) -> None:
        text = json.dumps(self.counters | {"users": self.user_counters}, sort_keys=True)
        if force or text != self._stats.last_published:
            self._stats.last_published = text
            self._publish(f"{self._root}/stats", text, retain=True)

    async def _publish_stats_every(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            if self._link.connected:
                self._publish_stats()


# The answer to a request that comes while the daemon stops or starts over.
_STOPPING = "Sasha is restarting and took nothing from this request. Send it again in a moment."

# Usernames longer than this are not taken from a topic (the stats keep one counter per user).
_USER_MAX = 128


def _under(topic: str, prefix: str) -> bool:
    """Tell whether `topic` is `prefix` or below it."""
    return topic == prefix or topic.startswith(prefix + "/")


def _retrieved(done: asyncio.Future[None]) -> None:
    """Consume a publish's outcome, so a refused message is a log line, not an unretrieved error."""
    if done.cancelled():
        return
    err = done.exception()
    if err is not None:
        _LOGGER.warning("a reply could not be published: %s", err)


def _read(
    parse: Callable[[bytes], api.ApiRequest | api.ApiConfirm | api.Rejection], payload: bytes
) -> Any:  # the parser's own result type
    """Run a parser; any failure inside it is a rejection, never an exception in the receive loop."""
    try:
        return parse(payload)
    except Exception as err:  # noqa: BLE001  (any parser failure, e.g. RecursionError, is a refusal)
        return api.Rejection(f"the message could not be read ({type(err).__name__})")


async def run_daemon(home: Inventory, settings: Settings, *, stop: asyncio.Event | None = None) -> int:
    """Serve the MQTT API and run the routines until SIGTERM/SIGINT (or `stop`), finishing requests in flight.

    With `api.hass` on, the inventory is Home Assistant's (merged into the file or alone), and the
    daemon starts over with the new one whenever the integration offers a changed inventory.
    """
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    if sys.platform != "win32":
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    if settings.api.hass == "off":
        await _serve(home, settings, stop, None)
        return 0
    payload = await discover.fetch_hass(settings)
    if payload is None:
        where = discover.hass_topic(settings)
        if settings.api.hass == "only":
            raise SashaError(f"no Home Assistant inventory on {where}: is the Sasha integration set up here")
        _LOGGER.warning(
            "no Home Assistant inventory on %s yet: serving %s alone until it comes", where, settings.devices
        )
    else:
        home = await asyncio.to_thread(discover.hass_home, settings, payload)
    while not stop.is_set():
        offered = await _serve(home, settings, stop, payload)
        if offered is None:
            break
        try:
            home = await asyncio.to_thread(discover.hass_home, settings, offered)
        except InventoryError as err:
            _LOGGER.error(  # noqa: TRY400  (the problems are the message; a traceback says nothing more)
                "Home Assistant's new inventory cannot be used, keeping the old one: %s", err
            )
        payload = offered
        _LOGGER.warning("Home Assistant's inventory changed: serving %d devices", len(home))
    return 0


async def _serve(
    home: Inventory, settings: Settings, stop: asyncio.Event, hass_inventory: bytes | None
) -> bytes | None:
    """Serve until `stop`; return Home Assistant's new inventory when one different from `hass_inventory` arrives."""
    api_settings = settings.api
    ending = asyncio.Event()
    heard = asyncio.Event()
    offered: list[bytes] = []

    def on_inventory(message: Incoming) -> None:
        heard.set()
        # The broker hands the retained inventory again on every subscribe: only a change counts.
        if message.payload and message.payload != hass_inventory and not offered:
            offered.append(message.payload)
            ending.set()

    client_id = f"sasha-daemon-{settings.api_topic}"
    if api_settings.share:
        # Instances of a share group must not take over each other's session.
        client_id += f"-{api_settings.share}-{socket.gethostname()}-{uuid.uuid4().hex[:6]}"
    run_routines = api_settings.routines
    async with running(
        home,
        settings,
        client_id=client_id,
        announce=True,
        run_routines=run_routines,
        shared_pending=True,
        session_expiry=0 if api_settings.share else None,
    ) as rt:
        if rt.model is None:
            _LOGGER.warning(NO_MODEL)
        # The first match compiles what the sentence templates need: now, before saying online,
        # not at the first request.
        await asyncio.to_thread(rt.assistant.fast_path.match, "turn on the light")
        options = DaemonOptions(
            root=settings.api_topic,
            queue=api_settings.queue,
            reply_routes=api.reply_routes(settings.api_topic, home, allowed=api_settings.reply_prefixes or None),
            share=api_settings.share,
            ha_status_topic=api_settings.ha_status_topic or None,
            home_name=home.home.name,
            routines_owner=client_id if run_routines else None,
            open=api_settings.open,
            ha_user=api_settings.ha_user,
        )
        group_note = f" (share group {api_settings.share})" if api_settings.share else ""
        topics = f"{settings.api_topic}/request/<user>" + (
            f" and {settings.api_topic}/request" if api_settings.open else ""
        )
        serving = f"serving {topics} on {rt.link.settings.url} with {len(home)} devices{group_note}"
        async with asyncio.TaskGroup() as group:
            background: list[asyncio.Task[None] | None] = [
                group.create_task(_once_connected(rt.link, serving), name="serving-notice"),
                group.create_task(rt.engine.run(), name="routines") if rt.engine else None,
                group.create_task(_watch(rt), name="routines-file"),
                # The model's SDK loads in a thread once the daemon is quiet: explicit commands
                # need none of it, and a request for the model that comes first loads it itself.
                group.create_task(_warm(rt.model, rt.link), name="model-warm") if rt.model else None,
            ]
            background.append(group.create_task(_either(stop, ending), name="stop-or-reload"))
            if api_settings.hass != "off":
                await rt.link.subscribe([discover.hass_topic(settings)], on_inventory, early=True)
                if hass_inventory is not None:
                    # Online means Home Assistant's current inventory: one that changed while
                    # the daemon started over ends this run before it says online.
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(discover.HASS_WAIT):
                            await heard.wait()
            if not ending.is_set():
                await Daemon(rt.assistant, rt.link, options=options).serve(ending)
            for task in background:
                if task is not None:
                    task.cancel()
    return offered[0] if offered and not stop.is_set() else None


async def _warm(model: ModelClient, link: MqttConnection, quiet: float = 0.2, longest: float = 10.0) -> None:
    """Load the model's SDK in a thread at the first quiet moment; a failure is logged, and the first call tries again.

    Loading it takes 0.4 s of the one core Python runs on: beside a large home's retained states,
    which arrive just after `online`, it slowed their reading and the first commands by as much.
    """
    await link.wait_online()
    seen = -1
    waited = 0.0
    while link.received != seen and waited < longest:
        seen = link.received
        await asyncio.sleep(quiet)
        waited += quiet
    try:
        await asyncio.to_thread(model.warm)
    except Exception:
        _LOGGER.exception("could not load the model client's SDK ahead of the first request for the model")


async def _either(stop: asyncio.Event, ending: asyncio.Event) -> None:
    """Set `ending` when `stop` is set, so the daemon ends for a signal as for a new inventory."""
    await stop.wait()
    ending.set()


async def _once_connected(link: MqttConnection, notice: str) -> None:
    """Log `notice` when the broker has accepted us: not before, so a refused login never looks like service."""
    await link.wait_connected()
    _LOGGER.warning("%s", notice)


async def _watch(rt: Runtime, interval: float = 2.0) -> None:
    """Reload routines.yaml when it is edited by hand or by `sasha routines`."""
    while True:
        await asyncio.sleep(interval)
        if await rt.routines.reload_if_changed():
            _LOGGER.warning("reloaded %s: %d routines", rt.routines.store.path, len(rt.routines.routines))


__all__ = ["Daemon", "DaemonOptions", "discovery", "node_id", "run_daemon"]
