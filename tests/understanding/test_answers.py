"""Questions answered from the state mirror: readings with their age when old, and "no reading"."""

from __future__ import annotations

from sasha.home.inventory import Inventory
from sasha.home.readings import Reading
from sasha.understanding.answers import STALE_AFTER, Answer, Answers, Ask, age
from sasha.understanding.grammar import normalize

NOW = 1_000_000.0


def _answers(home: Inventory, readings: dict[tuple[str, str], Reading]) -> Answers:
    return Answers(home, lambda device, capability: readings.get((device, capability)), clock=lambda: NOW)


def _say(answers: Answers, text: str) -> Answer | Ask | None:
    return answers.answer(normalize(text))


def test_a_fresh_reading_has_no_age_and_an_old_one_does(home: Inventory) -> None:
    """Say how old a reading is only once it is older than the threshold."""
    fresh = _answers(home, {("bedroom_climate", "temperature"): Reading(21.5, NOW - 60)})
    assert _say(fresh, "what's the temperature in the bedroom") == Answer(
        "The temperature in the Bedroom: 21.5 °C (Bedroom climate sensor).", ("bedroom_climate",)
    )
    old = _answers(home, {("bedroom_climate", "temperature"): Reading(21.5, NOW - STALE_AFTER - 3 * 3600)})
    reply = _say(old, "how warm is it in the bedroom?")
    assert isinstance(reply, Answer)
    assert "21.5 °C (Bedroom climate sensor, 3 h ago)" in reply.message


def test_no_reading_is_said_plainly(home: Inventory) -> None:
    """Answer "I have no reading for …" for a sensor that never reported and a room without one."""
    answers = _answers(home, {})
    for text, words in [
        ("what is the temperature in the bedroom", "I have no reading for the temperature in the Bedroom."),
        ("what is the co2 in the garage", "I have no reading for the co2 in the Garage."),
        ("is the front door locked", "I have no reading for Front door lock."),
    ]:
        reply = _say(answers, text)
        assert isinstance(reply, Answer)
        assert reply.message == words


def test_states_which_and_any(home: Inventory) -> None:
    """Answer "is X on", "which lights are on" and "are any windows open" from the readings."""
    readings = {
        ("kitchen_light", "power"): Reading("on", NOW),
        ("hallway_light", "power"): Reading("off", NOW),
        ("front_door", "lock"): Reading("unlocked", NOW - 2 * STALE_AFTER),
        ("bedroom_window", "contact"): Reading(True, NOW),
        ("bedroom_curtains", "position"): Reading(40, NOW),
    }
    answers = _answers(home, readings)
    locked = _say(answers, "is the front door locked?")
    assert isinstance(locked, Answer)
    assert locked.message == "No, the Front door lock is unlocked (as of 30 min ago)."
    which = _say(answers, "which lights are on in the kitchen")
    assert isinstance(which, Answer)
    assert which.message == "On: Kitchen light."
    windows = _say(answers, "are any windows open")
    assert isinstance(windows, Answer)
    assert windows.message == "No, none of the windows is open."
    curtains = _say(answers, "are the curtains open")
    assert isinstance(curtains, Answer)
    assert curtains.message == "Yes, the Curtains is open."


def test_an_unclear_question_asks_and_an_unknown_one_is_left_alone(home: Inventory) -> None:
    """Ask which fan for "is the fan on"; leave "is it warm in the bedroom" to the model."""
    answers = _answers(home, {})
    unclear = _say(answers, "is the fan on")
    assert isinstance(unclear, Ask)
    assert unclear.candidates == ("bedroom_fan", "bathroom_fan")
    assert _say(answers, "is it warm in the bedroom") is None
    assert _say(answers, "what is the meaning of life") is None


def test_age_is_coarse() -> None:
    """Say minutes, then hours, then days."""
    assert [age(s) for s in (10, 20 * 60, 5 * 3600, 3 * 86400)] == ["1 min", "20 min", "5 h", "3 days"]
