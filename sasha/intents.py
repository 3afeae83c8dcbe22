"""The local fast path: explicit commands and questions resolved without a model.

Questions are answered from the state mirror (`sasha.answers`); commands are read by the
compiled phrase grammar (`sasha.grammar`, built once per inventory) and, for the long tail,
by hassil with Home Assistant's templates (`sasha.templates`). A sentence is acted on
entirely or not at all. The fast path may fail to act, but it must never act wrongly.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sasha import grammar
from sasha.answers import Answer, Answers, Ask
from sasha.executor import Action
from sasha.home.capabilities import COLOR_NAMES
from sasha.home.inventory import Device, DeviceType, Inventory
from sasha.home.validation import validate
from sasha.home.wording import say_changes
from sasha.templates import Match, Question, Templates

__all__ = ["VOLUME_STEP", "Answer", "FastPath", "Match", "NotUnderstood", "Question"]


# --- the compiled grammar in front of hassil ------------------------------------------------

VOLUME_STEP = 10
"""How far "volume up" / "louder" moves a player's volume, in percent, clamped to its range."""

_NUM = r"(?P<n>\d+(?:\.\d+)?)"
_COLORS = "|".join(sorted(COLOR_NAMES, key=len, reverse=True))
_PCT = r"(?P<n>\d+) percent"
_ON = r"(?: on (?P<t>.+))?"
_COMMANDS = grammar.patterns(
    [
        ("on", r"(?:turn|switch|power) on (?P<t>.+)"),
        ("on", r"(?:turn|switch|power) (?P<t>.+) on"),
        ("on", r"(?P<t>.+) on"),
        ("off", r"(?:turn|switch|power|shut) off (?P<t>.+)"),
        ("off", r"(?:turn|switch|power|shut) (?P<t>.+) off"),
        ("off", r"(?P<t>.+) off"),
        ("half", r"(?:open|close|set) (?P<t>.+?) (?:halfway|half way|to half)"),
        ("open", r"(?:open|raise) (?P<t>.+)"),
        ("close", r"(?:close|shut|lower) (?P<t>.+)"),
        ("lock", r"lock (?P<t>.+)"),
        ("unlock", r"unlock (?P<t>.+)"),
        ("arm", r"arm (?P<t>.+)"),
        ("disarm", r"disarm (?P<t>.+)"),
        ("water", r"water (?P<t>.+)"),
        ("brightness", rf"(?:set|turn|change) brightness of (?P<t>.+?) to {_PCT}"),
        ("brightness", r"(?:set|turn|change|dim|brighten) (?P<t>.+?) brightness to (?P<n>\d+)(?: percent)?"),
        ("brightness", r"(?:dim|brighten) (?P<t>.+?) to (?P<n>\d+)(?: percent)?"),
        ("volume", r"(?:set|turn|change) volume (?:of|on) (?P<t>.+?) to (?P<n>\d+)(?: percent)?"),
        ("volume", r"(?:set|turn|change) (?P<t>.+?) volume to (?P<n>\d+)(?: percent)?"),
        ("volume", rf"(?:set|turn|change) volume to (?P<n>\d+)(?: percent)?{_ON}"),
        ("position", r"(?:set|open|close|move) (?P<t>.+?) position to (?P<n>\d+)(?: percent)?"),
        ("percent", rf"(?:set|turn|put|change|open|close|move) (?P<t>.+?) to {_PCT}"),
        ("room temperature", rf"(?:set|turn|change) (?P<t>.+?) temperature to {_NUM}(?: degrees?)?(?: celsius| c)?"),
        ("temperature", rf"(?:set|turn|change) (?P<t>.+?) (?:temperature )?to {_NUM}(?: degrees?)?(?: celsius| c)?"),
        ("color", rf"(?:set|turn|make|change) (?P<t>.+?) (?:to |color to |colour to )?(?P<c>{_COLORS})"),
        ("pause", r"pause(?: (?P<t>.+))?"),
        ("resume", r"(?:resume|unpause|continue)(?: (?P<t>.+))?"),
        ("stop", r"stop(?: (?P<t>.+))?"),
        ("next", rf"(?:play )?(?:next|skip)(?: (?:this )?(?:track|song))?{_ON}"),
        ("next", r"skip (?:track|song) on (?P<t>.+)"),
        ("previous", rf"(?:play )?(?:previous|last) (?:track|song){_ON}"),
        ("previous", rf"go back (?:a|one) (?:track|song){_ON}"),
        ("mute", r"mute(?: (?P<t>.+))?"),
        ("unmute", r"unmute(?: (?P<t>.+))?"),
        ("louder", rf"(?:turn )?(?:volume up|up volume){_ON}"),
        ("louder", rf"turn up volume{_ON}"),
        ("louder", r"(?:turn )?(?P<t>.+?) volume up"),
        ("louder", r"turn (?P<t>.+?) up"),
        ("louder", r"make (?P<t>.+?) louder|louder"),
        ("quieter", rf"(?:turn )?(?:volume down|down volume){_ON}"),
        ("quieter", rf"turn down volume{_ON}"),
        ("quieter", r"(?:turn )?(?P<t>.+?) volume down"),
        ("quieter", r"turn (?P<t>.+?) down"),
        ("quieter", r"make (?P<t>.+?) quieter|quieter"),
    ]
)
# Media commands with no target ("pause", "next track") mean the player that is playing.
_MEDIA_INTENTS = frozenset({"pause", "resume", "stop", "next", "previous", "mute", "unmute", "louder", "quieter"})
_VERB = (
    r"(?:turn|switch|power|shut|set|dim|brighten|open|close|raise|lower|lock|unlock|arm|disarm|water|pause|resume|"
    r"unpause|stop|mute|unmute|skip|play|change|move|put|make|start|let|give|get|tell|what|is|are)\b"
)
# Where one command ends and the next begins: "then", or "and"/"," before a verb. An "and" not
# followed by a verb joins targets ("the kitchen and living room lights") and is read there.
_SPLIT = re.compile(rf"\s*,?\s*(?:and\s+)?then\s+|\s*,\s*(?:and\s+)?(?={_VERB})|\s+and\s+(?={_VERB})")


@dataclass(frozen=True, slots=True)
class NotUnderstood:
    """A sentence of several commands with one part the fast path could not read."""

    understood: tuple[str, ...]
    part: str


@dataclass(frozen=True, slots=True)
class _Parsed:
    match: Match | Question
    prefix: str
    suffix: str


StateView = Callable[[], Mapping[str, Mapping[str, Any]]]


class FastPath:
    """Resolve explicit commands and questions locally: the compiled grammar first, hassil second."""

    def __init__(self, home: Inventory, *, state: StateView | None = None, answers: Answers | None = None) -> None:
        self._home = home
        self._words = grammar.Vocabulary(home)
        self._hassil = Templates(home)
        self._state = state or dict
        self._answers = answers

    def match(self, text: str) -> Match | Question | Answer | NotUnderstood | None:
        """Resolve a sentence entirely, ask about it, or return None for the planner."""
        said = grammar.normalize(text).replace(" , ", ", ").strip(" ,")
        if not said:
            return None
        if self._answers is not None:
            answer = self._answers.answer(said)
            if isinstance(answer, Ask):
                return Question(answer.message, answer.candidates)
            if answer is not None:
                return answer
        whole = self._command(said)
        if whole is not None:
            return whole.match
        parts = [p.strip(" ,") for p in _SPLIT.split(said) if p.strip(" ,")]
        if len(parts) < 2:
            return self._hassil.match(text)
        return self._several(parts)

    def _several(self, parts: list[str]) -> Match | Question | NotUnderstood:
        matches: list[Match] = []
        understood: list[str] = []
        previous: _Parsed | None = None
        for part in parts:
            parsed = self._command(part)
            if parsed is None and previous is not None:
                # "turn on the kitchen light, then the hallway light": the verb carries over.
                parsed = self._command(f"{previous.prefix}{part}{previous.suffix}")
            if parsed is None:
                hassil = self._hassil.match(part)
                parsed = _Parsed(hassil, "", "") if isinstance(hassil, Match) else None
            if parsed is None:
                return NotUnderstood(tuple(understood), part)
            if isinstance(parsed.match, Question):
                return parsed.match
            matches.append(parsed.match)
            understood.append(part)
            previous = parsed if parsed.prefix or parsed.suffix else previous
        problems = [m.problem for m in matches if m.problem is not None]
        actions = [a for m in matches for a in m.actions]
        devices = [a.device for a in actions]
        if len(set(devices)) != len(devices):
            # "turn on the lamp and turn it off": one device told two things is not for us to settle.
            return NotUnderstood(tuple(understood[:-1]), parts[-1])
        if problems:
            return Match("several", (), "", "; ".join(problems))
        return Match("several", tuple(actions), "; ".join(m.summary for m in matches))

    def _command(self, said: str) -> _Parsed | None:
        for pattern in _COMMANDS:
            found = pattern.regex.match(said)
            if found is None:
                continue
            words = found.groupdict().get("t")
            value = found.groupdict().get("n") or found.groupdict().get("c")
            result = self._resolve(pattern.intent, words, value)
            if result is None:
                continue
            if words is None:
                return _Parsed(result, "", "")
            return _Parsed(result, said[: found.start("t")], said[found.end("t") :])
        return None

    def _resolve(self, intent: str, words: str | None, value: str | None) -> Match | Question | None:
        prefer = self._playing if intent in _MEDIA_INTENTS or intent == "off" else None
        if intent in ("water", "room temperature"):
            # "water the garden": the valves there; "set the bedroom temperature": its heating.
            place = self._words.place(words or "")
            if place is None:
                return None
            rooms, floor = place
            pool = (
                self._home.on_floor(floor)
                if floor
                else [d for d in self._home.devices.values() if d.room in {r.id for r in rooms}]
            )
            kinds = (DeviceType.WATER_VALVE,) if intent == "water" else (DeviceType.THERMOSTAT, DeviceType.HEATER)
            found = tuple(d for d in pool if d.type in kinds)
            where = ", ".join(r.name for r in rooms) or floor or ""
            target: grammar.Target | grammar.Unclear | None = grammar.Target(found, words or "", True, None, where)
            intent = "open" if intent == "water" else "temperature"
        elif words is None:
            if intent not in _MEDIA_INTENTS:
                return None
            players = [d for d in self._home.devices.values() if d.type is DeviceType.MEDIA_PLAYER]
            chosen = self._playing(players) or players
            target = (
                grammar.Target((chosen[0],), "", False)
                if len(chosen) == 1
                else grammar.Unclear("media player", tuple(chosen))
            )
        else:
            target = self._words.target(words, prefer)
            if intent in ("lock", "unlock") and isinstance(target, grammar.Target) and target.kind is grammar.Kind.DOOR:
                # "lock all the doors" means their locks, not the contact sensors on them.
                target = self._words.target(words.replace("doors", "locks").replace("door", "lock"), prefer)
        if target is None:
            return None
        if isinstance(target, grammar.Unclear):
            if not target.candidates:
                return None
            names = [d.name for d in target.candidates]
            shown = ", ".join(names[:6]) + (" …" if len(names) > 6 else "")
            what = "player" if target.words in ("music", "media") else target.words
            return Question(f"Which {what} do you mean: {shown}?", tuple(d.id for d in target.candidates))
        if not target.devices:
            where = f" in {target.place}" if target.place else ""
            return Match(
                intent,
                (),
                "",
                f"there is no {target.words}{where} in this home" if not where else f"there are no such devices{where}",
            )
        color = value if intent == "color" else None
        number = float(value) if value is not None and color is None else None
        actions: list[Action] = []
        unable: list[str] = []
        for device in target.devices:
            change = self._change(intent, device, number) if color is None else _paint(device, color)
            if change is None:
                unable.append(device.name)
                continue
            checked = validate(self._home, device.id, change)
            if not checked.ok:
                return Match(intent, (), "", "; ".join(p.message for p in checked.problems))
            actions.append(Action(device.id, checked.values, "as asked"))
        if not actions and intent in ("louder", "quieter", "color"):
            # "turn the kitchen light up" means brighter, "warm white" on a lamp without colour means
            # its colour temperature: not what these forms say; hassil or the model may read them.
            return None
        if not actions or (unable and len(target.devices) == 1):
            who = ", ".join(unable)
            return Match(intent, (), "", f"{who} cannot do that")
        summary = say_changes([(self._home.devices[a.device], a.set) for a in actions])
        if unable:
            summary += f" ({', '.join(unable)} cannot do that)"
        return Match(intent, tuple(actions), summary)

    def _playing(self, devices: list[Device]) -> list[Device]:
        state = self._state()
        return [d for d in devices if state.get(d.id, {}).get("playback") == "playing"]

    def _change(self, intent: str, device: Device, number: float | None) -> dict[str, Any] | None:
        caps = device.capabilities
        media = device.type is DeviceType.MEDIA_PLAYER
        opens = "position" in caps and "power" not in caps
        match intent:
            case "on" | "off":
                on = intent == "on"
                if "lock" in caps:
                    return None  # "turn off the front door" says nothing clear about the lock
                if opens:
                    return {"position": 100 if on else 0}
                if "power" in caps:
                    return {"power": "on" if on else "off"}
                if media and "playback" in caps:
                    return {"playback": "playing" if on else "stopped"}
                return None
            case "open" | "close" | "half":
                if device.type not in (DeviceType.COVER, DeviceType.GARAGE_DOOR, DeviceType.WATER_VALVE):
                    return None
                if "position" in caps:
                    return {"position": 50 if intent == "half" else 100 if intent == "open" else 0}
                if "power" in caps and intent != "half":
                    return {"power": "on" if intent == "open" else "off"}  # a valve's "on" is open
                return None
            case "lock" | "unlock":
                return {"lock": "locked" if intent == "lock" else "unlocked"} if "lock" in caps else None
            case "arm" | "disarm":
                if device.type is not DeviceType.ALARM or "power" not in caps:
                    return None
                return {"power": "on" if intent == "arm" else "off"}
            case "pause" | "resume" | "stop":
                word = {"pause": "paused", "resume": "playing", "stop": "stopped"}[intent]
                return {"playback": word} if "playback" in caps else None
            case "next" | "previous":
                return {"track": intent} if "track" in caps else None
            case "mute" | "unmute":
                return {"muted": intent == "mute"} if "muted" in caps else None
            case "louder" | "quieter":
                return self._step(device, VOLUME_STEP if intent == "louder" else -VOLUME_STEP)
        return self._level(intent, device, number)

    def _level(self, intent: str, device: Device, number: float | None) -> dict[str, Any] | None:
        if number is None:
            return None
        caps = device.capabilities
        if intent == "temperature":
            if "target_temperature" not in caps:
                return None
            change: dict[str, Any] = {"target_temperature": number}
            return change
        if intent == "percent":
            kind = {
                DeviceType.LIGHT: "brightness",
                DeviceType.COVER: "position",
                DeviceType.GARAGE_DOOR: "position",
                DeviceType.WATER_VALVE: "position",
                DeviceType.MEDIA_PLAYER: "volume",
                DeviceType.FAN: "fan_speed",
            }.get(device.type)
            intent = kind or ""
        if intent not in caps:
            return None
        change = {intent: round(number)}
        if intent in ("brightness", "fan_speed") and "power" in caps and number > 0:
            change["power"] = "on"  # setting a level means it should be on, as in Home Assistant
        return change

    def _step(self, device: Device, step: int) -> dict[str, Any] | None:
        volume = device.capabilities.get("volume")
        current = self._state().get(device.id, {}).get("volume")
        if volume is None or not isinstance(current, int | float) or isinstance(current, bool):
            return None
        low = volume.min if volume.min is not None else 0
        high = volume.max if volume.max is not None else 100
        return {"volume": round(min(max(current + step, low), high))}


def _paint(device: Device, color: str) -> dict[str, Any] | None:
    if "color" not in device.capabilities:
        return None
    change: dict[str, Any] = {"color": color}
    if "power" in device.capabilities:
        change["power"] = "on"  # a colour is for seeing: the light goes on, as in Home Assistant
    return change
