"""Constants of the Sasha integration."""

from typing import Final

DOMAIN: Final = "sasha"

CONF_TOPIC: Final = "topic"
CONF_TIMEOUT: Final = "timeout"

DEFAULT_TOPIC: Final = "sasha"
# A planned goal takes a few model calls; 30 s covers a slow local model without leaving a
# voice satellite hanging for long when Sasha is gone.
DEFAULT_TIMEOUT: Final = 30
MIN_TIMEOUT: Final = 1
MAX_TIMEOUT: Final = 300
