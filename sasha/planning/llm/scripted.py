"""A scripted OpenAI-compatible server on loopback, for tests and scenario replay.

It speaks `/v1/chat/completions` and `/v1/models`, answers from a queue of scripted
answers, and records every request it gets. Clients talk to it through the real `openai`
SDK, exactly as they would to OpenAI, Ollama or vLLM.

A scripted answer is one of:
- a JSON object (a decision, a `{"devices": [...]}` selection, anything): sent as content;
- `{"raw": "text"}`: exactly this content (prose, fences, broken JSON, "");
- `{"http_error": 500, "message_text": "..."}`: an OpenAI-style error with that status;
- any of them with `"delay": seconds` added: wait that long first (for timeouts).

It can also play a server that refuses some structured-output modes (`rejects`), with the
status code such servers really use: 400 or 422 for most, 500 for llama-cpp-python's server,
whose refusal is a validation message naming `response_format`.

Usage counts tokens with `estimate_tokens`: one token per run of letters, per digit and per
punctuation mark. That is close to what the BPE tokenizers of small local models (Llama,
SmolLM) report for prompts full of ids, numbers and punctuation, and closer than the usual
"four characters a token" rule, which holds for English prose only.

With `reports_cache` it also plays a server with a prefix cache: the tokens of the longest
prefix a request shares with the one before are reported as cached, the way OpenAI does
(`usage.prompt_tokens_details.cached_tokens`) or llama.cpp's server does (`timings.cache_n`
and `timings.prompt_n`).
"""

from __future__ import annotations

import asyncio
import collections
import json
import re
import socket
import time
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, Self

from aiohttp import web

Answer = Mapping[str, Any]
_SPECIAL = frozenset({"raw", "http_error", "message_text", "delay", "retry_after_ms"})
_TOKEN = re.compile(r"[A-Za-z]+|\d|[^\sA-Za-z\d]")


def estimate_tokens(text: str) -> int:
    """Estimate the tokens of a text: one per run of letters, per digit, per punctuation mark."""
    return len(_TOKEN.findall(text))


def prompt_text(messages: Iterable[Mapping[str, Any]]) -> str:
    """Return the messages as the one text a server reads, in order (roles included)."""
    return "".join(f"<{m.get('role', '')}>{m.get('content', '')}\n" for m in messages)


def common_prefix(first: str, second: str) -> int:
    """Return the length of the longest common prefix of two texts."""
    shared = 0
    for a, b in zip(first, second, strict=False):
        if a != b:
            break
        shared += 1
    return shared


class ScriptedModel:
    """Serve scripted answers; `requests` holds every chat completion body received."""

    def __init__(
        self,
        answers: Iterable[Answer] = (),
        *,
        model: str = "scripted",
        rejects: Iterable[str] = (),
        reject_status: int = 400,
        host: str = "127.0.0.1",
        port: int = 0,
        reports_cache: str | None = None,
    ) -> None:
        self.model = model
        # None, "openai" or "llama.cpp": how (whether) the server reports its prefix cache.
        self.reports_cache = reports_cache
        self.answers: collections.deque[Answer] = collections.deque(answers)
        # response_format types this server refuses (with `reject_status`), like servers that do
        # not support structured output; "json_object+schema" refuses json_object only when a
        # schema is attached to it.
        self.rejects = frozenset(rejects)
        self.reject_status = reject_status
        self.requests: list[dict[str, Any]] = []
        self.refused: list[dict[str, Any]] = []
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self._last_prompt = ""
        self.base_url = ""

    def add(self, *answers: Answer) -> None:
        """Queue more answers."""
        self.answers.extend(answers)

    @property
    def rejected(self) -> int:
        """Return how many requests were refused for their response_format."""
        return len(self.refused)

    @property
    def calls(self) -> int:
        """Return how many chat completions were answered or failed on purpose."""
        return len(self.requests)

    def app(self) -> web.Application:
        """Build the aiohttp application."""
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._completions)
        app.router.add_get("/v1/models", self._models)
        return app

    async def start(self) -> str:
        """Start serving; return the base URL to use as OPENAI_BASE_URL."""
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        # Bind the socket ourselves so that port 0 gives a free port we can read back.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((self._host, self._port))
        site = web.SockSite(self._runner, sock)
        await site.start()
        self.base_url = f"http://{self._host}:{sock.getsockname()[1]}/v1"
        return self.base_url

    async def stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"object": "list", "data": [{"id": self.model, "object": "model", "created": 0, "owned_by": "sasha"}]}
        )

    async def _completions(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return _error(400, "request body is not JSON")
        if not isinstance(body, dict):
            return _error(400, "request body must be a JSON object")
        response_format = body.get("response_format") or {}
        mode = response_format.get("type")
        refused = mode in self.rejects or (
            mode == "json_object" and "schema" in response_format and "json_object+schema" in self.rejects
        )
        if refused:
            self.refused.append(body)
            status = self.reject_status
            # llama-cpp-python answers 500 with pydantic's validation text, not an OpenAI error.
            message = f"1 validation error for request\nresponse_format\n  '{mode}' is not supported"
            return _error(status, message, param="response_format")
        self.requests.append(body)
        if not self.answers:
            return _error(500, "the scripted model has no answer left")
        answer = dict(self.answers.popleft())
        if answer.get("delay"):
            await asyncio.sleep(float(answer["delay"]))
        if "http_error" in answer:
            headers = {"retry-after-ms": str(answer.get("retry_after_ms", 10))}
            status = int(answer["http_error"])
            return _error(status, str(answer.get("message_text", f"scripted error {status}")), headers=headers)
        if "raw" in answer:
            content = str(answer["raw"])
        else:
            content = json.dumps({k: v for k, v in answer.items() if k not in _SPECIAL})
        prompt_tokens = sum(estimate_tokens(str(m.get("content", ""))) for m in body.get("messages", []))
        completion_tokens = estimate_tokens(content)
        usage: dict[str, Any] = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        extra: dict[str, Any] = {}
        text = prompt_text(body.get("messages", []))
        cached = estimate_tokens(text[: common_prefix(self._last_prompt, text)]) if self._last_prompt else 0
        self._last_prompt = text
        if self.reports_cache == "openai":
            usage["prompt_tokens_details"] = {"cached_tokens": cached}
        elif self.reports_cache == "llama.cpp":
            extra["timings"] = {"cache_n": cached, "prompt_n": max(0, prompt_tokens - cached)}
        return web.json_response(
            {
                **extra,
                "id": f"chatcmpl-scripted-{len(self.requests)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", self.model),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": usage,
            }
        )


def _error(
    status: int, message: str, *, param: str | None = None, headers: dict[str, str] | None = None
) -> web.Response:
    kind = "rate_limit_error" if status == 429 else ("server_error" if status >= 500 else "invalid_request_error")
    payload = {"error": {"message": message, "type": kind, "param": param, "code": None}}
    return web.json_response(payload, status=status, headers=headers)
