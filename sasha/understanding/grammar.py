"""The compiled phrase grammar of the fast path: what a sentence asks for, in a fraction of a millisecond.

hassil matches Home Assistant's templates by backtracking over every template and every slot
value; even a three-intent template set costs 1-4 ms a sentence on the 170-device house. The
everyday forms (device, room, floor, "all", kind words, several targets joined by "and") are
therefore parsed here from word tables built once per inventory, and hassil stays behind it
for the long tail. The parser is strict on purpose: every word must be accounted for, so a
sentence it cannot read completely is not read at all (the caller falls back to hassil, then
to the model).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from sasha.home import names
from sasha.home.inventory import Device, Inventory, Room
from sasha.understanding.vocabulary import KIND_WORDS, STEM_ALIASES, Kind, is_kind

_QUANT = ("all of", "all", "every", "each", "both")
_PREFIXES = ("can you ", "could you ", "would you ", "will you ", "hey sasha ", "sasha ")


def normalize(text: str) -> str:
    """Lower-case a sentence, drop punctuation and filler words ("the", "please")."""
    text = text.lower().replace("\u2019", "'").replace("what's", "what is").replace("whats", "what is")
    text = text.replace("%", " percent ").replace("'", "")
    text = names.LOOSE_DOT.sub(" ", names.NON_WORD.sub(" ", text.replace(",", " , ")).replace(" , ", " , "))
    for prefix in _PREFIXES:
        if text.lstrip().startswith(prefix):
            text = text.lstrip()[len(prefix) :]
    return " ".join(w for w in text.split() if w not in names.FILLER)


def label(text: str) -> str:
    """Normalise a device, room or floor name the way sentences are (the program's one name form)."""
    return names.normal(text)


@dataclass(frozen=True, slots=True)
class Target:
    """The devices a phrase names, and whether it means all of them or exactly one."""

    devices: tuple[Device, ...]
    words: str
    every: bool  # a name, a room, a floor, "all": act on all; a bare singular kind: exactly one
    kind: Kind | None = None
    place: str = ""  # the room or floor said, for messages


@dataclass(frozen=True, slots=True)
class Unclear:
    """A phrase that names several devices where one was meant: ask which."""

    words: str
    candidates: tuple[Device, ...]


@dataclass(frozen=True, slots=True)
class _Simple:
    device: Device | None = None
    kind: Kind | None = None
    plural: bool = False
    stem: str = ""
    rooms: tuple[Room, ...] = ()
    floor: str | None = None
    every: bool = False


class Vocabulary:
    """The words of one home (device, room and floor names), compiled once."""

    def __init__(self, home: Inventory) -> None:
        self.home = home
        self.devices: dict[str, list[Device]] = {}
        for device in home.devices.values():
            for text in {device.name, device.id, *device.aliases}:
                found = self.devices.setdefault(label(text), [])
                if device not in found:
                    found.append(device)
        self.rooms: dict[str, Room] = {label(k): r for k, r in home.room_labels().items()}
        self.floors: dict[str, str] = {label(f): f for f in home.floors}

    def target(
        self, words: str, prefer: Callable[[list[Device]], list[Device]] | None = None, *, here: Room | None = None
    ) -> Target | Unclear | None:
        """Read a target phrase ("kitchen and living room lights"); None if any word is unknown.

        `prefer` narrows a bare singular kind that fits several devices ("the music": the one playing);
        `here` is the room the request comes from: a bare kind ("the lights") means that room's, when it has any.
        """
        words = words.strip()
        if not words:
            return None
        # A name with "and" in it ("Salt and pepper lamp") is one device, not two targets.
        whole = [] if words not in self.devices else [words]
        parts = whole or [p.strip() for p in re.split(r"\s*,\s*(?:and\s+)?|\s+and\s+", words) if p.strip()]
        if parts and parts[0].startswith("both "):
            parts[0] = parts[0][5:]
        simple = [self._simple(p) for p in parts]
        if any(s is None for s in simple):
            return None
        found = [s for s in simple if s is not None]
        kinds = [s.kind for s in found]
        devices: list[Device] = []
        every = len(found) > 1
        named_kind = next((k for k in kinds if k is not None), None)
        for i, said in enumerate(found):
            part = said
            if part.device is None and part.kind is None:
                # "the kitchen and living room lights": a bare room takes the kind said next to it.
                near = next((k for k in kinds[i + 1 :] if k is not None), None) or next(
                    (k for k in reversed(kinds[:i]) if k is not None), None
                )
                if near is None:
                    return None
                stem = next((s.stem for s in found if s.kind is near), "")
                part = _Simple(None, near, True, stem, part.rooms, part.floor, part.every)
            chosen = self._devices(part)
            if here is not None and part.device is None and not (part.every or part.rooms or part.floor):
                there = self._devices(replace(part, rooms=(here,)))
                if there:
                    part, chosen = replace(part, rooms=(here,)), there
            if prefer is not None and part.device is None and not (part.every or part.plural) and len(chosen) > 1:
                chosen = prefer(chosen) or chosen
            if part.device is None and not (part.every or part.rooms or part.floor):
                # A bare kind ("the fan", "the lights") is clear only when the home has one such device;
                # "all the lights" says the whole home, "the lights" might mean this room's.
                if len(chosen) != 1 and len(found) == 1:
                    return Unclear(words, tuple(chosen)) if chosen else None
                if len(chosen) != 1:
                    return None
            elif part.device is None and not (part.every or part.plural) and len(chosen) > 1 and len(found) == 1:
                return Unclear(words, tuple(chosen))  # "the kitchen light" where the kitchen has two
            every = every or part.every or part.plural or part.device is not None or bool(part.rooms or part.floor)
            devices.extend(d for d in chosen if d not in devices)
        place = ", ".join(r.name for s in found for r in s.rooms) or next((s.floor or "" for s in found), "")
        return Target(tuple(devices), words, every, named_kind, place)

    def _devices(self, part: _Simple) -> list[Device]:
        if part.device is not None:
            return [part.device]
        if part.kind is None:
            return []
        pool = list(self.home.devices.values())
        if part.rooms:
            ids = {r.id for r in part.rooms}
            pool = [d for d in pool if d.room in ids]
        elif part.floor is not None:
            pool = self.home.on_floor(part.floor)
        chosen = [d for d in pool if is_kind(part.kind, d)]
        if part.stem:
            stems = STEM_ALIASES.get(part.stem, (part.stem,))
            narrowed = [d for d in chosen if any(s in names_of(d) for s in stems)]
            chosen = narrowed or chosen
        return chosen

    def _simple(self, words: str) -> _Simple | None:
        every = False
        for quant in _QUANT:
            if words.startswith(quant + " "):
                words, every = words[len(quant) + 1 :], True
                break
        if not every and words in self.devices:
            found = self.devices[words]
            return _Simple(device=found[0]) if len(found) == 1 else None
        if words in KIND_WORDS:
            kind, plural, stem = KIND_WORDS[words]
            return _Simple(kind=kind, plural=plural, stem=stem, every=every)
        if words in self.rooms:
            return _Simple(rooms=(self.rooms[words],), every=every)
        if words in self.floors:
            return _Simple(floor=self.floors[words], every=every)
        tokens = words.split()
        for cut in range(1, len(tokens)):
            left, right = " ".join(tokens[:cut]), " ".join(tokens[cut:])
            place = self._place(left)
            if place is not None and right in KIND_WORDS:
                return self._with_kind(right, place, every)  # "kitchen lights", "upstairs lights"
            if left in KIND_WORDS:
                for joint in ("in ", "on ", "of ", "at ", ""):
                    if right.startswith(joint) and (place := self._place(right[len(joint) :])) is not None:
                        return self._with_kind(left, place, every)  # "lights in the kitchen", "lights upstairs"
        return None

    def place(self, words: str) -> tuple[tuple[Room, ...], str | None] | None:
        """Read a room or floor phrase ("the garden", "upstairs"); None if it is neither."""
        return self._place(words.strip())

    def devices_at(self, words: str) -> tuple[list[Device], str] | None:
        """Return the devices of a room or floor phrase and how to say where (" in the Kitchen", " upstairs")."""
        place = self.place(words)
        if place is None:
            return None
        rooms, floor = place
        if floor is not None:
            return self.home.on_floor(floor), f" {floor}"
        return [d for r in rooms for d in self.home.in_room(r.id)], f" in the {', '.join(r.name for r in rooms)}"

    def _place(self, words: str) -> tuple[tuple[Room, ...], str | None] | None:
        if words in self.rooms:
            return (self.rooms[words],), None
        if words in self.floors:
            return (), self.floors[words]
        if words.endswith(" floor") and words[:-6] in self.floors:
            return (), self.floors[words[:-6]]
        return None

    @staticmethod
    def _with_kind(word: str, place: tuple[tuple[Room, ...], str | None], every: bool) -> _Simple:
        kind, plural, stem = KIND_WORDS[word]
        return _Simple(None, kind, plural, stem, place[0], place[1], every)


TARGET = "\x00"
"""Marks, in a sentence asked back, where the unclear phrase stood (normalised text never holds it)."""

PAGE = 8
"""How many candidates a "Which X do you mean?" question lists by number before it says how many more."""


def shown(count: int) -> int:
    """Return how many of `count` candidates a question lists (all of them when only a few would be left)."""
    return count if count <= PAGE + 2 else PAGE


def which(words: str, candidates: Iterable[Device]) -> str:
    """Ask which device a phrase means: every candidate, or a numbered first page and how many more.

    Either way the answer may be a number: the candidates' order is the list's order.
    """
    called = [d.name for d in candidates]
    if shown(len(called)) == len(called):
        return f"Which {words or 'one'} do you mean: {', '.join(called)}?"
    listed = ", ".join(f"{i}) {name}" for i, name in enumerate(called[:PAGE], start=1))
    return f"Which {words or 'one'} do you mean: {listed}, or one of {len(called) - PAGE} more (say its name or room)?"


def names_of(device: Device) -> str:
    """Return a device's name, id and aliases as one lower-case string of words."""
    return " ".join(names.words(n) for n in (device.name, device.id, *device.aliases))


@dataclass(frozen=True, slots=True)
class Pattern:
    """One sentence form: a regular expression with a `t` (target) group and the intent it means."""

    intent: str
    regex: re.Pattern[str]


def patterns(table: Iterable[tuple[str, str]]) -> tuple[Pattern, ...]:
    """Compile (intent, regex) pairs; each regex is anchored at both ends."""
    return tuple(Pattern(intent, re.compile(f"^(?:{regex})$")) for intent, regex in table)
