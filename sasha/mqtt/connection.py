"""One resilient MQTT connection on aiomqtt: reconnects, re-subscribes, never drops a command.

Outgoing messages go through a bounded outbox and leave it only when the broker has
acknowledged them (QoS 1), so a command issued while the broker is away is sent once it is
back. The connection is an explicit outer loop with a new `aiomqtt.Client` per attempt and
capped, jittered backoff, as the aiomqtt docs recommend.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import random
import socket
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self, cast
from urllib.parse import parse_qs, unquote, urlsplit

import aiomqtt
from paho.mqtt import client as paho_client
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from sasha.errors import ConfigError, OutboxFull
from sasha.mqtt.topics import is_wildcard, topic_matches, unshared

_LOGGER = logging.getLogger(__name__)

_SCHEMES = {"mqtt": (False, 1883), "tcp": (False, 1883), "mqtts": (True, 8883), "ssl": (True, 8883)}
_SUBSCRIBE_CHUNK = 100
# QoS 1 messages on the wire at once, waiting for their PUBACK. One at a time costs a broker
# round trip per message: a reply queued behind a hundred others waited for a hundred round
# trips. paho's own limit is 20; the broker still receives them in order.
_WINDOW = 20
# Topics whose handlers are remembered; a home's state topics fit many times over.
_ROUTES_MAX = 50_000
# How long the broker keeps our subscriptions and queues QoS 1 messages for us while we
# are away; with persistence on, this survives a broker restart too.
_SESSION_EXPIRY = 3600


@dataclass(frozen=True, slots=True)
class MqttSettings:
    """Where and how to connect; build it with `from_url`."""

    host: str
    port: int = 1883
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    ca_file: str | None = None
    # 5, or 4 for MQTT 3.1.1 brokers (the embedded demo broker); v5 adds response topics.
    protocol: int = 5
    # A client certificate and its key (PEM) for brokers that require one (mqtts:// only).
    cert_file: str | None = None
    key_file: str | None = None

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        ca_file: str | None = None,
        username: str | None = None,
        password: str | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
    ) -> MqttSettings:
        """Parse `mqtt://user:pass@host:port` or `mqtts://…` (TLS, optional CA file).

        `?protocol=3.1.1` selects MQTT 3.1.1 for brokers without MQTT 5. A `username` or
        `password` given here beats the one in the URL (which every local user can read in
        `ps` when it is on a command line).
        """
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as err:
            raise ConfigError(f"invalid MQTT URL {redact_url(url)!r}: {err}") from None
        scheme = parts.scheme.lower()
        if scheme not in _SCHEMES:
            raise ConfigError(f"invalid MQTT URL {redact_url(url)!r}: scheme must be mqtt:// or mqtts://")
        if not parts.hostname:
            raise ConfigError(f"invalid MQTT URL {redact_url(url)!r}: no host")
        tls, default_port = _SCHEMES[scheme]
        query = parse_qs(parts.query)
        protocol = {"5": 5, "3.1.1": 4, "311": 4, "4": 4}.get((query.get("protocol") or ["5"])[0])
        if protocol is None:
            raise ConfigError(f"invalid MQTT URL {redact_url(url)!r}: protocol must be 5 or 3.1.1")
        if (cert_file or key_file) and not tls:
            raise ConfigError(f"a client certificate needs an mqtts:// URL, not {redact_url(url)!r}")
        if key_file and not cert_file:
            raise ConfigError("a client key needs its certificate (--mqtt-cert)")
        return cls(
            host=parts.hostname,
            port=port or default_port,
            username=username or (unquote(parts.username) if parts.username else None),
            password=password or (unquote(parts.password) if parts.password else None),
            tls=tls,
            ca_file=ca_file,
            protocol=protocol,
            cert_file=cert_file,
            key_file=key_file,
        )

    @property
    def url(self) -> str:
        """Return the URL without the password, safe to log and print."""
        scheme = "mqtts" if self.tls else "mqtt"
        user = f"{self.username}:***@" if self.password else (f"{self.username}@" if self.username else "")
        query = "?protocol=3.1.1" if self.protocol == 4 else ""
        return f"{scheme}://{user}{self.host}:{self.port}{query}"


def redact_url(url: str) -> str:
    """Hide the password of a URL, for messages about a URL that did not parse."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return parts._replace(netloc=netloc).geturl()
    except ValueError:
        return "<unparseable URL>"


@dataclass(frozen=True, slots=True)
class Incoming:
    """A received message, with the MQTT v5 request/response properties when present."""

    topic: str
    payload: bytes
    retain: bool = False
    response_topic: str | None = None
    correlation_data: bytes | None = None


Handler = Callable[[Incoming], None]
# Tells, from a message's topic and payload, whether it should be handled before the others.
Urgency = Callable[[str, bytes], bool]
# Names the sender a topic stands for (`sasha/request/<user>` → user), for turns between senders.
Lane = Callable[[str], str | None]
# The rank of a message that is not urgent: after every urgent one.
_NOT_URGENT = 1 << 62
# Received messages handed to the handlers in one turn of the event loop, at most: enough to
# keep up with a flood, few enough that the other tasks get their turn in between.
_DRAIN_BATCH = 50
OnConnect = Callable[[], Awaitable[None]]


@dataclass(slots=True)
class _Outgoing:
    sequence: int
    topic: str
    payload: bytes
    qos: int
    retain: bool
    properties: Properties | None
    done: asyncio.Future[None]


# CONNACK codes for "who you are is not accepted": MQTT 3.1.1 (4, 5) and MQTT 5 (134, 135, 140).
class _Ack(asyncio.Event):
    """A PUBACK awaited, settled by aiomqtt's on_publish callback when it calls `set()`.

    aiomqtt keeps an `asyncio.Event` per awaited PUBACK in `Client._pending_publishes` and sets
    it from `_on_publish`; this one settles the outgoing message instead of waking a task.
    """

    def __init__(self, acked: Callable[[], None], timer: asyncio.TimerHandle) -> None:
        super().__init__()
        self._acked = acked
        self.timer = timer

    def set(self) -> None:
        """Settle the message: the broker has it."""
        self._acked()


_REFUSED = frozenset({4, 5, 134, 135, 140})


def refused(err: BaseException) -> bool:
    """Tell whether a connection error means the broker refused our credentials."""
    code = getattr(err, "rc", None) if isinstance(err, aiomqtt.MqttCodeError) else None
    return getattr(code, "value", code) in _REFUSED


def refusals(patterns: list[str], granted: Iterable[object]) -> dict[str, str]:
    """Return the filters of one SUBSCRIBE that its SUBACK refused, with the broker's reason.

    MQTT 3.1.1 grants a QoS or 0x80 (failure); MQTT 5 answers a reason code per filter.
    """
    codes = list(granted)
    refused_filters = {}
    for index, pattern in enumerate(patterns):
        if index >= len(codes):
            refused_filters[pattern] = "no code in the SUBACK"
            continue
        code = codes[index]
        value = getattr(code, "value", code)
        if isinstance(value, int) and value >= 0x80:
            name = getattr(code, "getName", None)
            refused_filters[pattern] = f"{name() if callable(name) else 'Failure'} (0x{value:02x})"
    return refused_filters


class MqttConnection:
    """A long-lived connection: use `async with`, subscribe handlers, publish commands.

    With a `status_topic`, the connection says `online` there (retained) only once its owner
    has called `ready()` and the broker has acknowledged every subscription, after each
    (re)connect; the broker says `offline` for it when it goes away. Until the first `ready()`
    such a connection holds its subscriptions back and then sends them together, as it does on
    every reconnect: the broker answers a SUBSCRIBE only after the retained messages of the
    ones before it, 1.9 s behind a large home's 20,000 states.
    """

    def __init__(
        self,
        settings: MqttSettings,
        *,
        client_id: str | None = None,
        status_topic: str | None = None,
        max_outbox: int = 1000,
        reconnect_min: float = 0.5,
        reconnect_max: float = 30.0,
        ack_timeout: float = 10.0,
        session_expiry: int = _SESSION_EXPIRY,
    ) -> None:
        self.settings = settings
        # 0 for members of a shared subscription: a stopped member must leave the group at
        # once rather than have the broker keep handing it requests for an hour.
        self._session_expiry = session_expiry
        self.client_id = client_id or f"sasha-{uuid.uuid4().hex[:12]}"
        self._status_topic = status_topic
        self._max_outbox = max_outbox
        self._reconnect_min = reconnect_min
        self._reconnect_max = reconnect_max
        self._ack_timeout = ack_timeout
        # Waiting to be sent, and sent but not yet acknowledged (resent first after a reconnect).
        self._outbox: collections.deque[_Outgoing] = collections.deque()
        self._inflight: dict[int, _Outgoing] = {}
        self._sequence = 0
        self._wakeup = asyncio.Event()
        # Set while a connection's send loop runs: sends one message at once (publish_nowait's fast lane).
        self._sender: Callable[[_Outgoing], None] | None = None
        # Exact topics are looked up, only wildcard filters are matched one by one: a large
        # home subscribes thousands of state topics and every message would scan them all.
        self._exact: dict[str, list[Handler]] = {}
        self._wildcards: list[tuple[str, Handler]] = []
        # Handlers per topic seen, so a wildcard is matched once per topic, not once per message;
        # bounded, since anyone on the broker can publish to fresh topics under a wildcard.
        self._routes: dict[str, list[Handler]] = {}
        self._filters: dict[str, int] = {}
        self._on_connect: list[OnConnect] = []
        self._urgent: Urgency | None = None
        self._lane: Lane | None = None
        self._client: aiomqtt.Client | None = None
        self._connected = asyncio.Event()
        # Filters the broker has not acknowledged on this connection; refused ones are retried.
        self._unacked: set[str] = set()
        self._retry = asyncio.Event()
        self._ready = False
        # Filters subscribed at once even while the rest are held for `ready()`.
        self._early: set[str] = set()
        # Set once `online` is being published on this connection; cleared when it goes.
        self._online = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.connects = 0
        # Messages handed to the handlers so far: how an owner tells a busy connection from a quiet one.
        self.received = 0
        # Why the last attempt failed (no secret in it), and whether the broker refused our
        # credentials; `sasha health` reports both.
        self.last_error: str | None = None
        self.refused = False

    # --- lifecycle ---------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._run(), name=f"mqtt:{self.client_id}")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self, flush_timeout: float = 2.0) -> None:
        """Send what is held (for a short while), say offline, and disconnect."""
        if self._task is None:
            return
        if self.held and self._connected.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(flush_timeout):
                    await self.flush()
        client = self._client
        if client is not None and self._status_topic and self._ready:
            # The will only fires on an unclean disconnect; a clean stop says it itself. One
            # that never got ready said nothing to take back.
            with contextlib.suppress(aiomqtt.MqttError):
                await client.publish(self._status_topic, b"offline", qos=1, retain=True, timeout=2)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        for item in [*self._inflight.values(), *self._outbox]:
            if not item.done.done():
                item.done.cancel()

    @property
    def connected(self) -> bool:
        """Tell whether the broker is connected right now."""
        return self._connected.is_set()

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Wait until the broker is connected (raises TimeoutError)."""
        async with asyncio.timeout(timeout):
            await self._connected.wait()

    async def wait_online(self) -> None:
        """Wait until this connection says `online` on its status topic (after `ready()`)."""
        await self._online.wait()

    @property
    def unacknowledged(self) -> list[str]:
        """Return the subscriptions the broker has not acknowledged (yet) on this connection."""
        return sorted(self._unacked)

    async def ready(self) -> None:
        """Send the held subscriptions; say online once all are acknowledged, now and after every reconnect."""
        self._ready = True
        client = self._client
        if client is not None and self._connected.is_set():
            # A broken connection subscribes and says it on its next reconnect instead.
            with contextlib.suppress(aiomqtt.MqttError):
                await self._subscribe(client, [p for p in self._filters if p in self._unacked])

    @property
    def _holding(self) -> bool:
        """Tell whether subscriptions wait for `ready()` (a connection with a status topic, before its first)."""
        return self._status_topic is not None and not self._ready

    def _sendable(self, patterns: Iterable[str]) -> list[str]:
        """Return those of `patterns` that may be subscribed now: all, or the early ones while holding."""
        if self._holding:
            return [p for p in patterns if p in self._early]
        return list(patterns)

    def prioritize(self, urgent: Urgency, lane: Lane | None = None) -> None:
        """Handle received messages for which `urgent(topic, payload)` is true before the rest.

        Received messages wait in an inbox until the handlers get to them; under a flood a
        command would otherwise wait behind thousands of messages read before it. With `lane`
        (the sender a topic stands for), urgent messages of different senders take turns: a
        sender's n-th waiting urgent message goes after every other sender's (n-1)-th, so one
        sender's flood of commands does not hold another's back.
        """
        self._urgent = urgent
        self._lane = lane

    def on_connect(self, callback: OnConnect) -> None:
        """Run `callback` after every (re)connect, once subscriptions are restored."""
        self._on_connect.append(callback)

    # --- subscribing -------------------------------------------------------------------

    async def subscribe(self, filters: Iterable[str], handler: Handler, *, qos: int = 1, early: bool = False) -> None:
        """Deliver messages matching `filters` to `handler`, now and after every reconnect.

        Filters of one connection should not overlap: a broker delivers a message once per
        matching subscription, so every handler would see it twice. With `early`, the filters
        are subscribed at once even on a connection that holds the rest until `ready()`: for
        what must be known before saying online.
        """
        new = []
        for pattern in filters:
            # Messages of a shared subscription arrive with their plain topic.
            match = unshared(pattern)
            if pattern not in self._filters:
                self._warn_overlap(match)
            if is_wildcard(match):
                self._wildcards.append((match, handler))
            else:
                self._exact.setdefault(match, []).append(handler)
            self._routes.clear()
            if pattern not in self._filters:
                self._filters[pattern] = qos
                new.append(pattern)
            if early:
                self._early.add(pattern)
        client = self._client
        if client is None or not new:
            return
        self._unacked.update(new)
        if sendable := self._sendable(new):
            try:
                await self._subscribe(client, sendable)
            except aiomqtt.MqttError as err:
                # The connection's own tasks retry it, or the next connection subscribes it.
                _LOGGER.warning("subscribing to %s failed (%s); retrying", ", ".join(sendable), err)
                self._retry.set()

    def _warn_overlap(self, pattern: str) -> None:
        # Only a wildcard overlaps a plain topic, so plain topics are never compared with each
        # other (quadratic in the thousands a large home subscribes); two wildcards are not checked.
        if is_wildcard(pattern):
            others = [p for p in self._filters if not is_wildcard(p) and topic_matches(pattern, p)]
        else:
            others = [p for p, _ in self._wildcards if topic_matches(p, pattern)]
        if others:
            _LOGGER.warning("subscription %s overlaps %s: its messages will arrive twice", pattern, others[0])

    async def _subscribe(self, client: aiomqtt.Client, patterns: list[str]) -> None:
        """Subscribe in chunks; log what the broker refuses and keep it for a retry."""
        for start in range(0, len(patterns), _SUBSCRIBE_CHUNK):
            chunk = patterns[start : start + _SUBSCRIBE_CHUNK]
            granted = await client.subscribe([(p, self._filters[p]) for p in chunk])
            refused_filters = refusals(chunk, granted)
            self._unacked.difference_update(p for p in chunk if p not in refused_filters)
            for pattern, reason in refused_filters.items():
                _LOGGER.error("MQTT %s refused the subscription %s: %s; retrying", self.settings.url, pattern, reason)
            if refused_filters:
                self._retry.set()
        await self._announce_if_ready(client)

    async def _keep_subscribed(self, client: aiomqtt.Client) -> None:
        """Subscribe again, with capped backoff, to whatever the broker refused or did not answer."""
        while True:
            await self._retry.wait()
            self._retry.clear()
            delay = self._reconnect_min
            while retry := self._sendable(sorted(self._unacked)):
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311  (jitter)
                delay = min(self._reconnect_max, delay * 2)
                await self._subscribe(client, retry)

    async def _announce_if_ready(self, client: aiomqtt.Client) -> None:
        if not self._status_topic or not self._ready or self._unacked or self._online.is_set():
            return
        if client is not self._client or not self._connected.is_set():
            return  # still connecting: _serve announces once the connection is set up
        self._online.set()
        await client.publish(self._status_topic, b"online", qos=1, retain=True)

    def _dispatch(self, message: aiomqtt.Message) -> None:
        self.received += 1
        payload = message.payload
        if not isinstance(payload, bytes | bytearray):
            payload = b"" if payload is None else str(payload).encode()
        props = message.properties
        response_topic = getattr(props, "ResponseTopic", None) if props is not None else None
        correlation = getattr(props, "CorrelationData", None) if props is not None else None
        incoming = Incoming(message.topic.value, bytes(payload), message.retain, response_topic, correlation)
        for handler in self._handlers(incoming.topic):
            try:
                handler(incoming)
            except Exception:
                # One faulty handler must not stop the connection for everyone else.
                _LOGGER.exception("a handler failed on a message to %s", incoming.topic)

    def _handlers(self, topic: str) -> list[Handler]:
        handlers = self._routes.get(topic)
        if handlers is None:
            handlers = list(self._exact.get(topic, ()))
            handlers += [h for pattern, h in self._wildcards if topic_matches(pattern, topic)]
            if len(self._routes) >= _ROUTES_MAX:
                self._routes.clear()
            self._routes[topic] = handlers
        return handlers

    # --- publishing --------------------------------------------------------------------

    def publish_nowait(
        self,
        topic: str,
        payload: bytes | str,
        *,
        qos: int = 1,
        retain: bool = False,
        properties: Properties | None = None,
    ) -> asyncio.Future[None]:
        """Queue a message; the future resolves when the broker has it (raises OutboxFull)."""
        if self.held >= self._max_outbox:
            raise OutboxFull(f"{self.held} messages are already waiting for the broker")
        data = payload.encode() if isinstance(payload, str) else payload
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sequence += 1
        item = _Outgoing(self._sequence, topic, data, qos, retain, properties, done)
        sender = self._sender
        if sender is not None and not self._outbox and len(self._inflight) < _WINDOW:
            # Nothing waits before it: send now rather than wake the send loop to do it, a task
            # switch less on every command's way out.
            sender(item)
        else:
            self._outbox.append(item)
            self._wakeup.set()
        return done

    async def publish(
        self,
        topic: str,
        payload: bytes | str,
        *,
        qos: int = 1,
        retain: bool = False,
        properties: Properties | None = None,
        wait: float | None = None,
    ) -> bool:
        """Queue a message and wait up to `wait` seconds; True if the broker acknowledged it.

        False means the message is still held and will be sent when the broker is back.
        """
        done = self.publish_nowait(topic, payload, qos=qos, retain=retain, properties=properties)
        try:
            async with asyncio.timeout(wait):
                await asyncio.shield(done)
        except TimeoutError:
            return False
        return True

    async def flush(self) -> None:
        """Wait until every message queued so far has been acknowledged by the broker."""
        waiting = [*self._inflight.values(), *self._outbox]
        await asyncio.gather(*(asyncio.shield(item.done) for item in waiting), return_exceptions=True)

    @property
    def max_outbox(self) -> int:
        """Return how many messages the outbox holds at most."""
        return self._max_outbox

    @property
    def held(self) -> int:
        """Return how many messages wait for the broker."""
        return len(self._outbox) + len(self._inflight)

    async def _send(self, client: aiomqtt.Client) -> None:
        """Send the outbox in order with up to `_WINDOW` messages awaiting their PUBACK.

        A message goes to paho at once and its PUBACK settles it through aiomqtt's own
        on_publish callback: no task per message (aiomqtt's `publish` starts two, which cost
        a tenth of a command's round trip on a local broker).
        """
        failed: list[aiomqtt.MqttError] = []
        loop = asyncio.get_running_loop()
        # aiomqtt's table of PUBACKs awaited, by message id; its on_publish calls `.set()`.
        acks = client._pending_publishes
        mine: dict[int, _Ack] = {}

        def fail(err: aiomqtt.MqttError) -> None:
            failed.append(err)
            self._sender = None
            self._wakeup.set()

        def expire(mid: int) -> None:
            acks.pop(mid, None)
            mine.pop(mid, None)
            fail(aiomqtt.MqttError("Operation timed out"))

        def send(item: _Outgoing) -> None:
            self._inflight[item.sequence] = item
            try:
                info = client._client.publish(item.topic, item.payload, item.qos, item.retain, item.properties)
            except (ValueError, TypeError) as err:
                # A message paho refuses outright is dropped, not retried for ever.
                _LOGGER.error(  # noqa: TRY400  (a refused message is not a crash)
                    "dropping unpublishable message to %r: %s", item.topic, err
                )
                self._settle(item, err)
                return
            if info.rc != paho_client.MQTT_ERR_SUCCESS:
                fail(aiomqtt.MqttCodeError(info.rc, "Could not publish message"))  # it stays in flight
                return
            if info.is_published():
                self._settle(item, None)
                return

            def acked() -> None:
                mine.pop(info.mid, None)
                timer.cancel()
                self._settle(item, None)

            timer = loop.call_later(self._ack_timeout, expire, info.mid)
            mine[info.mid] = acks[info.mid] = _Ack(acked, timer)

        try:
            while True:
                self._sender = None if failed else send
                while not failed and (not self._outbox or len(self._inflight) >= _WINDOW):
                    self._wakeup.clear()
                    await self._wakeup.wait()
                if failed:
                    raise failed[0]  # the connection is gone: reconnect
                send(self._outbox.popleft())
        finally:
            self._sender = None
            for mid, ack in mine.items():
                ack.timer.cancel()
                acks.pop(mid, None)
            # Whatever was not acknowledged goes out again first, in its order, on the next connection.
            unacked = sorted(self._inflight.values(), key=lambda item: item.sequence)
            self._inflight.clear()
            self._outbox.extendleft(reversed(unacked))

    def _settle(self, item: _Outgoing, err: Exception | None) -> None:
        self._inflight.pop(item.sequence, None)
        self._wakeup.set()
        if item.done.done():
            return
        if err is None:
            item.done.set_result(None)
        else:
            item.done.set_exception(err)

    # --- the connection loop -------------------------------------------------------------

    def _client_for(self) -> aiomqtt.Client:
        settings = self.settings
        will = None
        if self._status_topic:
            will = aiomqtt.Will(self._status_topic, b"offline", qos=1, retain=True)
        session: dict[str, Any]
        if settings.protocol == 5:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = self._session_expiry
            # Always resume: the broker keeps our subscriptions and queues QoS 1 messages
            # while we are away. mosquitto only writes sessions that were not started
            # clean to its persistence file, so even the first connect must not be clean
            # for a command to survive a broker restart.
            session = {"protocol": aiomqtt.ProtocolVersion.V5, "clean_start": False, "properties": properties}
        else:
            session = {"protocol": aiomqtt.ProtocolVersion.V311, "clean_session": False}
        client = aiomqtt.Client(
            settings.host,
            settings.port,
            queue_type=_inbox_type(self),
            username=settings.username,
            password=settings.password,
            identifier=self.client_id,
            will=will,
            tls_params=(
                aiomqtt.TLSParameters(ca_certs=settings.ca_file, certfile=settings.cert_file, keyfile=settings.key_file)
                if settings.tls
                else None
            ),
            timeout=self._ack_timeout,
            keepalive=30,
            # Small command packets must not wait for Nagle's algorithm and the peer's
            # delayed ACK: without this a round trip costs ~40 ms per hop on loopback.
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
            **session,
        )
        # aiomqtt warns past 10 unacknowledged publishes; our window keeps up to _WINDOW on purpose.
        client.pending_calls_threshold = _WINDOW + 4
        return client

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                client = self._client_for()
                async with client:
                    failures = 0
                    await self._serve(client)
            except Exception as err:  # the loop must outlive any one failure
                if not isinstance(err, aiomqtt.MqttError):
                    _LOGGER.exception("MQTT connection failed unexpectedly")
                self._connected.clear()
                self._client = None
                delay = min(self._reconnect_max, self._reconnect_min * 2**failures)
                delay *= random.uniform(0.5, 1.0)  # noqa: S311  (jitter, not cryptography)
                failures += 1
                self.refused = refused(err)
                self.last_error = str(err) or type(err).__name__
                if self.refused:
                    # Retrying will not fix wrong credentials: say so every time, loudly.
                    _LOGGER.error(  # noqa: TRY400  (a refusal is not a crash: no traceback)
                        "MQTT %s refused %s: not authorised (%s); check the username, password file or "
                        "client certificate; retrying in %.1fs",
                        self.settings.url,
                        f"user {self.settings.username!r}" if self.settings.username else "an anonymous login",
                        err,
                        delay,
                    )
                else:
                    # A broker that stays away is reported now and then, not once and never again.
                    log = _LOGGER.warning if failures <= 3 or failures % 20 == 0 else _LOGGER.debug
                    log("MQTT %s unavailable (%s); retrying in %.1fs", self.settings.url, err, delay)
                await asyncio.sleep(delay)

    async def _serve(self, client: aiomqtt.Client) -> None:
        self._unacked = set(self._filters)
        self._online.clear()
        self._retry.clear()
        # Set before subscribing, so that a filter added meanwhile is subscribed on this connection too.
        self._client = client
        _write_from_the_loop(client)
        if sendable := self._sendable(self._filters):
            await self._subscribe(client, sendable)
        self._connected.set()
        self.connects += 1
        self.last_error = None
        self.refused = False
        _LOGGER.info("connected to MQTT %s as %s", self.settings.url, self.client_id)
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._send(client), name=f"mqtt-send:{self.client_id}")
                group.create_task(_disconnected(client), name=f"mqtt-watch:{self.client_id}")
                group.create_task(self._keep_subscribed(client), name=f"mqtt-subscribe:{self.client_id}")
                for callback in self._on_connect:
                    await callback()
                await self._announce_if_ready(client)
        except* aiomqtt.MqttError as errors:
            raise errors.exceptions[0] from None
        finally:
            self._connected.clear()
            self._online.clear()
            self._client = None

    def _rank(self, message: aiomqtt.Message) -> tuple[bool, str | None]:
        """Return whether a message is urgent, and its sender's lane (None: no turns)."""
        urgent, lane = self._urgent, self._lane
        if urgent is None:
            return False, None
        topic = message.topic.value
        payload = message.payload if isinstance(message.payload, bytes) else b""
        try:
            if not urgent(topic, payload):
                return False, None
            return True, lane(topic) if lane is not None else None
        except Exception:  # a faulty rule must not lose the message
            _LOGGER.exception("could not rank a message to %s", topic)
            return False, None

    def _drain(self, inbox: asyncio.Queue[Any]) -> bool:
        """Hand up to `_DRAIN_BATCH` waiting messages to their handlers; tell whether more wait."""
        for _ in range(_DRAIN_BATCH):
            if inbox.empty():
                return False
            self._dispatch(inbox.get_nowait())
        return not inbox.empty()


async def _disconnected(client: aiomqtt.Client) -> None:
    """Raise `MqttError` when aiomqtt finds the connection gone (its message iterator's signal)."""
    gone = client._disconnected
    with contextlib.suppress(Exception):
        await asyncio.shield(gone)
    raise aiomqtt.MqttError("Disconnected from the broker") from (gone.exception() if gone.done() else None)


def _write_from_the_loop(client: aiomqtt.Client) -> None:
    """Write the packets paho queues on the loop's next turn, watching the socket only when it is full.

    aiomqtt asks the loop to watch the socket for every packet paho queues (a wake-up write from
    `call_soon_threadsafe`, then `add_writer` and `remove_writer`): two system calls, two epoll
    changes and two more turns of the loop per packet. Once connected, paho is only driven from
    the loop's thread, so a plain `call_soon` will do. Not written at once: paho queues acks from
    inside its own callbacks, where writing would re-enter it.
    """
    paho = client._client
    sock = paho.socket()
    if sock is None:
        return
    loop = asyncio.get_running_loop()
    fd = sock.fileno()
    scheduled = watching = False

    def write() -> None:
        nonlocal scheduled, watching
        scheduled = False
        if paho.socket() is not sock:
            # Closed since this was scheduled: its number may already be another socket's, which
            # the loop must not be told to watch for this connection.
            return
        try:
            paho.loop_write()
        except Exception as exc:  # noqa: BLE001  (as aiomqtt's own writer: a broken socket ends the connection)
            if not client._disconnected.done():
                client._disconnected.set_exception(exc)
            return
        if paho.want_write() and not watching:
            # The socket's buffer is full: write the rest when the kernel has room.
            watching = True
            loop.add_writer(fd, write)

    def register(*_: object) -> None:
        nonlocal scheduled
        if not scheduled and not watching:
            scheduled = True
            loop.call_soon(write)

    def unregister(*_: object) -> None:
        nonlocal watching
        if watching:
            watching = False
            loop.remove_writer(fd)

    def drop_aiomqtts_writer() -> None:
        if not watching and paho.socket() is sock:
            loop.remove_writer(fd)

    # aiomqtt's writer may still be watching for the CONNECT packet: take over from it. It may
    # also be about to: aiomqtt asks for a writer with `call_soon_threadsafe`, and an ack paho
    # queued while reading the CONNACK (for messages a kept session had waiting) is asked for
    # behind the wake-up that brought us here. Left, that writer fires on every turn of the
    # loop while the socket lives, and outlives it in the selector, so that the next socket to
    # get its number cannot be read.
    loop.remove_writer(fd)
    paho.on_socket_register_write = register
    paho.on_socket_unregister_write = unregister
    loop.call_soon(drop_aiomqtts_writer)
    if paho.want_write():
        register()


def _inbox_type(connection: MqttConnection) -> type[asyncio.Queue[aiomqtt.Message]]:
    """Return the class of aiomqtt's inbox for one connection: urgent messages first, else in order.

    An urgent message's rank is how many urgent messages of its lane wait ahead of it, so lanes
    take turns; messages of equal rank keep their order of arrival. The inbox hands its messages
    to the connection's handlers itself, a batch per turn of the event loop: aiomqtt's message
    iterator costs a task and two more turns of the loop per message.
    """
    arrival = itertools.count()
    waiting: collections.Counter[str] = collections.Counter()
    # aiomqtt builds its inbox on the loop, and paho hands it messages from the loop's thread.
    loop = asyncio.get_running_loop()

    class Inbox(asyncio.PriorityQueue[tuple[int, int, str | None, aiomqtt.Message]]):
        _scheduled = False  # a hand-over is due on the loop's next turn

        def _hand_over(self) -> None:
            more = True  # should a handler ever raise past `_dispatch`, the rest still gets its turn
            try:
                more = connection._drain(self)
            finally:
                self._scheduled = more
                if more:
                    loop.call_soon(self._hand_over)

        def _put(self, item: Any) -> None:
            urgent, lane = connection._rank(item)
            rank = _NOT_URGENT
            if urgent:
                rank = waiting[lane] if lane is not None else 0
                if lane is not None:
                    waiting[lane] += 1
            super()._put((rank, next(arrival), lane if urgent else None, item))
            if not self._scheduled:
                self._scheduled = True
                loop.call_soon(self._hand_over)

        def _get(self) -> Any:
            _rank, _arrival, lane, item = super()._get()
            if lane is not None:
                waiting[lane] -= 1
                if waiting[lane] <= 0:
                    del waiting[lane]
            return item

    return cast("type[asyncio.Queue[aiomqtt.Message]]", Inbox)
