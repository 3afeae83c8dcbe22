"""The MQTT API's messages: requests and confirmations in, replies out (docs/design.md, section 6).

Pure functions from payload bytes to checked values. A request is a JSON object or plain UTF-8
text; anything else is a `Rejection` saying why, which the daemon sends back when it knows
where to, and otherwise logs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, TypeVar

import pydantic
from pydantic import BaseModel, ConfigDict, field_validator

from sasha import jsonlimit

_Body = TypeVar("_Body", bound=BaseModel)

MAX_TEXT = 2000
# A request's JSON has no business being larger than its text limit allows.
MAX_PAYLOAD = 16 * 1024


@dataclass(frozen=True, slots=True)
class ApiRequest:
    """A valid request."""

    text: str
    id: str | None = None
    conversation: str | None = None
    reply_to: str | None = None


@dataclass(frozen=True, slots=True)
class ApiConfirm:
    """A valid confirmation."""

    token: str
    approve: bool
    id: str | None = None
    reply_to: str | None = None


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a message was refused, and where the refusal may go."""

    reason: str
    id: str | None = None
    reply_to: str | None = None


def _topic(value: str | None) -> str | None:
    if value is None:
        return None
    if not value or "+" in value or "#" in value or len(value) > 256:
        raise ValueError("reply_to must be a plain MQTT topic")
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
        request = ApiRequest(body.text.strip(), _ident(body.id), _ident(body.conversation), body.reply_to)
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
    return ApiConfirm(body.token, body.approve, _ident(body.id), body.reply_to)


def rejected(rejection: Rejection) -> dict[str, Any]:
    """Return the reply object for a refused message."""
    return {
        "id": rejection.id,
        "conversation": None,
        "status": "rejected",
        "message": rejection.reason,
        "actions": [],
        "routine": None,
        "confirm_token": None,
    }
