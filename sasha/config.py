"""Settings: flags beat the environment, which beats the optional YAML config file."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator

from sasha.errors import ConfigError
from sasha.home import yamlsource
from sasha.mqtt.connection import MqttSettings, redact_url
from sasha.planning.llm.settings import MAX_TOKENS, ModelSettings

# Setting (a dotted path into the config file) → environment variable.
ENVIRONMENT = {
    "devices": "SASHA_DEVICES",
    "mqtt_url": "SASHA_MQTT_URL",
    "mqtt_ca_file": "SASHA_MQTT_CA_FILE",
    "mqtt_username": "SASHA_MQTT_USERNAME",
    "mqtt_password": "SASHA_MQTT_PASSWORD",
    "mqtt_password_file": "SASHA_MQTT_PASSWORD_FILE",
    "mqtt_cert": "SASHA_MQTT_CERT",
    "mqtt_key": "SASHA_MQTT_KEY",
    "state_dir": "SASHA_STATE_DIR",
    "api_topic": "SASHA_API_TOPIC",
    "confirm": "SASHA_CONFIRM",
    "confirm_wait": "SASHA_CONFIRM_WAIT",
    "offline_commands": "SASHA_OFFLINE_COMMANDS",
    "history_days": "SASHA_HISTORY_DAYS",
    "model": "SASHA_MODEL",
    "planner.temperature": "SASHA_MODEL_TEMPERATURE",
    "planner.timeout": "SASHA_MODEL_TIMEOUT",
    "planner.max_retries": "SASHA_MODEL_RETRIES",
    "planner.max_calls": "SASHA_MODEL_MAX_CALLS",
    "planner.deadline": "SASHA_MODEL_DEADLINE",
    "planner.max_tokens_plan": "SASHA_MAX_TOKENS_PLAN",
    "planner.max_tokens_repair": "SASHA_MAX_TOKENS_REPAIR",
    "planner.max_tokens_select": "SASHA_MAX_TOKENS_SELECT",
    "planner.max_tokens_rooms": "SASHA_MAX_TOKENS_ROOMS",
    "planner.max_devices_in_prompt": "SASHA_MAX_DEVICES_IN_PROMPT",
    "planner.prompts_dir": "SASHA_PROMPTS_DIR",
    "api.reply_prefixes": "SASHA_API_REPLY_PREFIXES",
    "api.queue": "SASHA_API_QUEUE",
    "api.share": "SASHA_API_SHARE",
    "api.routines": "SASHA_API_ROUTINES",
    "api.ha_status_topic": "SASHA_HA_STATUS_TOPIC",
    "api.open": "SASHA_API_OPEN",
    "api.owners": "SASHA_API_OWNERS",
    "api.device_owners": "SASHA_API_DEVICE_OWNERS",
    "api.ha_user": "SASHA_HA_USER",
    "api.hass": "SASHA_HASS",
    "budget.per_minute": "SASHA_MODEL_CALLS_PER_MINUTE",
    "budget.per_day": "SASHA_MODEL_CALLS_PER_DAY",
    "budget.per_user_minute": "SASHA_MODEL_CALLS_PER_USER_MINUTE",
    "budget.per_user_day": "SASHA_MODEL_CALLS_PER_USER_DAY",
}


# A username as Sasha reads it from the last level of a topic (`sasha/request/<user>`).
_USER = r"^[^/+#\x00]{1,128}$"


def _default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "sasha"


class PlannerSettings(BaseModel):
    """How the planner calls the model and how much of the home it shows."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float = Field(default=0.2, ge=0, le=2)
    timeout: float = Field(default=30.0, gt=0)
    max_retries: int = Field(default=2, ge=0, le=10)
    max_calls: int = Field(default=4, ge=1, le=10)
    # Seconds one request may spend on all its model calls; each call's timeout is cut to what is left.
    deadline: float = Field(default=90.0, gt=0)
    max_tokens_plan: int = Field(default=MAX_TOKENS["plan"], ge=16)
    max_tokens_repair: int = Field(default=MAX_TOKENS["repair"], ge=16)
    max_tokens_select: int = Field(default=MAX_TOKENS["select"], ge=16)
    max_tokens_rooms: int = Field(default=MAX_TOKENS["rooms"], ge=16)
    max_devices_in_prompt: int = Field(default=40, ge=1)
    prompts_dir: Path | None = None


class ApiSettings(BaseModel):
    """How `sasha run` serves the MQTT API."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Topic filters replies may go to; empty means `<api_topic>/reply/#` and `<api_topic>/response`.
    reply_prefixes: tuple[str, ...] = ()
    queue: int = Field(default=100, ge=1, le=100_000)
    share: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")
    routines: bool = True
    ha_status_topic: str = "homeassistant/status"
    # Also serve the un-suffixed <root>/request and <root>/confirm, whose sender is anonymous
    # (single-user set-ups only: whoever may publish there counts as an owner).
    open: bool = False
    # MQTT users who may approve an unsafe move of a sensitive device; per device, its own list
    # replaces this one.
    owners: tuple[str, ...] = ()
    device_owners: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    # Home Assistant's MQTT user: its discovered text box asks on <root>/request/<ha_user>.
    ha_user: str = Field(default="homeassistant", pattern=_USER)
    # Home Assistant's entities from the Sasha integration: unused, merged into the inventory, or the inventory.
    hass: Literal["off", "merge", "only"] = "off"

    @field_validator("reply_prefixes", "owners", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        # The environment gives one string: "a/reply/#,b/response".
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("owners")
    @classmethod
    def _users(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for user in value:
            if not re.fullmatch(_USER, user):
                raise ValueError(f"{user!r} is not an MQTT username Sasha can take from a topic")
        return value

    @field_validator("device_owners", mode="before")
    @classmethod
    def _pairs(cls, value: Any) -> Any:
        # Flags and the environment give DEVICE=USER pairs: "front_door=owner,garage_door=owner".
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple):
            owners: dict[str, list[str]] = {}
            for pair in value:
                device, equals, user = str(pair).partition("=")
                if not equals or not device.strip() or not user.strip():
                    raise ValueError(f"{pair!r} is not DEVICE=USER")
                owners.setdefault(device.strip(), []).append(user.strip())
            return owners
        return value

    @field_validator("device_owners")
    @classmethod
    def _device_users(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for users in value.values():
            cls._users(users)
        return value


class BudgetSettings(BaseModel):
    """Caps on model calls across all requests (0: no cap)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_minute: int = Field(default=60, ge=0)
    per_day: int = Field(default=2000, ge=0)
    # Each user's share, beside the caps above: one user's flood cannot spend everyone's budget.
    per_user_minute: int = Field(default=30, ge=0)
    per_user_day: int = Field(default=1000, ge=0)


class Settings(BaseModel):
    """Every setting of Sasha with its default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    devices: Path = Path("devices.yaml")
    # repr=False: the URL may carry the MQTT password.
    mqtt_url: str = Field(default="mqtt://localhost:1883", repr=False)
    mqtt_ca_file: str | None = None
    # Credentials apart from the URL, so that no password needs to be on a command line
    # (`ps` shows it to every local user). The file beats the value, the value beats the URL.
    mqtt_username: str | None = None
    mqtt_password: str | None = Field(default=None, repr=False)
    mqtt_password_file: Path | None = None
    mqtt_cert: str | None = None
    mqtt_key: str | None = None
    state_dir: Path = Field(default_factory=_default_state_dir)
    api_topic: str = "sasha"
    confirm: Literal["never", "sensitive", "both", "always"] = "sensitive"
    # Seconds a request waits, at most, for its devices to report what it changed (0: judge at once).
    confirm_wait: float = Field(default=2.0, ge=0, le=30)
    # What a command for a device that said it is offline does: still sent (it may be back), or not.
    offline_commands: Literal["send", "skip"] = "send"
    # Days of state changes kept in <state_dir>/states.db for previews and the story (0: none kept).
    history_days: float = Field(default=7.0, ge=0, le=366)
    model: str = "gpt-4o-mini"
    planner: PlannerSettings = Field(default_factory=PlannerSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    budget: BudgetSettings = Field(default_factory=BudgetSettings)

    def mqtt(self) -> MqttSettings:
        """Return the broker settings, with the password read from its file if one is named."""
        password = self.mqtt_password
        if self.mqtt_password_file is not None:
            password = read_secret(self.mqtt_password_file, "MQTT password file")
        return MqttSettings.from_url(
            self.mqtt_url,
            ca_file=self.mqtt_ca_file,
            username=self.mqtt_username,
            password=password,
            cert_file=self.mqtt_cert,
            key_file=self.mqtt_key,
        )

    def model_settings(self, environ: Mapping[str, str] | None = None) -> ModelSettings | None:
        """Return how to reach the model (OPENAI_API_KEY / OPENAI_BASE_URL), or None if none is set."""
        planner = self.planner
        return ModelSettings.from_environment(
            environ,
            model=self.model,
            temperature=planner.temperature,
            timeout=planner.timeout,
            max_retries=planner.max_retries,
            max_calls=planner.max_calls,
            deadline=planner.deadline,
            max_tokens_plan=planner.max_tokens_plan,
            max_tokens_repair=planner.max_tokens_repair,
            max_tokens_select=planner.max_tokens_select,
            max_tokens_rooms=planner.max_tokens_rooms,
        )


def load(
    flags: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    config_file: str | Path | None = None,
) -> Settings:
    """Merge the config file, the environment and flags (None means not given)."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    lines = yamlsource.LineMap("<settings>")
    config_file = config_file or environ.get("SASHA_CONFIG")
    if config_file:
        values, lines = _read_file(Path(config_file))
    for key, variable in ENVIRONMENT.items():
        if environ.get(variable):
            section, _, name = key.rpartition(".")
            target = values.setdefault(section, {}) if section else values
            if isinstance(target, dict):
                target[name or key] = environ[variable]
    for key, value in (flags or {}).items():
        if value is None:
            continue
        section, _, name = key.rpartition(".")
        target = values.setdefault(section, {}) if section else values
        if isinstance(target, dict):
            target[name] = value
    try:
        settings = Settings.model_validate(values)
    except pydantic.ValidationError as err:
        problems = []
        for error in err.errors(include_url=False):
            key = ".".join(str(p) for p in error["loc"]) or "settings"
            message = "unknown setting" if error["type"] == "extra_forbidden" else error["msg"]
            problems.append(f"{lines.file}:{lines.line(error['loc'])}: {key}: {message}")
        raise ConfigError("\n".join(problems)) from None
    settings.mqtt()  # fail early, with the password redacted, on a URL that does not parse
    return settings


def read_secret(path: Path, what: str) -> str:
    """Read a secret from its file: the first line, without the newline (raises ConfigError)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        # Only the path and the reason: never the file's content.
        reason = err.strerror if isinstance(err, OSError) else "not UTF-8 text"
        raise ConfigError(f"cannot read the {what} {path}: {reason}") from None
    lines = text.splitlines()
    secret = lines[0] if lines else ""
    if not secret:
        raise ConfigError(f"the {what} {path} is empty")
    return secret


def _read_file(path: Path) -> tuple[dict[str, Any], yamlsource.LineMap]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"{path}:0: cannot read config file: {err.strerror}") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}:0: cannot read config file: not UTF-8 ({err.reason})") from None
    try:
        data, lines = yamlsource.load(text, str(path))
    except yamlsource.YamlSourceError as err:
        raise ConfigError(str(err.problem)) from None
    if data is None:
        return {}, lines
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: the config file must be a mapping of settings")
    return data, lines


__all__ = [
    "ENVIRONMENT",
    "ApiSettings",
    "BudgetSettings",
    "PlannerSettings",
    "Settings",
    "load",
    "read_secret",
    "redact_url",
]
