"""The model client: one structured chat completion on `openai.AsyncOpenAI`.

Any OpenAI-compatible server works (OpenAI, Ollama, vLLM, llama.cpp, LM Studio). Structured
output is asked for as `json_schema`; a server that rejects it gets `json_object`, then plain
prompting, and the mode that worked is remembered. The SDK retries 429, 5xx, timeouts and
connection errors with exponential backoff (honouring Retry-After); what still fails becomes
`ModelUnavailable`. Every call is recorded with its tokens and latency.
"""

from __future__ import annotations

import enum
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import openai

from sasha.errors import SashaError
from sasha.planning.llm.settings import ModelSettings

_LOGGER = logging.getLogger(__name__)

OPENAI_URL = "https://api.openai.com/v1"
_FORMAT_WORDS = ("response_format", "json_schema", "json_object", "structured", "schema")
_KEY_LIKE = re.compile(r"\b(sk|key|token)-[A-Za-z0-9_\-*]{4,}")


class ModelError(SashaError):
    """A model call failed; the message is safe to show (no secrets)."""


class ModelUnavailable(ModelError):
    """The model server could not answer (after retries): rate limit, 5xx, timeout, network."""


class CallLimitReached(ModelError):
    """The request already used all the model calls it may."""


class Mode(enum.StrEnum):
    """How structured output is asked for."""

    JSON_SCHEMA = "json_schema"
    JSON_OBJECT = "json_object"
    PLAIN = "plain"


_NEXT_MODE = {Mode.JSON_SCHEMA: Mode.JSON_OBJECT, Mode.JSON_OBJECT: Mode.PLAIN}


@dataclass(frozen=True, slots=True)
class CallRecord:
    """What one model call cost and how it went."""

    purpose: str
    mode: str
    prompt_chars: int
    latency_ms: float
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the record as plain data (for replies and the audit log)."""
        return {
            "purpose": self.purpose,
            "mode": self.mode,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "latency_ms": round(self.latency_ms, 1),
            "error": self.error,
        }


@dataclass(slots=True)
class CallLog:
    """The model calls of one request, with the cap on how many it may make."""

    limit: int
    records: list[CallRecord] = field(default_factory=list)

    @property
    def used(self) -> int:
        """Return how many calls count against the limit."""
        return len(self.records)

    @property
    def tokens(self) -> int:
        """Return the tokens used so far."""
        return sum((r.prompt_tokens or 0) + (r.completion_tokens or 0) for r in self.records)


class ModelClient:
    """Ask a chat completions server for one JSON object."""

    def __init__(self, settings: ModelSettings) -> None:
        self.settings = settings
        # Local servers (Ollama, llama.cpp) need no key, but the SDK insists on one.
        self._client = openai.AsyncOpenAI(
            api_key=settings.api_key or "not-needed",
            # Explicit, because the SDK would read an empty OPENAI_BASE_URL (as compose sets it) as the URL.
            base_url=settings.base_url or OPENAI_URL,
            timeout=settings.timeout,
            max_retries=settings.max_retries,
        )
        self.mode = Mode.JSON_SCHEMA

    async def close(self) -> None:
        """Close the HTTP connections."""
        await self._client.close()

    def _safe(self, text: str) -> str:
        """Remove anything that looks like the API key from a server's message."""
        if self.settings.api_key:
            text = text.replace(self.settings.api_key, "***")
        return _KEY_LIKE.sub("***", text)[:300]

    def _response_format(self, name: str, schema: Mapping[str, Any]) -> dict[str, Any] | None:
        if self.mode is Mode.JSON_SCHEMA:
            return {"type": "json_schema", "json_schema": {"name": name, "schema": dict(schema), "strict": False}}
        if self.mode is Mode.JSON_OBJECT:
            return {"type": "json_object"}
        return None

    async def complete(
        self,
        messages: Sequence[Mapping[str, str]],
        *,
        name: str,
        schema: Mapping[str, Any],
        purpose: str,
        log: CallLog,
    ) -> str:
        """Return the content of one completion, falling back through output modes as needed."""
        if log.used >= log.limit:
            raise CallLimitReached(f"this request already made {log.used} model calls, the most it may")
        prompt_chars = sum(len(m["content"]) for m in messages)
        while True:
            response_format = self._response_format(name, schema)
            extra: dict[str, Any] = {"response_format": response_format} if response_format else {}
            started = time.perf_counter()
            try:
                response = await self._client.chat.completions.create(
                    model=self.settings.model,
                    messages=[dict(m) for m in messages],  # type: ignore[misc]
                    temperature=self.settings.temperature,
                    **extra,
                )
            except openai.OpenAIError as err:
                if self.mode in _NEXT_MODE and _about_format(err):
                    fallback = _NEXT_MODE[self.mode]
                    _LOGGER.info("model server refused %s output; falling back to %s", self.mode, fallback)
                    self.mode = fallback
                    continue
                kind, message = self._explain(err)
                latency = (time.perf_counter() - started) * 1000
                log.records.append(CallRecord(purpose, self.mode.value, prompt_chars, latency, error=message))
                _LOGGER.warning("model call (%s) failed: %s", purpose, message)
                raise kind(message) from None
            latency = (time.perf_counter() - started) * 1000
            usage = response.usage
            log.records.append(
                CallRecord(
                    purpose,
                    self.mode.value,
                    prompt_chars,
                    latency,
                    usage.prompt_tokens if usage else None,
                    usage.completion_tokens if usage else None,
                )
            )
            choice = response.choices[0] if response.choices else None
            return (choice.message.content or "") if choice else ""

    def _explain(self, err: openai.OpenAIError) -> tuple[type[ModelError], str]:
        """Translate an SDK error into ours, most specific first, with no secret in the text."""
        if isinstance(err, openai.APITimeoutError):  # a subclass of APIConnectionError
            return ModelUnavailable, f"the model did not answer within {self.settings.timeout:g} s"
        if isinstance(err, openai.APIConnectionError):
            return ModelUnavailable, f"cannot reach the model server at {self._client.base_url}"
        if isinstance(err, openai.RateLimitError):
            return ModelUnavailable, "the model server is rate limiting us (HTTP 429), even after retries"
        if isinstance(err, openai.AuthenticationError):
            return ModelError, "the model server refused the API key (HTTP 401); check OPENAI_API_KEY"
        if isinstance(err, openai.BadRequestError | openai.UnprocessableEntityError):
            return ModelError, f"the model server refused the request: {self._safe(err.message)}"
        if isinstance(err, openai.APIStatusError):
            return ModelUnavailable, f"the model server failed with HTTP {err.status_code}: {self._safe(err.message)}"
        return ModelError, f"the model call failed: {self._safe(str(err))}"


def _about_format(err: openai.OpenAIError) -> bool:
    """Tell whether an error is a 400/422 refusing the structured-output mode."""
    if not isinstance(err, openai.BadRequestError | openai.UnprocessableEntityError):
        return False
    param = getattr(err, "param", None)
    text = f"{param or ''} {err.message}".lower()
    return any(word in text for word in _FORMAT_WORDS)
