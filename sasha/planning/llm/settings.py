"""How to reach the model, read the SDK's way; kept apart so reading settings does not import openai."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Completion tokens each kind of call may use. A decision with a few actions is ~150 tokens;
# the bound stops a small model that rambles inside a string from holding a slow local
# server for minutes. The schemas bound the strings too (see `schema`).
MAX_TOKENS = {"plan": 600, "repair": 600, "select": 300, "rooms": 120}


@dataclass(frozen=True, slots=True)
class ModelSettings:
    """Which model to use and how to call it."""

    model: str = "gpt-4o-mini"
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    temperature: float = 0.2
    # Seconds one call may take; a call that times out is not sent again.
    timeout: float = 30.0
    # Retries of 429, of 5xx that are not refusals, and of connection errors.
    max_retries: int = 2
    max_calls: int = 4
    # Seconds one request may spend on all its model calls together.
    deadline: float = 90.0
    max_tokens_plan: int = MAX_TOKENS["plan"]
    max_tokens_repair: int = MAX_TOKENS["repair"]
    max_tokens_select: int = MAX_TOKENS["select"]
    max_tokens_rooms: int = MAX_TOKENS["rooms"]

    def max_tokens(self, purpose: str) -> int:
        """Return the completion-token bound of one kind of call (plan, repair, select, rooms)."""
        bounds = {
            "plan": self.max_tokens_plan,
            "repair": self.max_tokens_repair,
            "select": self.max_tokens_select,
            "rooms": self.max_tokens_rooms,
        }
        return bounds.get(purpose, self.max_tokens_plan)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> ModelSettings | None:
        """Read OPENAI_API_KEY, OPENAI_BASE_URL and SASHA_MODEL; None when no model is configured."""
        environ = os.environ if environ is None else environ
        api_key = environ.get("OPENAI_API_KEY") or None
        base_url = environ.get("OPENAI_BASE_URL") or None
        if api_key is None and base_url is None:
            return None
        values: dict[str, Any] = {"api_key": api_key, "base_url": base_url}
        if environ.get("SASHA_MODEL"):
            values["model"] = environ["SASHA_MODEL"]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
