"""How to reach the model, read the SDK's way; kept apart so reading settings does not import openai."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ModelSettings:
    """Which model to use and how to call it."""

    model: str = "gpt-4o-mini"
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    temperature: float = 0.2
    timeout: float = 30.0
    max_retries: int = 2
    max_calls: int = 4

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
