"""Device protocols and which capabilities each can carry on the wire."""

from __future__ import annotations

import enum

from sasha.home.capabilities import CAPABILITIES


class Protocol(enum.StrEnum):
    """How a device is reached over MQTT."""

    GENERIC = "generic"
    ZIGBEE2MQTT = "zigbee2mqtt"
    HOMEASSISTANT = "homeassistant"
    TASMOTA = "tasmota"
    HASS = "hass"  # Home Assistant's own entities, through the Sasha integration


# The Home Assistant domains the `hass` protocol reaches; a device's topic ends in `<domain>.<object id>`.
HASS_DOMAINS = frozenset(
    {
        "light",
        "switch",
        "fan",
        "cover",
        "lock",
        "climate",
        "media_player",
        "valve",
        "sensor",
        "binary_sensor",
        "scene",
        "script",
    }
)


# Tasmota's command set has no words for locks, media or climate modes; a device
# declaring them there could never be driven, so the inventory rejects it up front.
_TASMOTA = frozenset(
    {
        "power",
        "brightness",
        "color_temp",
        "color",
        "position",
        "temperature",
        "humidity",
        "illuminance",
        "co2",
        "power_usage",
        "energy",
    }
)

SUPPORTED: dict[Protocol, frozenset[str]] = {
    Protocol.GENERIC: frozenset(CAPABILITIES),
    Protocol.ZIGBEE2MQTT: frozenset(CAPABILITIES),
    Protocol.HOMEASSISTANT: frozenset(CAPABILITIES),
    Protocol.TASMOTA: _TASMOTA,
    Protocol.HASS: frozenset(CAPABILITIES),
}
