"""The model client: one structured chat completion on `openai.AsyncOpenAI`.

Any OpenAI-compatible server works (OpenAI, Ollama, vLLM, llama.cpp, LM Studio, llama-cpp-python).
Structured output is asked for in the first mode the server accepts, in this order:

1. `json_schema` (OpenAI, vLLM, Ollama, LM Studio, llama.cpp's `llama-server`);
2. `json_object` with the schema under `schema` (llama.cpp and llama-cpp-python constrain
   decoding with it; other servers ignore the extra key);
3. `json_object`;
4. plain prompting.

A server refuses a mode in its own way: 400 or 422 from most, HTTP 500 with a validation
message from llama-cpp-python. So a refusal is recognised by what the error says (it names
`response_format`, `json_schema`, `schema`…) at any status code, and costs no retry. The mode
that worked is remembered per server (base URL) and logged once.

The SDK's own retries are off: it would retry a refusal (a 500) and a timeout, and a single-
queue local server is still working on an abandoned call when the retry arrives. This client
retries only 429, 5xx that are not refusals, and connection errors, with capped backoff that
honours Retry-After; a call that times out is not sent again. Every call has a completion-token
bound for its kind, and all calls of a request share one deadline (`CallLog.deadline`): each
call's timeout is cut to what is left of it. Every call is recorded with its tokens and latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import importlib
import logging
import random
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sasha.errors import SashaError
from sasha.planning.llm.settings import ModelSettings

_LOGGER = logging.getLogger(__name__)


class _Sdk:
    """The `openai` package, imported when it is first used rather than with this module.

    Importing it takes 0.4 s on a small machine, which `sasha run` would spend before it can
    say online; the daemon loads it in a thread at its first quiet moment (`ModelClient.warm`).
    """

    def __getattr__(self, name: str) -> Any:
        return getattr(importlib.import_module("openai"), name)


if TYPE_CHECKING:
    import openai
    from openai.types.chat import ChatCompletion
else:
    openai = _Sdk()

OPENAI_URL = "https://api.openai.com/v1"
# What a refusal of a structured-output mode talks about; "format" alone is too common a word.
_FORMAT_WORDS = ("response_format", "json_schema", "json_object", "structured output", "schema", "grammar")
_KEY_LIKE = re.compile(r"\b(sk|key|token)-[A-Za-z0-9_\-*]{4,}")
_BACKOFF_FIRST = 0.5
_BACKOFF_MAX = 8.0


class Limit(enum.StrEnum):
    """The limit that cut a request short (a reply's `usage.limit`)."""

    DEADLINE = "deadline"
    CALL_CAP = "call_cap"
    CALL_TIMEOUT = "call_timeout"


class ModelError(SashaError):
    """A model call failed; the message is safe to show (no secrets)."""

    #: Which limit of the request ended it: Limit.DEADLINE, Limit.CALL_CAP or Limit.CALL_TIMEOUT (None: no limit).
    limit: str | None = None


class ModelUnavailable(ModelError):
    """The model server could not answer (after retries): rate limit, 5xx, timeout, network."""


class CallTimeout(ModelUnavailable):
    """One call took longer than the per-call timeout (and was not sent again)."""

    limit = Limit.CALL_TIMEOUT


class DeadlineExceeded(ModelUnavailable):
    """The request's deadline for all its model calls ran out."""

    limit = Limit.DEADLINE


class CallLimitReached(ModelError):
    """The request already used all the model calls it may."""

    limit = Limit.CALL_CAP


class Mode(enum.StrEnum):
    """How structured output is asked for."""

    JSON_SCHEMA = "json_schema"
    JSON_OBJECT_SCHEMA = "json_object+schema"
    JSON_OBJECT = "json_object"
    PLAIN = "plain"


_NEXT_MODE = {
    Mode.JSON_SCHEMA: Mode.JSON_OBJECT_SCHEMA,
    Mode.JSON_OBJECT_SCHEMA: Mode.JSON_OBJECT,
    Mode.JSON_OBJECT: Mode.PLAIN,
}


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
    # HTTP requests the call took: refusals of a mode and retries included.
    attempts: int = 1
    finish_reason: str | None = None
    # Prompt tokens the server did not read again (its prefix cache), when it says so.
    cached_tokens: int | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the record as plain data (for replies and the audit log)."""
        return {
            "purpose": self.purpose,
            "mode": self.mode,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cached_tokens": self.cached_tokens,
            "latency_ms": round(self.latency_ms, 1),
            "attempts": self.attempts,
            "error": self.error,
        }


@dataclass(slots=True)
class CallLog:
    """The model calls of one request, with the cap on how many it may make and its deadline."""

    limit: int
    records: list[CallRecord] = field(default_factory=list)
    # The request's deadline on the `time.monotonic()` clock; None: no deadline.
    deadline: float | None = None
    budget: float | None = None
    # Which limit cut the request short, if one did: Limit.DEADLINE, Limit.CALL_CAP or Limit.CALL_TIMEOUT.
    limit_hit: str | None = None

    @classmethod
    def starting_now(cls, limit: int, budget: float | None) -> CallLog:
        """Start the log of a request that may make `limit` calls within `budget` seconds."""
        return cls(limit, deadline=None if budget is None else time.monotonic() + budget, budget=budget)

    @property
    def used(self) -> int:
        """Return how many calls count against the limit."""
        return len(self.records)

    @property
    def tokens(self) -> int:
        """Return the tokens used so far."""
        return sum((r.prompt_tokens or 0) + (r.completion_tokens or 0) for r in self.records)

    def remaining(self) -> float | None:
        """Return the seconds left before the deadline (None: no deadline)."""
        return None if self.deadline is None else self.deadline - time.monotonic()


def response_format(mode: Mode, name: str, schema: Mapping[str, Any]) -> dict[str, Any] | None:
    """Return the `response_format` that asks for structured output in `mode` (None: plain)."""
    if mode is Mode.JSON_SCHEMA:
        return {"type": "json_schema", "json_schema": {"name": name, "schema": dict(schema), "strict": False}}
    if mode is Mode.JSON_OBJECT_SCHEMA:
        return {"type": "json_object", "schema": dict(schema)}
    if mode is Mode.JSON_OBJECT:
        return {"type": "json_object"}
    return None


def is_refusal(err: openai.OpenAIError) -> bool:
    """Tell whether an error refuses the structured-output mode, whatever its status code."""
    if not isinstance(err, openai.APIStatusError) or isinstance(
        err, openai.AuthenticationError | openai.PermissionDeniedError | openai.RateLimitError | openai.NotFoundError
    ):
        return False
    param = getattr(err, "param", None)
    text = f"{param or ''} {err.message} {err.body or ''}".lower()
    return any(word in text for word in _FORMAT_WORDS)


def _retryable(err: openai.OpenAIError) -> bool:
    """Tell whether an error is worth one more try: 429, 5xx, or the connection (never a timeout)."""
    if isinstance(err, openai.APITimeoutError):
        return False
    if isinstance(err, openai.APIConnectionError):
        return True
    if isinstance(err, openai.APIStatusError):
        return err.status_code == 429 or err.status_code >= 500
    return False


def _backoff(err: openai.OpenAIError, attempt: int) -> float:
    """Return how long to wait before retry `attempt` (1-based): Retry-After if given, else jittered doubling."""
    headers = err.response.headers if isinstance(err, openai.APIStatusError) else None
    if headers is not None:
        for header, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
            value = headers.get(header)
            try:
                if value is not None:
                    return min(max(float(str(value)) * scale, 0.0), _BACKOFF_MAX)
            except ValueError:
                pass  # an HTTP date: fall back to our own backoff
    base = min(_BACKOFF_FIRST * 2.0 ** (attempt - 1), _BACKOFF_MAX)
    return base * (0.75 + random.random() / 2)  # noqa: S311 - jitter, not security


def cached_tokens(response: ChatCompletion) -> int | None:
    """Return the prompt tokens the server took from its prefix cache, or None when it does not say.

    OpenAI (and vLLM, LM Studio) report `usage.prompt_tokens_details.cached_tokens`; llama.cpp's
    server reports `timings.cache_n` (tokens reused) beside `timings.prompt_n` (tokens read anew).
    """
    details = response.usage.prompt_tokens_details if response.usage else None
    if details is not None and details.cached_tokens is not None:
        return details.cached_tokens
    timings = (response.model_extra or {}).get("timings")
    if isinstance(timings, dict):
        cached = timings.get("cache_n")
        if isinstance(cached, int) and not isinstance(cached, bool) and cached >= 0:
            return cached
    return None


def _since(started: float) -> float:
    """Return the milliseconds since `started` (a `time.perf_counter()` reading)."""
    return (time.perf_counter() - started) * 1000


class ModelClient:
    """Ask a chat completions server for one JSON object."""

    def __init__(self, settings: ModelSettings, *, modes: dict[str, Mode] | None = None) -> None:
        self.settings = settings
        self.base_url = settings.base_url or OPENAI_URL
        # Built at first use: `warm` does it in a thread while the loop may already need it.
        self._sdk: openai.AsyncOpenAI | None = None
        self._building = threading.Lock()
        # The mode that works, per server; shared by the clients of one run when they pass the same dict.
        self._modes = {} if modes is None else modes
        self._settled: set[str] = set()

    @property
    def _client(self) -> openai.AsyncOpenAI:
        with self._building:
            if self._sdk is None:
                # Local servers (Ollama, llama.cpp) need no key, but the SDK insists on one.
                self._sdk = openai.AsyncOpenAI(
                    api_key=self.settings.api_key or "not-needed",
                    # Explicit, because the SDK would read an empty OPENAI_BASE_URL (as compose sets it) as the URL.
                    base_url=self.base_url,
                    timeout=self.settings.timeout,
                    # Our own loop retries, knowing refusals and timeouts apart (see the module docstring).
                    max_retries=0,
                )
            return self._sdk

    @property
    def mode(self) -> Mode:
        """Return the output mode this client will try first on its server."""
        return self._modes.get(self.base_url, Mode.JSON_SCHEMA)

    def _fall_back(self, refused: Mode) -> Mode:
        fallback = _NEXT_MODE[refused]
        _LOGGER.info("model server %s refused %s output; trying %s", self.base_url, refused, fallback)
        self._modes[self.base_url] = fallback
        return fallback

    def warm(self) -> None:
        """Import and build what the SDK otherwise loads at its first call (blocking; run it in a thread)."""
        # About a second on a small machine, on the event loop, in the middle of whatever else
        # the daemon is serving at that moment: the SDK itself, the HTTP stack's asyncio backend,
        # the chat resources and the response models.
        with contextlib.suppress(ImportError):  # an HTTP stack without anyio has nothing to load
            importlib.import_module("anyio._backends._asyncio")
        _ = self._client.chat.completions
        completion: type[ChatCompletion] = importlib.import_module("openai.types.chat").ChatCompletion
        completion.model_validate(
            {
                "id": "warm",
                "object": "chat.completion",
                "created": 0,
                "model": "warm",
                "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "{}"}}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        )

    async def close(self) -> None:
        """Close the HTTP connections."""
        if self._sdk is not None:
            await self._sdk.close()

    def _safe(self, text: str) -> str:
        """Remove anything that looks like the API key from a server's message."""
        if self.settings.api_key:
            text = text.replace(self.settings.api_key, "***")
        return _KEY_LIKE.sub("***", text)[:300]

    def _call_budget(self, log: CallLog) -> tuple[float, bool]:
        """Return this call's timeout and whether the request's deadline (not the per-call timeout) sets it."""
        remaining = log.remaining()
        if remaining is not None and remaining < self.settings.timeout:
            return remaining, True
        return self.settings.timeout, False

    def _deadline_error(self, log: CallLog) -> DeadlineExceeded:
        log.limit_hit = Limit.DEADLINE
        budget = f" {log.budget:g} s" if log.budget is not None else ""
        return DeadlineExceeded(f"the request's{budget} deadline for model calls ran out after {log.used} call(s)")

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
            log.limit_hit = Limit.CALL_CAP
            raise CallLimitReached(f"this request already made {log.used} model calls, the most it may")
        if self._sdk is None:
            # Not on the loop: importing the SDK would stop everything else for 0.4 s.
            await asyncio.to_thread(self.warm)
        prompt_chars = sum(len(m["content"]) for m in messages)
        attempts = 0
        retries = 0
        started = time.perf_counter()
        mode = self.mode

        def record() -> CallRecord:
            return CallRecord(purpose, mode.value, prompt_chars, _since(started), attempts=attempts)

        while True:
            mode = self.mode
            budget, by_deadline = self._call_budget(log)
            if budget <= 0:
                raise self._failed(log, self._deadline_error(log), record())
            extra: dict[str, Any] = {}
            if (fmt := response_format(mode, name, schema)) is not None:
                extra["response_format"] = fmt
            attempts += 1
            try:
                # asyncio.timeout is the authority: httpx's timeout is per read, not for the whole call.
                async with asyncio.timeout(budget):
                    response = await self._client.chat.completions.create(
                        model=self.settings.model,
                        messages=[dict(m) for m in messages],  # type: ignore[misc]
                        temperature=self.settings.temperature,
                        max_tokens=self.settings.max_tokens(purpose),
                        timeout=budget,
                        **extra,
                    )
            except (TimeoutError, openai.APITimeoutError):
                # Not sent again: a local server is still busy with the abandoned call.
                if by_deadline:
                    failure: ModelError = self._deadline_error(log)
                else:
                    log.limit_hit = Limit.CALL_TIMEOUT
                    failure = CallTimeout(f"the model did not answer within {self.settings.timeout:g} s")
                raise self._failed(log, failure, record()) from None
            except openai.OpenAIError as err:
                if mode in _NEXT_MODE and is_refusal(err):
                    self._fall_back(mode)
                    continue
                pause = self._retry_pause(err, retries, log)
                if pause is not None:
                    retries += 1
                    _LOGGER.info(
                        "model call (%s) failed (%s); retry %d in %.1f s", purpose, type(err).__name__, retries, pause
                    )
                    await asyncio.sleep(pause)
                    continue
                kind, message = self._explain(err)
                raise self._failed(log, kind(message), record()) from None
            return self._succeeded(log, response, record())

    def _succeeded(self, log: CallLog, response: ChatCompletion, record: CallRecord) -> str:
        """Record a call that got an answer (with the server's token counts) and return its content."""
        usage = response.usage
        choice = response.choices[0] if response.choices else None
        log.records.append(
            dataclasses.replace(
                record,
                prompt_tokens=usage.prompt_tokens if usage else None,
                completion_tokens=usage.completion_tokens if usage else None,
                finish_reason=choice.finish_reason if choice else None,
                cached_tokens=cached_tokens(response),
            )
        )
        if self.base_url not in self._settled:
            self._settled.add(self.base_url)
            _LOGGER.info("model server %s: structured output as %s", self.base_url, record.mode)
        return (choice.message.content or "") if choice else ""

    def _retry_pause(self, err: openai.OpenAIError, retries: int, log: CallLog) -> float | None:
        """Return how long to wait before trying again, or None when the error is final."""
        if not _retryable(err) or retries >= self.settings.max_retries:
            return None
        pause = _backoff(err, retries + 1)
        remaining = log.remaining()
        return pause if remaining is None or pause < remaining else None

    def _failed(self, log: CallLog, failure: ModelError, record: CallRecord) -> ModelError:
        """Record a failed call with its error and return the error to raise."""
        log.records.append(dataclasses.replace(record, error=str(failure)))
        _LOGGER.warning("model call (%s) failed: %s", record.purpose, failure)
        return failure

    def _explain(self, err: openai.OpenAIError) -> tuple[type[ModelError], str]:
        """Translate an SDK error into ours, most specific first, with no secret in the text."""
        if isinstance(err, openai.APITimeoutError):  # a subclass of APIConnectionError
            return CallTimeout, f"the model did not answer within {self.settings.timeout:g} s"
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
