"""Answers to the fast path's own questions: they complete the request that asked, never another one.

The oracle is the explicit command: "turn off the fan" answered "the ceiling one" must do exactly
what "turn off the Ceiling fan" does, and a bare name never does anything.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sasha.home.inventory import Inventory, from_yaml
from sasha.home.readings import Reading
from sasha.understanding import grammar
from sasha.understanding.answers import Answer, Answers
from sasha.understanding.intents import Bare, FastPath, Match, Question

# Two of each kind, each pair in two rooms, so that every question can be answered by room too.
HOME = """
home: {name: Pairs, base_topic: pairs}
rooms:
  - {id: bedroom, name: Bedroom, floor: upstairs, aliases: [master bedroom]}
  - {id: bathroom, name: Bathroom, floor: upstairs}
  - {id: lounge, name: Lounge, floor: downstairs, aliases: [living room]}
  - {id: study, name: Study, floor: downstairs}
  - {id: hall, name: Hall, floor: downstairs}
devices:
  - {id: ceiling_fan, name: Ceiling fan, aliases: [big fan], room: bedroom, type: fan,
     capabilities: {power: {}, fan_speed: {}}}
  - {id: extractor, name: Bathroom fan, aliases: [extractor fan], room: bathroom, type: fan,
     capabilities: {power: {}, fan_speed: {}}}
  - {id: floor_lamp, name: Floor lamp, aliases: [reading lamp], room: lounge, type: light,
     capabilities: {power: {}, brightness: {}, color: {}}}
  - {id: desk_lamp, name: Desk lamp, aliases: [work lamp], room: study, type: light,
     capabilities: {power: {}, brightness: {}, color: {}}}
  - {id: tv, name: Television, aliases: [telly], room: lounge, type: media_player,
     capabilities: {power: {}, volume: {}, playback: {}, muted: {}}}
  - {id: radio, name: Kitchen radio, aliases: [wireless], room: study, type: media_player,
     capabilities: {power: {}, volume: {}, playback: {}, muted: {}}}
  - {id: blind_a, name: Lounge blind, aliases: [sofa blind], room: lounge, type: cover,
     capabilities: {position: {}}}
  - {id: blind_b, name: Study blind, aliases: [desk blind], room: study, type: cover,
     capabilities: {position: {}}}
  - {id: front_lock, name: Front door lock, aliases: [front lock], room: hall, type: lock, sensitive: true,
     capabilities: {lock: {}}}
  - {id: back_lock, name: Back door lock, aliases: [back lock], room: bathroom, type: lock, sensitive: true,
     capabilities: {lock: {}}}
"""

# Every verb of the fast path's questions, with the devices it asks about.
SENTENCES: list[tuple[str, tuple[str, str]]] = [
    ("turn on the fan", ("ceiling_fan", "extractor")),
    ("turn off the fan", ("ceiling_fan", "extractor")),
    ("set the fan to 40 percent", ("ceiling_fan", "extractor")),
    ("switch the lamp off", ("floor_lamp", "desk_lamp")),
    ("dim the lamp to 20", ("floor_lamp", "desk_lamp")),
    ("set the lamp to red", ("floor_lamp", "desk_lamp")),
    ("pause the music", ("tv", "radio")),
    ("pause", ("tv", "radio")),
    ("mute the media player", ("tv", "radio")),
    ("unmute", ("tv", "radio")),
    ("set the volume to 25", ("tv", "radio")),
    ("open the blind", ("blind_a", "blind_b")),
    ("close the blind", ("blind_a", "blind_b")),
    ("set the blind to 30 percent", ("blind_a", "blind_b")),
    ("lock the lock", ("front_lock", "back_lock")),
    ("unlock the lock", ("front_lock", "back_lock")),
]


@pytest.fixture(scope="module")
def pairs() -> Inventory:
    """Return the home of pairs."""
    return from_yaml(HOME, "pairs.yaml")


@pytest.fixture(scope="module")
def fast(pairs: Inventory) -> FastPath:
    """Return the fast path of the home of pairs."""
    return FastPath(pairs)


def _explicit(fast: FastPath, home: Inventory, sentence: str, words: str, device: str) -> Match:
    """Return what the sentence does with the device named outright: the oracle."""
    name = home.devices[device].name.lower()
    said = fast.match(sentence).text  # type: ignore[union-attr]
    named = said.replace(grammar.TARGET, name) if grammar.TARGET in said else None
    for text in [named] if named else [f"{said} {name}", f"{said} on {name}"]:
        found = fast.match(text)
        if isinstance(found, Match):
            return found
    raise AssertionError(f"no explicit form of {sentence!r} for {device}")


def _answers(home: Inventory, device: str, position: int) -> list[str]:
    found = home.devices[device]
    room = home.rooms[found.room].name.lower()
    return [
        found.name,
        f"the {found.name.lower()}",
        found.aliases[0],
        f"the {room} one",
        f"the one in the {room}",
        str(position),
        ["the first one", "the second one"][position - 1],
        f"number {position}",
    ]


@pytest.mark.parametrize(("sentence", "pair"), SENTENCES)
def test_every_question_is_completed_by_every_kind_of_answer(
    fast: FastPath, pairs: Inventory, sentence: str, pair: tuple[str, str]
) -> None:
    """Answer by name, alias, room and number: the first sentence's verb and value, on that device only."""
    question = fast.match(sentence)
    assert isinstance(question, Question), (sentence, question)
    assert set(question.candidates) == set(pair)
    for position, device in enumerate(question.candidates, start=1):
        expected = _explicit(fast, pairs, sentence, question.words, device)
        assert [a.device for a in expected.actions] == [device]
        for answer in _answers(pairs, device, position):
            chosen = fast.choose(question, answer)
            assert chosen == (device,), (sentence, answer, chosen)
            done = fast.complete(question, chosen)
            assert isinstance(done, Match), (sentence, answer, done)
            assert done.actions == expected.actions, (sentence, answer)


@pytest.mark.parametrize(("sentence", "pair"), SENTENCES[:4])
def test_both_answers_do_both(fast: FastPath, sentence: str, pair: tuple[str, str]) -> None:
    """Answer "both": the request runs on both candidates, with its own verb."""
    question = fast.match(sentence)
    assert isinstance(question, Question)
    done = fast.complete(question, fast.choose(question, "both of them"))  # type: ignore[arg-type]
    assert isinstance(done, Match)
    assert {a.device for a in done.actions} == set(pair)


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        ("the floor lamp", "The Floor lamp is not one of them. Which fan do you mean: Ceiling fan, Bathroom fan?"),
        ("the study one", "None of them is in the Study. Which fan do you mean: Ceiling fan, Bathroom fan?"),
        ("3", "There is no number 3 in the list. Which fan do you mean: Ceiling fan, Bathroom fan?"),
    ],
)
def test_an_answer_outside_the_question_asks_again(fast: FastPath, answer: str, says: str) -> None:
    """Name a device that is not a candidate, a room with none, a number past the list: ask again."""
    question = fast.match("turn off the fan")
    assert isinstance(question, Question)
    again = fast.choose(question, answer)
    assert isinstance(again, Question)
    assert again.message == says
    assert again.candidates == question.candidates


@pytest.mark.parametrize("answer", ["turn on the floor lamp", "make it cozy", "what time is it", "undo", ""])
def test_what_is_not_an_answer_is_left_alone(fast: FastPath, answer: str) -> None:
    """A new command, a goal or an empty line picks nothing (the caller treats it as a new request)."""
    question = fast.match("turn off the fan")
    assert isinstance(question, Question)
    assert fast.choose(question, answer) is None


def test_a_floor_or_a_word_of_the_name_answers_too(fast: FastPath) -> None:
    """Answer "the upstairs one" or "the back": the one candidate that fits."""
    question = fast.match("unlock the lock")
    assert isinstance(question, Question)
    assert fast.choose(question, "the upstairs one") == ("back_lock",)
    assert fast.choose(question, "the back one") == ("back_lock",)
    assert fast.choose(question, "front") == ("front_lock",)


def test_a_question_about_state_is_completed_by_its_answer(pairs: Inventory) -> None:
    """Ask "is the fan on", answer "the bathroom one": the answer is about the Bathroom fan."""
    values = {("ceiling_fan", "power"): "on", ("extractor", "power"): "off"}
    answers = Answers(pairs, lambda device, cap: Reading(values[device, cap], time.time()))
    fast = FastPath(pairs, answers=answers)
    question = fast.match("is the fan on?")
    assert isinstance(question, Question)
    chosen = fast.choose(question, "the bathroom one")
    assert chosen == ("extractor",)
    assert fast.complete(question, ("extractor",)) == Answer("No, the Bathroom fan is off.", ("extractor",))


@pytest.mark.parametrize("text", ["kitchen radio", "the ceiling fan", "Front door lock", "telly", "the fan", "lamps"])
def test_a_bare_name_never_acts(fast: FastPath, text: str) -> None:
    """Say only a name: the fast path asks what to do and never turns the device on."""
    found = fast.match(text)
    assert isinstance(found, Bare), (text, found)
    assert found.message.startswith("What should I do with the ")


def test_a_bare_part_of_several_commands_is_not_turned_on(fast: FastPath) -> None:
    """Read "set the telly volume to 20 then the floor lamp" without hassil's bare-name "on" for the lamp."""
    found = fast.match("set the telly volume to 20 then the floor lamp")
    assert not (isinstance(found, Match) and any(a.device == "floor_lamp" for a in found.actions))


_WORDS = [
    "the",
    "one",
    "both",
    "all",
    "2",
    "1",
    "0",
    "7",
    "second",
    "last",
    "on",
    "off",
    "turn",
    "open",
    "lock",
    "unlock",
    "fan",
    "lamp",
    "ceiling",
    "bathroom",
    "lounge",
    "study",
    "upstairs",
    "in",
    "and",
    "red",
    "50",
    "percent",
    "no",
    "yes",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sentence=st.sampled_from(SENTENCES),
    words=st.lists(st.sampled_from(_WORDS), min_size=1, max_size=5),
)
def test_an_answer_never_publishes_what_the_first_sentence_did_not_ask(
    fast: FastPath, pairs: Inventory, sentence: tuple[str, tuple[str, str]], words: list[str]
) -> None:
    """Whatever the answer, a completion does only what the sentence does to the devices it picks."""
    question = fast.match(sentence[0])
    assert isinstance(question, Question)
    chosen = fast.choose(question, " ".join(words))
    if not isinstance(chosen, tuple):
        return
    done = fast.complete(question, chosen)
    if not isinstance(done, Match):
        return
    allowed: dict[str, dict[str, Any]] = {}
    for device in chosen:
        for action in _explicit(fast, pairs, sentence[0], question.words, device).actions:
            allowed[action.device] = dict(action.set)
    assert {a.device: dict(a.set) for a in done.actions} == allowed
