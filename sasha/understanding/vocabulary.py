"""The one vocabulary of local understanding: kind words, command verbs, yes and no, control words.

Every matcher (the phrase grammar, hassil's slot lists, questions, the lane a text takes, the
assistant's yes/no/undo) reads its words from here, so that "lights", "yes" or "turn" mean the
same thing whichever part of Sasha hears them, and on/off means one thing for every device.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from typing import Any

from sasha.home.inventory import Device, DeviceType


class Kind(enum.StrEnum):
    """What a kind word ("lights", "blinds", "music") selects."""

    LIGHT = "light"
    COVER = "cover"
    FAN = "fan"
    MEDIA = "media"
    VALVE = "valve"
    LOCK = "lock"
    CLIMATE = "climate"
    PLUG = "plug"
    SWITCH = "switch"
    GARAGE_DOOR = "garage door"
    ALARM = "alarm"
    OVEN = "oven"
    WINDOW = "window"
    DOOR = "door"
    SENSOR = "sensor"


# word → (kind, plural, name stem that narrows the kind when some device carries it)
KIND_WORDS: dict[str, tuple[Kind, bool, str]] = {}


def _words(kind: Kind, singular: Iterable[str], plural: Iterable[str], stem: str = "") -> None:
    """Enter the singular and plural words of one kind (and the name stem that narrows it)."""
    for word in singular:
        KIND_WORDS[word] = (kind, False, stem)
    for word in plural:
        KIND_WORDS[word] = (kind, True, stem)


_words(Kind.LIGHT, ("light",), ("lights",))
_words(Kind.LIGHT, ("lamp",), ("lamps",), "lamp")  # "the lamp" asks among the lamps, not every light
_words(Kind.COVER, ("cover",), ("covers",))
_words(Kind.COVER, ("blind",), ("blinds",), "blind")
_words(Kind.COVER, ("curtain",), ("curtains",), "curtain")
_words(Kind.COVER, ("shade",), ("shades",), "shade")
_words(Kind.COVER, ("shutter",), ("shutters",), "shutter")
_words(Kind.FAN, ("fan",), ("fans",))
_words(Kind.MEDIA, ("media player", "music", "media"), ("media players",))
_words(Kind.MEDIA, ("speaker",), ("speakers",), "speaker")
_words(Kind.MEDIA, ("tv", "television"), ("tvs", "televisions"), "tv")
_words(Kind.VALVE, ("valve", "water", "sprinkler", "irrigation"), ("valves", "sprinklers"))
_words(Kind.LOCK, ("lock", "door lock"), ("locks", "door locks"))
_words(Kind.CLIMATE, ("heating",), ())
_words(Kind.CLIMATE, ("thermostat",), ("thermostats",), "thermostat")
_words(Kind.CLIMATE, ("heater",), ("heaters",), "heater")
_words(Kind.CLIMATE, ("radiator",), ("radiators",), "radiator")
_words(Kind.CLIMATE, ("air conditioner", "ac"), ("air conditioners",), "air conditioner")
_words(Kind.PLUG, ("plug", "socket", "outlet"), ("plugs", "sockets", "outlets"))
_words(Kind.SWITCH, ("switch",), ("switches",))
_words(Kind.GARAGE_DOOR, ("garage door",), ("garage doors",))
_words(Kind.ALARM, ("alarm", "alarm system"), ("alarms",))
_words(Kind.OVEN, ("oven",), ("ovens",))
_words(Kind.WINDOW, ("window",), ("windows",))
_words(Kind.DOOR, ("door",), ("doors",))
_words(Kind.SENSOR, ("sensor",), ("sensors",))
STEM_ALIASES = {"tv": ("tv", "television")}


# Kinds that are exactly device types; lights, windows and doors also look at the name.
_KIND_TYPES: dict[Kind, tuple[DeviceType, ...]] = {
    Kind.COVER: (DeviceType.COVER,),
    Kind.FAN: (DeviceType.FAN,),
    Kind.MEDIA: (DeviceType.MEDIA_PLAYER,),
    Kind.VALVE: (DeviceType.WATER_VALVE,),
    Kind.LOCK: (DeviceType.LOCK,),
    Kind.CLIMATE: (DeviceType.THERMOSTAT, DeviceType.HEATER),
    Kind.PLUG: (DeviceType.PLUG,),
    Kind.SWITCH: (DeviceType.SWITCH,),
    Kind.GARAGE_DOOR: (DeviceType.GARAGE_DOOR,),
    Kind.ALARM: (DeviceType.ALARM,),
    Kind.OVEN: (DeviceType.OVEN,),
    Kind.SENSOR: (DeviceType.SENSOR,),
}


def is_kind(kind: Kind, device: Device) -> bool:
    """Tell whether a kind word selects this device ("the lights" include a switch called Garage light)."""
    name = device.name.lower()
    if kind is Kind.LIGHT:
        # A switch or plug called "Garage light" is a light to whoever says "the lights".
        return device.type is DeviceType.LIGHT or (
            device.type in (DeviceType.SWITCH, DeviceType.PLUG) and ("light" in name or "lamp" in name)
        )
    if kind in (Kind.WINDOW, Kind.DOOR):
        return "contact" in device.capabilities and kind.value in name
    return device.type in _KIND_TYPES.get(kind, ())


def kind_words() -> tuple[str, ...]:
    """Return every word that names a kind of device ("lights", "blinds", "tv")."""
    return tuple(KIND_WORDS)


def kinds_of(device: Device) -> tuple[str, ...]:
    """Return the kind words that select this device ("light", "lamps", "tv"), stems included."""
    # Each kind and the device's names once, not once per kind word: this runs for every device.
    kinds = {kind for kind in Kind if is_kind(kind, device)}
    names = _names(device)
    return tuple(
        word
        for word, (kind, _plural, stem) in KIND_WORDS.items()
        if kind in kinds and (not stem or any(s in names for s in STEM_ALIASES.get(stem, (stem,))))
    )


def _names(device: Device) -> str:
    return " ".join(n.lower().replace("_", " ") for n in (device.name, device.id, *device.aliases))


# --- yes, no and the words that steer a conversation ------------------------------------------

YES = frozenset({"yes", "y", "ok", "okay", "sure", "do it", "go ahead", "confirm", "yes please"})
NO = frozenset({"no", "n", "cancel", "don't", "dont", "stop", "no thanks", "never mind", "nevermind"})
UNDO = frozenset({"undo", "undo that", "undo it", "/undo", "revert", "put it back"})
# "stop the night routine", "turn on the wake-up automation"
MANAGE = re.compile(
    r"^(?P<verb>stop|disable|pause|turn off|switch off|enable|start|resume|turn on|switch on|delete|remove)"
    r"\s+(?:the\s+|my\s+)?(?P<name>.+?)\s+(?:routine|automation)$"
)
MANAGE_VERBS = {"delete": "delete", "remove": "delete", "enable": "enable", "start": "enable", "resume": "enable"}
MANAGE_VERBS |= {"turn on": "enable", "switch on": "enable"}


def spoken(text: str) -> str:
    """Return a reply's words as the yes/no/undo sets hold them: lower case, no end punctuation."""
    return " ".join(text.lower().strip(" .!?").split())


# --- verbs -------------------------------------------------------------------------------------

COMMAND_VERBS = (
    "turn", "switch", "power", "shut", "set", "dim", "brighten", "open", "close", "raise", "lower", "lock",
    "unlock", "arm", "disarm", "water", "pause", "resume", "unpause", "stop", "mute", "unmute", "skip", "play",
    "change", "move", "put", "make", "start", "preheat", "cancel",
)  # fmt: skip
"""The verbs a command starts with: where one command of a sentence ends and the next begins."""
QUESTION_WORDS = ("what", "whats", "what's", "is", "are", "how", "which", "tell", "give", "get", "let")
"""Words that start a question the state mirror may answer."""
COMPARATIVES = ("warmer", "cooler", "colder", "hotter", "louder", "quieter", "brighter", "dimmer")
"""What "make it …" asks for locally; any other "make" ("make it cozy") is a goal for the model."""
LOCAL_WORDS = frozenset({*COMMAND_VERBS, *QUESTION_WORDS, *COMPARATIVES, "on", "off", "increase", "decrease"}) - {
    "make"
}
"""A text with one of these words may be for the local path; any other goes straight to the model."""


# --- what on and off mean --------------------------------------------------------------------


def switch(device: Device, on: bool) -> dict[str, Any] | None:
    """Return what "turn on/off" sets on this device, or None when it says nothing clear.

    A lock is never switched ("turn off the front door" could mean either); a cover without
    power opens and closes; a player without power plays and stops.
    """
    caps = device.capabilities
    if "lock" in caps:
        return None
    if "position" in caps and "power" not in caps:
        return {"position": 100 if on else 0}
    if "power" in caps:
        return {"power": "on" if on else "off"}
    if device.type is DeviceType.MEDIA_PLAYER and "playback" in caps:
        return {"playback": "playing" if on else "stopped"}
    return None


# --- named values ------------------------------------------------------------------------------

WHITES = {"warm white": 2700, "soft white": 3000, "neutral white": 4000, "cool white": 5000, "daylight": 6500}
"""Whites by name, in kelvin: a light with a colour temperature takes these rather than a colour."""

OUTDOOR_WORDS = frozenset({"garden", "yard", "backyard", "outside", "outdoor", "outdoors", "patio", "terrace"})
OUTDOOR_WORDS |= {"balcony", "porch", "driveway", "deck", "lawn"}
"""Words in a room's name that say it is outdoors: "how warm is it outside" reads its sensors."""


# --- timers --------------------------------------------------------------------------------------

TIMERS_LIST = re.compile(
    r"^(?:(?:what|which|list|show)(?: me)?(?: the| my| all)? timers?(?: are| is)?(?: set| running| there| on)?"
    r"|(?:are|is) there (?:any )?timers?(?: set| running)?)$"
)
""""what timers are set", "list the timers", "are there any timers"."""
TIMERS_CANCEL = re.compile(
    r"^(?:cancel|stop|delete|remove|clear)(?: the| my)? (?:(?P<all>all(?: the| my)? timers)|timers?(?: (?P<n>\d+))?)$"
)
""""cancel the timer", "cancel timer 2", "cancel all timers"."""
