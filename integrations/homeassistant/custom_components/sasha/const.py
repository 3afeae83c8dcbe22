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

# --- Home Assistant as a device hub: Sasha drives the entities exposed to Assist -------------
# Every topic the hub uses is built here, from the entry's API root, so a change of topic names
# happens in one place. The base sits beside the API root, not under it: Sasha subscribes to
# each protocol's base with wildcards, which must never catch its own API topics.
HUB_SUFFIX: Final = "-hass"
HUB_INVENTORY: Final = "inventory"  # <base>/inventory, retained: what is exposed, with areas and floors
HUB_STATE: Final = "state"  # <base>/<entity id>/state, retained: {"state", "attributes"}
HUB_SET: Final = "set"  # <base>/<entity id>/set: {"service", "data", "call"} from Sasha
HUB_RESULT: Final = "result"  # <base>/<entity id>/result: {"call", "ok", "error"} back to Sasha
INVENTORY_FORMAT: Final = 1
# The assistant whose exposure settings decide what Sasha may reach: Assist (conversation).
ASSISTANT: Final = "conversation"
# A service call that takes longer than this is reported as failed; Sasha waits 5 s for reports.
CALL_TIMEOUT: Final = 4.0
# A command from the network is small; anything bigger is refused before it is parsed.
MAX_COMMAND: Final = 4096


def hub_base(root: str) -> str:
    """Return the hub's base topic for an API root (`sasha` → `sasha-hass`)."""
    return f"{root}{HUB_SUFFIX}"


# The services Sasha may ask for, per domain, with the data keys each takes. Nothing else is
# ever called: the network is untrusted, and Sasha's own checks happen on another machine.
SERVICES: Final[dict[str, dict[str, frozenset[str]]]] = {
    "light": {
        "turn_on": frozenset({"brightness_pct", "color_temp_kelvin", "rgb_color"}),
        "turn_off": frozenset(),
    },
    "switch": {"turn_on": frozenset(), "turn_off": frozenset()},
    "scene": {"turn_on": frozenset()},
    "script": {"turn_on": frozenset(), "turn_off": frozenset()},
    "fan": {"turn_on": frozenset(), "turn_off": frozenset(), "set_percentage": frozenset({"percentage"})},
    "cover": {
        "open_cover": frozenset(),
        "close_cover": frozenset(),
        "set_cover_position": frozenset({"position"}),
    },
    "lock": {"lock": frozenset(), "unlock": frozenset()},
    "climate": {
        "turn_on": frozenset(),
        "turn_off": frozenset(),
        "set_hvac_mode": frozenset({"hvac_mode"}),
        "set_temperature": frozenset({"temperature"}),
    },
    "media_player": {
        "turn_on": frozenset(),
        "turn_off": frozenset(),
        "volume_set": frozenset({"volume_level"}),
        "volume_mute": frozenset({"is_volume_muted"}),
        "media_play": frozenset(),
        "media_pause": frozenset(),
        "media_stop": frozenset(),
        "media_next_track": frozenset(),
        "media_previous_track": frozenset(),
        "select_source": frozenset({"source"}),
    },
    "valve": {"open_valve": frozenset(), "close_valve": frozenset()},
    "sensor": {},
    "binary_sensor": {},
}
# The attributes that describe what an entity can do (in the inventory) and what it is (in its state).
INVENTORY_ATTRIBUTES: Final = (
    "supported_color_modes",
    "min_color_temp_kelvin",
    "max_color_temp_kelvin",
    "min_temp",
    "max_temp",
    "target_temp_step",
    "hvac_modes",
    "source_list",
    "unit_of_measurement",
)
STATE_ATTRIBUTES: Final = (
    "brightness",
    "color_temp_kelvin",
    "rgb_color",
    "percentage",
    "current_position",
    "temperature",
    "current_temperature",
    "volume_level",
    "is_volume_muted",
    "source",
)
