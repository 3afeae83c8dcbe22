"""The local fast path: explicit commands and questions resolved without a model.

Questions are answered from the state mirror (`answers`); commands are read by the
compiled phrase grammar (`grammar`, built once per inventory) and, for the long tail,
by hassil with Home Assistant's templates (`sentences`). A sentence is acted on
entirely or not at all. The fast path may fail to act, but it must never act wrongly.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from sasha.home.actions import Action
from sasha.home.capabilities import COLOR_NAMES, ValueKind
from sasha.home.inventory import Device, DeviceType, Inventory, Room
from sasha.home.safety import safe_direction
from sasha.home.validation import validate
from sasha.home.wording import say_changes
from sasha.understanding import grammar, timing, vocabulary
from sasha.understanding.answers import Answer, Answers, Ask
from sasha.understanding.sentences import Match, Question, Templates

__all__ = ["VOLUME_STEP", "Answer", "Bare", "FastPath", "Match", "NotUnderstood", "Question", "Timed"]


# --- the compiled grammar in front of hassil ------------------------------------------------

VOLUME_STEP = 10
"""How far "volume up" / "louder" moves a player's volume, in percent, clamped to its range."""

TEMPERATURE_STEP = 1.0
"""How far "make it warmer" / "turn up the heat" moves a thermostat's setting, in °C, clamped to its range."""

_NUM = r"(?P<n>\d+(?:\.\d+)?)"
_COLORS = "|".join(sorted({*COLOR_NAMES, *vocabulary.WHITES}, key=len, reverse=True))
_PCT = r"(?P<n>\d+) percent"
_ON = r"(?: on (?P<t>.+))?"
_EVERY = r"(?:everything|all of it|it all|every device|all devices)"
_WHERE = r"(?: (?:(?:in|on|at) )?(?P<t>.+))?"
_DEGREES = rf"{_NUM}(?: degrees?)?(?: celsius| c)?"
_HEAT = r"(?:heat|heating|temperature)"
_COMMANDS = grammar.patterns(
    [
        # "switch off everything in the kitchen", "turn everything off": power off, nothing else.
        ("all off", rf"(?:turn|switch|power|shut) off {_EVERY}{_WHERE}"),
        ("all off", rf"(?:turn|switch|power|shut) {_EVERY} off{_WHERE}"),
        ("all off", rf"{_EVERY} off{_WHERE}"),
        ("all on", rf"(?:turn|switch|power) on {_EVERY}{_WHERE}"),
        ("all on", rf"(?:turn|switch|power) {_EVERY} on{_WHERE}"),
        # a room's climate by the room: "turn up the heat in the living room", "make it warmer"
        ("warmer", rf"(?:turn|put) up {_HEAT}{_WHERE}"),
        ("warmer", rf"turn {_HEAT} up{_WHERE}"),
        ("warmer", rf"make (?:it )?(?:warmer|hotter){_WHERE}"),
        ("warmer", r"make (?P<t>.+?) (?:warmer|hotter)"),
        ("cooler", rf"(?:turn|put) down {_HEAT}{_WHERE}"),
        ("cooler", rf"turn {_HEAT} down{_WHERE}"),
        ("cooler", rf"make (?:it )?(?:cooler|colder){_WHERE}"),
        ("cooler", r"make (?P<t>.+?) (?:cooler|colder)"),
        ("preheat", rf"(?:preheat|heat up|heat) (?P<t>.+?) to {_DEGREES}"),
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
        ("temperature", rf"(?:set|turn|change) (?P<t>.+?) (?:temperature )?to {_DEGREES}"),
        # "set the bedroom to 19 degrees": the room's thermostat or heater (asked when it has two).
        ("room temperature", rf"(?:set|turn|change|put) (?P<t>.+?) to {_DEGREES}"),
        ("color", rf"(?:set|turn|make|change) (?P<t>.+?) (?:to |color to |colour to )?(?P<c>{_COLORS})"),
        # "set the ac to cool", "put the fan on auto": one of the words a device's mode takes.
        ("choice", r"(?:set|switch|put|change|turn) (?P<t>.+?) (?:to|into|on) (?P<v>[a-z][a-z ]*?)(?: mode)?"),
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
_VERB = "(?:" + "|".join(w for w in (*vocabulary.COMMAND_VERBS, *vocabulary.QUESTION_WORDS) if w.isalpha()) + r")\b"
# Where one command ends and the next begins: "then", or "and"/"," before a verb. An "and" not
# followed by a verb joins targets ("the kitchen and living room lights") and is read there.
_SPLIT = re.compile(rf"\s*,?\s*(?:and\s+)?then\s+|\s*,\s*(?:and\s+)?(?={_VERB})|\s+and\s+(?={_VERB})")


@dataclass(frozen=True, slots=True)
class NotUnderstood:
    """A sentence of several commands with one part the fast path could not read."""

    understood: tuple[str, ...]
    part: str


@dataclass(frozen=True, slots=True)
class Bare:
    """A sentence that only names devices: no verb, so nothing to do without asking what."""

    message: str
    devices: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Timed:
    """A command for later ("in 10 minutes", "at 11pm") or for a while ("for 10 minutes")."""

    match: Match
    timing: timing.Timing


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a command-like sentence was not done, in words: a typo's likely fix, or a device the home lacks."""

    message: str
    unknown: bool  # True: it names nothing in this home; False: a word was not understood


@dataclass(frozen=True, slots=True)
class _Parsed:
    match: Match | Question
    prefix: str
    suffix: str


StateView = Callable[[], Mapping[str, Mapping[str, Any]]]


class FastPath:
    """Resolve explicit commands and questions locally: the compiled grammar first, hassil second."""

    def __init__(
        self,
        home: Inventory,
        *,
        state: StateView | None = None,
        answers: Answers | None = None,
        names: grammar.Vocabulary | None = None,
    ) -> None:
        """`names` is the home's vocabulary when the caller has built it already (a large home's takes a while)."""
        self._home = home
        self._words = names or grammar.Vocabulary(home)
        self._hassil = Templates(home)
        self._state = state or dict
        self._answers = answers
        # Every word a command may be made of: the grammar's own words and the home's names.
        words = {w for p in _COMMANDS for w in re.findall(r"[a-z]{2,}", p.regex.pattern)}
        words |= {w for label in (*self._words.devices, *self._words.rooms, *self._words.floors) for w in label.split()}
        words |= {w for kind in vocabulary.kind_words() for w in kind.split()}
        self._known = sorted(words)

    def match(
        self, text: str, *, area: str | None = None
    ) -> Match | Question | Answer | NotUnderstood | Bare | Timed | None:
        """Resolve a sentence entirely, ask about it, or return None for the planner.

        `area` is the room the request comes from (a satellite's area): "turn off the lights"
        then means that room's lights. An area that names no room of this home is ignored.
        """
        said = grammar.normalize(text).replace(" , ", ", ").strip(" ,")
        here = self._room(area)
        later = timing.split(said)
        if later is not None:
            timed = self._timed(later, here)
            if timed is not None:
                return timed
        found = self._match(text, said, here)
        if isinstance(found, Question) and not found.text:
            return replace(found, text=said)
        return found

    def _timed(self, later: timing.Timing, here: Room | None) -> Timed | Match | Question | None:
        """Read the command of a timed sentence; None when it is not a command read here."""
        found = self._match(later.command, later.command, here)
        if isinstance(found, Match):
            return found if found.problem is not None or not found.actions else Timed(found, later)
        if isinstance(found, Question):
            # The answer completes the whole sentence, time phrase included.
            return replace(found, text=f"{found.text or later.command} {later.phrase}")
        return None

    def _room(self, area: str | None) -> Room | None:
        """Return the one room an area names (by id, name or alias), or None."""
        place = self._words.place(grammar.label(area)) if area else None
        return place[0][0] if place is not None and len(place[0]) == 1 else None

    def _match(
        self, text: str, said: str, here: Room | None
    ) -> Match | Question | Answer | NotUnderstood | Bare | None:
        if not said:
            return None
        if self._answers is not None:
            answer = self._answers.answer(said, here)
            if isinstance(answer, Ask):
                return Question(answer.message, answer.candidates, answer.words, answer.text)
            if answer is not None:
                return answer
        whole = self._command(said, here)
        if whole is not None:
            return whole.match
        bare = self._bare(said)
        if bare is not None:
            return bare
        parts = [p.strip(" ,") for p in _SPLIT.split(said) if p.strip(" ,")]
        if len(parts) < 2:
            return self._hassil.match(text)
        return self._several(said, parts, here)

    def explain(self, text: str) -> Refusal | None:
        """Say why a sentence the fast path did not act on is not done: a likely typo, or no such device.

        None means it does not look like a command at all (a goal: that needs the model).
        A suggestion is only ever a question; nothing here acts.
        """
        said = grammar.normalize(text).replace(" , ", ", ").strip(" ,")
        tokens = said.split()
        if not tokens or len(tokens) > _LOCAL_WORDS:
            return None
        fixes: dict[str, str] = {}
        for i, token in enumerate(tokens):
            # A known word may still be the typo: "turn of the light".
            for word in difflib.get_close_matches(token, self._known, n=4, cutoff=0.75):
                if word == token:
                    continue
                fixed = " ".join([*tokens[:i], word, *tokens[i + 1 :]])
                parsed = self._command(fixed)
                if parsed is not None and isinstance(parsed.match, Match) and parsed.match.actions:
                    fixes.setdefault(fixed, token)
        if len(fixes) == 1:
            fixed, wrong = next(iter(fixes.items()))
            return Refusal(f"I did not understand “{wrong}”. Did you mean “{fixed}”?", unknown=False)
        if any(p.intent == "all on" and p.regex.match(said) for p in _COMMANDS):
            return Refusal(_NEVER_ALL_ON, unknown=False)
        for pattern in _COMMANDS:
            found = pattern.regex.match(said)
            words = found.groupdict().get("t") if found is not None else None
            if words is None or self._words.target(words) is not None or self._words.place(words) is not None:
                continue
            close = difflib.get_close_matches(words, list(self._words.devices), n=3, cutoff=0.6)
            names = sorted({self._words.devices[c][0].name for c in close})
            hint = f" The closest: {', '.join(names)}." if names else ""
            return Refusal(f"There is no {words} in this home.{hint}", unknown=True)
        return None

    def _bare(self, said: str) -> Bare | None:
        target = self._words.target(said)
        if isinstance(target, grammar.Target) and target.devices:
            names = _names([d.name for d in target.devices])
            return Bare(f"What should I do with the {names}?", tuple(d.id for d in target.devices))
        if isinstance(target, grammar.Unclear) and target.candidates:
            return Bare(f"What should I do with the {target.words}?", tuple(d.id for d in target.candidates))
        return None

    def choose(self, question: Question, text: str) -> tuple[str, ...] | Question | None:
        """Read an answer to `question`: the devices it picks, a narrower question, or None (not an answer).

        An answer is a name or alias, "the <room> one", a number from the list, "both" or
        "all of them", or words of one candidate's name ("the ceiling one").
        """
        said = grammar.normalize(text).strip(" ,")
        candidates = [self._home.devices[i] for i in question.candidates if i in self._home.devices]
        if not said or not candidates:
            return None
        if said in _ALL or (said in _BOTH and len(candidates) == 2):
            return tuple(d.id for d in candidates)
        number = _ordinal(said, len(candidates))
        if number is not None:
            if 1 <= number <= grammar.shown(len(candidates)):
                return (candidates[number - 1].id,)
            return self._again(question, candidates, f"There is no number {number} in the list.")
        words = _ONE.sub("", said).strip()
        if not words:
            return None
        named = self._words.devices.get(words)
        if named is None:
            target = self._words.target(words)
            named = list(target.devices) if isinstance(target, grammar.Target) and target.every else None
        if named:
            inside = [d for d in named if d in candidates]
            if len(inside) == len(named):
                return tuple(d.id for d in inside)
            outside = _names([d.name for d in named if d not in candidates])
            return self._again(question, candidates, f"The {outside} is not one of them.")
        place = self._words.place(words)
        if place is not None:
            rooms, floor = place
            ids = {r.id for r in rooms}
            there = [d for d in candidates if (d.room in ids if rooms else d in self._home.on_floor(floor or ""))]
            where = ", ".join(r.name for r in rooms) or floor or words
            return self._narrow(question, there, f"None of them is in the {where}.", candidates)
        tokens = set(words.split())
        fits = [d for d in candidates if tokens <= set(grammar.names_of(d).split())]
        return self._narrow(question, fits, None, candidates) if fits else None

    def _narrow(
        self, question: Question, fits: list[Device], none: str | None, candidates: list[Device]
    ) -> tuple[str, ...] | Question | None:
        if len(fits) == 1:
            return (fits[0].id,)
        if fits:
            return replace(question, message=grammar.which(question.words, fits), candidates=tuple(d.id for d in fits))
        return self._again(question, candidates, none) if none else None

    @staticmethod
    def _again(question: Question, candidates: list[Device], why: str | None) -> Question:
        return replace(question, message=f"{why} {grammar.which(question.words, candidates)}")

    def complete(self, question: Question, chosen: tuple[str, ...]) -> Match | Question | Answer | Timed | None:
        """Run the sentence that asked `question` again with the chosen devices named in it.

        The result keeps that sentence's verb and value; it never acts on a candidate that was
        not chosen (None when it would).
        """
        named = " and ".join(self._label(self._home.devices[i]) for i in chosen)
        if grammar.TARGET in question.text:
            tries = [question.text.replace(grammar.TARGET, named)]
        else:  # "pause", "next track": the sentence said no target; it goes at the end
            tries = [f"{question.text} {named}", f"{question.text} on {named}"]
        for sentence in tries:
            found = self.match(sentence)
            if isinstance(found, Question | Answer):
                return found
            if isinstance(found, Match | Timed):
                others = set(question.candidates) - set(chosen)
                actions = found.actions if isinstance(found, Match) else found.match.actions
                if any(a.device in others for a in actions):
                    return None
                return found
        return None

    def _label(self, device: Device) -> str:
        """Return a phrase that names exactly this device in a sentence."""
        for text in (device.name, device.id, *device.aliases):
            said = grammar.label(text)
            if self._words.devices.get(said) == [device]:
                return said
        return grammar.label(device.id)

    def _several(self, said: str, parts: list[str], here: Room | None) -> Match | Question | NotUnderstood:
        matches: list[Match] = []
        understood: list[str] = []
        previous: _Parsed | None = None
        for part in parts:
            parsed = self._command(part, here)
            carried = False
            if parsed is None and previous is not None:
                # "turn on the kitchen light, then the hallway light": the verb carries over.
                parsed = self._command(f"{previous.prefix}{part}{previous.suffix}", here)
                carried = True
            if parsed is None and self._words.target(part) is None:
                # A part that is only a name ("… then the kitchen light") never gets hassil's bare-name "on".
                hassil = self._hassil.match(part)
                parsed = _Parsed(hassil, "", "") if isinstance(hassil, Match) else None
            if parsed is None:
                return NotUnderstood(tuple(understood), part)
            if isinstance(parsed.match, Question):
                # The answer completes the whole sentence: mark where the unclear phrase sits in it.
                spot = grammar.TARGET if carried else parsed.match.text
                return replace(parsed.match, text=said.replace(part, spot, 1))
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

    def _command(self, said: str, here: Room | None = None) -> _Parsed | None:
        for pattern in _COMMANDS:
            found = pattern.regex.match(said)
            if found is None:
                continue
            words = found.groupdict().get("t")
            value = found.groupdict().get("n") or found.groupdict().get("c") or found.groupdict().get("v")
            result = self._resolve(pattern.intent, words, value, here)
            if result is None:
                continue
            if isinstance(result, Question) and not result.text:
                # The sentence with a mark where the answer goes; no mark when it named no target.
                spot = said if words is None else said[: found.start("t")] + grammar.TARGET + said[found.end("t") :]
                result = replace(result, text=spot)
            if words is None:
                return _Parsed(result, "", "")
            return _Parsed(result, said[: found.start("t")], said[found.end("t") :])
        return None

    def _resolve(self, intent: str, words: str | None, value: str | None, here: Room | None) -> Match | Question | None:
        prefer = self._playing if intent in _MEDIA_INTENTS or intent == "off" else None
        target: grammar.Target | grammar.Unclear | None
        if intent in ("all off", "all on", "warmer", "cooler"):
            return self._everything(intent, words, here)
        if intent in ("water", "room temperature"):
            placed = self._placed(intent, words)
            if not isinstance(placed, grammar.Target):
                return placed
            target, intent = placed, "open" if intent == "water" else "temperature"
        elif words is None:
            if intent not in _MEDIA_INTENTS and intent != "volume":
                return None
            players = [d for d in self._home.devices.values() if d.type is DeviceType.MEDIA_PLAYER]
            chosen = self._playing(players) or players
            target = (
                grammar.Target((chosen[0],), "", False)
                if len(chosen) == 1
                else grammar.Unclear("media player", tuple(chosen))
            )
        else:
            target = self._words.target(words, prefer, here=here)
            if (
                intent in ("lock", "unlock")
                and isinstance(target, grammar.Target)
                and target.kind is vocabulary.Kind.DOOR
            ):
                # "lock all the doors" means their locks, not the contact sensors on them.
                target = self._words.target(words.replace("doors", "locks").replace("door", "lock"), prefer)
        if target is None:
            return None
        if isinstance(target, grammar.Unclear):
            if not target.candidates:
                return None
            what = "player" if target.words in ("music", "media", "media player") else target.words
            ids = tuple(d.id for d in target.candidates)
            return Question(grammar.which(what, target.candidates), ids, words or "")
        if not target.devices:
            where = f" in {target.place}" if target.place else ""
            return Match(
                intent,
                (),
                "",
                f"there is no {target.words}{where} in this home" if not where else f"there are no such devices{where}",
            )
        color = value if intent == "color" else None
        word = value if intent == "choice" else None
        number = float(value) if value is not None and color is None and word is None else None
        actions: list[Action] = []
        unable: list[str] = []
        for device in target.devices:
            if word is not None:
                change = _choose(device, word)
            else:
                change = self._change(intent, device, number) if color is None else _paint(device, color)
            if change is None:
                unable.append(device.name)
                continue
            checked = validate(self._home, device.id, change)
            if not checked.ok:
                return Match(intent, (), "", "; ".join(p.message for p in checked.problems))
            actions.append(Action(device.id, checked.values, "as asked"))
        if not actions and intent in ("louder", "quieter", "color", "choice"):
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

    def _everything(self, intent: str, words: str | None, here: Room | None) -> Match | Question | None:
        """Read "everything off" and "warmer"/"cooler" in a place, the whole home, or `here`."""
        placed = self._pool(words, here if intent in ("warmer", "cooler") else None)
        if placed is None and intent in ("warmer", "cooler") and words is not None:
            named = self._words.target(words)  # "make the bedroom heater warmer"
            if isinstance(named, grammar.Target) and named.devices:
                placed = list(named.devices), ""
        if placed is None or intent == "all on":
            return None  # an unknown place; "everything on" is not for the fast path to guess
        devices, where = placed
        if intent == "all off":
            return self._all_off(devices, where)
        return self._step_climate(intent, devices, where, words)

    def _placed(self, intent: str, words: str | None) -> grammar.Target | Question | None:
        """Read "water the garden" (its valves) or "set the bedroom to 19" (its heating; asked when two)."""
        place = self._words.place(words or "")
        if place is None:
            return None
        rooms, floor = place
        ids = {r.id for r in rooms}
        pool = self._home.on_floor(floor) if floor else [d for d in self._home.devices.values() if d.room in ids]
        kinds = (DeviceType.WATER_VALVE,) if intent == "water" else _CLIMATE
        found = tuple(d for d in pool if d.type in kinds)
        if intent == "room temperature" and len(found) > 1:
            return Question(grammar.which("one", found), tuple(d.id for d in found), words or "")
        where = ", ".join(r.name for r in rooms) or floor or ""
        return grammar.Target(found, words or "", True, None, where)

    def _pool(self, words: str | None, here: Room | None) -> tuple[list[Device], str] | None:
        """Return the devices of the place a phrase names (the whole home, or `here`, when it names none)."""
        if words is None:
            if here is not None:
                return self._home.in_room(here.id), f" in the {here.name}"
            return list(self._home.devices.values()), ""
        return self._words.devices_at(words)

    def _all_off(self, devices: list[Device], where: str) -> Match:
        """Turn off whatever has power in a place; a sensitive device only when off is its safe direction."""
        actions: list[Action] = []
        kept: list[str] = []
        for device in devices:
            if "power" not in device.writable:
                continue  # covers, locks, sensors: "everything off" never opens, closes or unlocks
            change = {"power": "off"}
            if device.sensitive and not safe_direction(device, change):
                kept.append(device.name)  # an alarm's "off" is disarming it
                continue
            checked = validate(self._home, device.id, change)
            if checked.ok:
                actions.append(Action(device.id, checked.values, "as asked"))
        if not actions:
            return Match("all off", (), "", f"there is nothing to turn off{where}")
        if len(actions) > _LISTED:
            summary = f"{len(actions)} devices{where} off"
        else:
            summary = say_changes([(self._home.devices[a.device], a.set) for a in actions])
        if kept:
            summary += f" (I left the {_names(kept)} as it is: off would make it less safe)"
        return Match("all off", tuple(actions), summary)

    def _step_climate(self, intent: str, devices: list[Device], where: str, words: str | None) -> Match | Question:
        """Move a place's thermostat or heater a step warmer or cooler from its current setting."""
        found = [d for d in devices if d.type in _CLIMATE and "target_temperature" in d.writable]
        if not found:
            return Match(intent, (), "", f"there is no thermostat or heater{where}")
        if len(found) > 1:
            # The answer completes "make <it> warmer" with the one chosen.
            again = f"make {grammar.TARGET} {'warmer' if intent == 'warmer' else 'cooler'}"
            return Question(grammar.which("one", found), tuple(d.id for d in found), words or "", again)
        device = found[0]
        state = self._state().get(device.id, {})
        current = state.get("target_temperature")
        if not isinstance(current, int | float) or isinstance(current, bool):
            room = self._home.rooms[device.room].name.lower() if device.room in self._home.rooms else "room"
            return Match(intent, (), "", f"I do not know the {device.name}'s setting: say it (“set the {room} to 21”)")
        cap = device.capabilities["target_temperature"]
        step = TEMPERATURE_STEP if intent == "warmer" else -TEMPERATURE_STEP
        low = cap.min if cap.min is not None else float("-inf")
        high = cap.max if cap.max is not None else float("inf")
        change: dict[str, Any] = {"target_temperature": min(max(current + step, low), high)}
        if intent == "warmer" and "power" in device.writable and state.get("power") != "on":
            change["power"] = "on"  # warmer from a heater that is off means it goes on
        checked = validate(self._home, device.id, change)
        if not checked.ok:
            return Match(intent, (), "", "; ".join(p.message for p in checked.problems))
        action = Action(device.id, checked.values, "as asked")
        return Match(intent, (action,), say_changes([(device, action.set)]))

    def _playing(self, devices: list[Device]) -> list[Device]:
        state = self._state()
        return [d for d in devices if state.get(d.id, {}).get("playback") == "playing"]

    def _change(self, intent: str, device: Device, number: float | None) -> dict[str, Any] | None:
        caps = device.capabilities
        match intent:
            case "on" | "off":
                return vocabulary.switch(device, intent == "on")
            case "open" | "close" | "half":
                if device.type not in (DeviceType.COVER, DeviceType.GARAGE_DOOR, DeviceType.WATER_VALVE):
                    return None
                if "position" in caps:
                    return {"position": 50 if intent == "half" else 100 if intent == "open" else 0}
                if "power" in caps and intent != "half":
                    return {"power": "on" if intent == "open" else "off"}  # a valve's "on" is open
                return None
            case "preheat":
                if "target_temperature" not in device.writable or number is None:
                    return None
                heat: dict[str, Any] = {"target_temperature": number}
                return {"power": "on", **heat} if "power" in caps else heat
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


_CLIMATE = (DeviceType.THERMOSTAT, DeviceType.HEATER)
_NEVER_ALL_ON = "I turn everything off at once, never on: say what to turn on (“the kitchen lights”)."
# A summary names each device up to this many; beyond it says how many.
_LISTED = 8
# Sentences longer than this are not checked for typos: a command is a few words.
_LOCAL_WORDS = 12
_ALL = frozenset({"all", "all of them", "all of those", "every one", "each", "each of them", "all them"})
_BOTH = frozenset({"both", "both of them", "both them"})
_ONE = re.compile(r"^(?:that one in |one in |that one |one |in |on )|(?: one| ones)$")
_ORDINALS = {
    word: i
    for i, words in enumerate(
        (("first", "1st"), ("second", "2nd"), ("third", "3rd"), ("fourth", "4th"), ("fifth", "5th")), start=1
    )
    for word in words
} | {"sixth": 6, "seventh": 7, "eighth": 8, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
_NUMBER = re.compile(r"^(?:number |no |#)?(?P<n>\d+|[a-z0-9]+?)(?: one)?$")


def _ordinal(said: str, count: int) -> int | None:
    """Read "2", "number 2", "the second one", "last" as a position in a list of `count`."""
    if said in ("last", "last one"):
        return count
    found = _NUMBER.match(said)
    if found is None:
        return None
    word = found.group("n")
    if word.isdigit():
        return int(word)
    return _ORDINALS.get(word)


def _names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _choose(device: Device, word: str) -> dict[str, Any] | None:
    """Return the change that sets the one mode of `device` that takes `word` ("cool", "fan only")."""
    fits = [
        name
        for name, cap in device.writable.items()
        if cap.info.kind is ValueKind.CHOICE and any(v.replace("_", " ") == word for v in cap.values)
    ]
    if len(fits) != 1:
        return None
    value = next(v for v in device.capabilities[fits[0]].values if v.replace("_", " ") == word)
    return {fits[0]: value}


def _paint(device: Device, color: str) -> dict[str, Any] | None:
    """Return the change that shows a colour: a white by colour temperature where the light has one."""
    caps = device.capabilities
    change: dict[str, Any]
    kelvin = vocabulary.WHITES.get(color)
    if kelvin is not None and "color_temp" in caps:
        cap = caps["color_temp"]
        # "daylight" on a lamp that stops at 5000 K is as close as it goes, not a refusal.
        low = cap.min if cap.min is not None else kelvin
        high = cap.max if cap.max is not None else kelvin
        change = {"color_temp": round(min(max(kelvin, low), high))}
    elif color in COLOR_NAMES and "color" in caps:
        change = {"color": color}
    else:
        return None
    if "power" in caps:
        change["power"] = "on"  # a colour is for seeing: the light goes on, as in Home Assistant
    return change
