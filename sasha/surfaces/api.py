"""The MQTT API's messages: requests and confirmations in, replies out (docs/design.md, section 6).

Pure functions from payload bytes to checked values. A request is a JSON object or plain UTF-8
text; anything else is a `Rejection` saying why, which the daemon sends back when it knows
where to, and otherwise logs. `ReplyRoutes` decides which topics a reply may go to: only under
the allowed prefixes, never to a device's, Sasha's own or a discovery topic.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator

from sasha import jsonlimit
from sasha.adapters import adapter_for
from sasha.history.outcomes import Status
from sasha.home.inventory import Inventory
from sasha.mqtt.topics import topic_matches

_Body = TypeVar("_Body", bound=BaseModel)

MAX_TEXT = 2000
# A request's JSON has no business being larger than its text limit allows.
MAX_PAYLOAD = 16 * 1024
MAX_AREA = 128


@dataclass(frozen=True, slots=True)
class ApiRequest:
    """A valid request."""

    text: str
    id: str | None = None
    conversation: str | None = None
    reply_to: str | None = None
    confirm_token: str | None = None
    area: str | None = None  # the room the request comes from (a satellite's area)


@dataclass(frozen=True, slots=True)
class ApiConfirm:
    """A valid confirmation."""

    token: str
    approve: bool
    id: str | None = None
    reply_to: str | None = None
    conversation: str | None = None


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a message was refused, and where the refusal may go."""

    reason: str
    id: str | None = None
    reply_to: str | None = None


def _topic(value: str | None) -> str | None:
    # Only the shape here; which topics a reply may go to is `ReplyRoutes`' decision, whose
    # refusals go to `<root>/response` rather than nowhere.
    if value is None:
        return None
    if not value or len(value) > 256 or "\x00" in value:
        raise ValueError("reply_to must be an MQTT topic of 1 to 256 characters")
    return value


def _ident(value: Any) -> str | None:
    """Return an id or conversation as text (ids may be numbers), None for anything else."""
    if value is None or isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value)[:128]


class _RequestBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    text: str
    id: str | int | None = None
    conversation: str | int | None = None
    reply_to: str | None = None
    confirm_token: str | None = None
    area: str | None = Field(default=None, max_length=MAX_AREA)

    @field_validator("reply_to")
    @classmethod
    def _plain_topic(cls, value: str | None) -> str | None:
        return _topic(value)


class _ConfirmBody(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    token: str
    approve: bool
    id: str | int | None = None
    reply_to: str | None = None
    conversation: str | int | None = None

    @field_validator("reply_to")
    @classmethod
    def _plain_topic(cls, value: str | None) -> str | None:
        return _topic(value)


def _decode(payload: bytes) -> str | Rejection:
    if len(payload) > MAX_PAYLOAD:
        return Rejection(f"request of {len(payload)} bytes is over the {MAX_PAYLOAD} byte limit")
    try:
        return payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        return Rejection("request is not UTF-8 text")


def _salvage(data: Any) -> tuple[str | None, str | None]:
    """Pull id and reply_to out of a refused object, so the refusal can still be delivered."""
    if not isinstance(data, dict):
        return None, None
    ident = _ident(data.get("id"))
    reply_to = data.get("reply_to")
    try:
        return ident, _topic(reply_to) if isinstance(reply_to, str) else None
    except ValueError:
        return ident, None


def _problem(err: pydantic.ValidationError) -> str:
    first = err.errors(include_url=False)[0]
    where = ".".join(str(p) for p in first["loc"]) or "request"
    return "missing text" if first["type"] == "missing" and where == "text" else f"{where}: {first['msg'].lower()}"


def _read_object(text: str, model: type[_Body], what: str) -> _Body | Rejection:
    """Parse a JSON object into `model`, or say why not (with its id and reply_to, if readable)."""
    try:
        data = jsonlimit.loads(text)
    except json.JSONDecodeError as err:
        return Rejection(f"{what} is not valid JSON: {err.msg}")
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as err:
        return Rejection(f"bad {what}: {_problem(err)}", *_salvage(data))


def parse_request(payload: bytes) -> ApiRequest | Rejection:
    """Read a request: a JSON object with "text", or plain text."""
    text = _decode(payload)
    if isinstance(text, Rejection):
        return text
    if text.startswith("{"):
        body = _read_object(text, _RequestBody, "request")
        if isinstance(body, Rejection):
            return body
        area = (body.area.strip() or None) if body.area is not None else None
        request = ApiRequest(
            body.text.strip(), _ident(body.id), _ident(body.conversation), body.reply_to, body.confirm_token, area
        )
    else:
        request = ApiRequest(text)
    if not request.text:
        return Rejection("missing text", request.id, request.reply_to)
    if len(request.text) > MAX_TEXT:
        return Rejection(
            f"text of {len(request.text)} characters is over the {MAX_TEXT} limit", request.id, request.reply_to
        )
    return request


def parse_confirm(payload: bytes) -> ApiConfirm | Rejection:
    """Read a confirmation `{"token": "...", "approve": true}`."""
    text = _decode(payload)
    if isinstance(text, Rejection):
        return text
    body = _read_object(text, _ConfirmBody, "confirmation")
    if isinstance(body, Rejection):
        return body
    return ApiConfirm(body.token, body.approve, _ident(body.id), body.reply_to, _ident(body.conversation))


def short_reply(status: Status, message: str, ident: str | None, conversation: str | None = None) -> dict[str, Any]:
    """Return a reply object that carries no actions (rejected, busy, error)."""
    return {
        "id": ident,
        "conversation": conversation,
        "status": status,
        "message": message,
        "actions": [],
        "routine": None,
        "confirm_token": None,
        "timestamp": datetime.fromtimestamp(time.time(), UTC).isoformat(timespec="milliseconds"),
    }


def rejected(rejection: Rejection) -> dict[str, Any]:
    """Return the reply object for a refused message."""
    return short_reply(Status.REJECTED, rejection.reason, rejection.id)


def default_reply_prefixes(root: str) -> tuple[str, ...]:
    """Return where replies may go unless configured: `<root>/reply/#` and `<root>/response`."""
    return (f"{root}/reply/#", f"{root}/response")


class ReplyRoutes:
    """Which topics a reply may be published to (reply_to and MQTT v5 response topics alike)."""

    def __init__(self, allowed: Iterable[str], forbidden: Iterable[str]) -> None:
        self.allowed = tuple(allowed)
        filters = tuple(forbidden)
        # Every request is checked, and a home has hundreds of forbidden filters: plain topics
        # and `prefix/#` filters are looked up level by level instead of matched one by one.
        self._under = {f[:-2] for f in filters if f.endswith("/#") and "+" not in f[:-2] and "#" not in f[:-2]}
        # `prefix/#` covers `prefix` itself: kept once, as 10,000 devices' topics are 12 MB twice over.
        self._exact = {f for f in filters if "+" not in f and "#" not in f and f not in self._under}
        self._other = tuple(f for f in filters if f not in self._exact and f.removesuffix("/#") not in self._under)

    def _forbidden(self, topic: str) -> bool:
        if topic in self._exact:
            return True
        levels = topic.split("/")
        if any("/".join(levels[:n]) in self._under for n in range(1, len(levels) + 1)):
            return True
        return any(topic_matches(f, topic) for f in self._other)

    def problem(self, topic: str) -> str | None:
        """Say why a reply may not go to `topic`, or None when it may."""
        if not topic or len(topic) > 256 or "\x00" in topic:
            return "the reply topic must be 1 to 256 characters"
        if "+" in topic or "#" in topic:
            return f"the reply topic {topic!r} has a wildcard"
        if topic.startswith("$"):
            return f"the reply topic {topic!r} is a broker topic"
        if self._forbidden(topic):
            return f"the reply topic {topic!r} belongs to a device or to Sasha"
        if not any(topic_matches(f, topic) for f in self.allowed):
            return f"replies go only under {', '.join(self.allowed)}, not to {topic!r}"
        return None


def reply_routes(
    root: str,
    home: Inventory | None = None,
    *,
    allowed: Iterable[str] | None = None,
    discovery_prefix: str = "homeassistant",
    extra_forbidden: Iterable[str] = (),
) -> ReplyRoutes:
    """Build the reply rules: the allowed prefixes, minus every device, API, status and discovery topic.

    The forbidden list still matters when the allowed prefixes are broad (`#`): no setting lets a
    reply reach a device's command or state topic, Sasha's own topics or discovery configs.
    """
    forbidden = [f"{root}/request", f"{root}/confirm", f"{root}/status", f"{root}/stats", f"{root}/routines"]
    forbidden += [f"{root}/routines/#", f"{root}/request/#", f"{root}/confirm/#", f"{root}/approvals/#"]
    forbidden += [f"{discovery_prefix}/#", *extra_forbidden]
    # The integration's hub: a reply posing as Home Assistant's inventory would change Sasha's home.
    forbidden += [f"{root}-hass/#"]
    for device in home.devices.values() if home is not None else ():
        adapter = adapter_for(device)
        forbidden += [device.topic, f"{device.topic}/#"]
        for topic in adapter.state_topics(device):
            forbidden += [topic, f"{topic}/#"]
        for topic in adapter.command_topics(device):
            forbidden += [topic, f"{topic}/#"]
            if "/" in topic:
                # A device's command topic's siblings are its other commands (cmnd/<t>/Dimmer).
                forbidden.append(f"{topic.rsplit('/', 1)[0]}/#")
    return ReplyRoutes(tuple(allowed or default_reply_prefixes(root)), tuple(dict.fromkeys(forbidden)))
