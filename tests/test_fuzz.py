"""Fuzz every parser of untrusted input: only the module's own error, never another exception.

The inputs are arbitrary bytes and text, plus text drawn from each format's own punctuation,
which reaches the deeper paths (anchors, tags, nesting, escapes) far more often.
"""

from __future__ import annotations

import contextlib
import itertools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sasha import config
from sasha.adapters import adapter_for
from sasha.errors import ConfigError, DecodeError, InventoryError
from sasha.home import inventory
from sasha.home.inventory import Inventory
from sasha.planning.decision import DecisionError, extract_json, parse_decision
from sasha.routines.store import RoutinesFileError, parse
from sasha.scenarios.files import ScenarioError
from sasha.scenarios.files import load as load_scenario
from sasha.surfaces import api
from tests.conftest import EXAMPLE

HOME = inventory.from_file(EXAMPLE)
_JSON_ALPHABET = '{}[]":,.-+0123456789eEtrufalsn \\/\n' + "texidonrply_"
_YAML_ALPHABET = "{}[]&*!|>:-?,#%@'\"` \n\tab01<.~=" + "roumsdevic"
json_like = st.text(alphabet=_JSON_ALPHABET, max_size=300)
yaml_like = st.text(alphabet=_YAML_ALPHABET, max_size=300)
anything = st.one_of(st.binary(max_size=400), json_like.map(str.encode), st.text(max_size=200).map(str.encode))
texts = st.one_of(st.text(max_size=300), yaml_like)
_FILES = itertools.count()


@given(anything)
def test_parse_request_only_rejects(payload: bytes) -> None:
    """Return a request or a rejection for any payload."""
    assert isinstance(api.parse_request(payload), api.ApiRequest | api.Rejection)


@given(anything)
def test_parse_confirm_only_rejects(payload: bytes) -> None:
    """Return a confirmation or a rejection for any payload."""
    assert isinstance(api.parse_confirm(payload), api.ApiConfirm | api.Rejection)


# One device of each protocol, with every one of its state topics.
_STATE = [
    (device, topic)
    for device in {d.protocol: d for d in HOME.devices.values()}.values()
    for topic in adapter_for(device).state_topics(device)
]


@pytest.mark.parametrize(("device_id", "topic"), [(d.id, t) for d, t in _STATE])
@given(payload=anything)
def test_decode_state_only_raises_decode_error(device_id: str, topic: str, payload: bytes) -> None:
    """Decode a state payload of any protocol or raise DecodeError."""
    device = HOME.devices[device_id]
    try:
        values = adapter_for(device).decode_state(device, topic, payload)
    except DecodeError:
        return
    assert isinstance(values, dict)


@given(st.one_of(st.text(max_size=400), json_like))
def test_model_answers_only_raise_decision_error(answer: str) -> None:
    """Read a model's answer or raise DecisionError."""
    for read in (extract_json, parse_decision):
        with contextlib.suppress(DecisionError):
            read(answer)


@given(texts)
def test_inventory_only_raises_inventory_error(text: str) -> None:
    """Read devices.yaml text or raise InventoryError."""
    with contextlib.suppress(InventoryError):
        inventory.from_yaml(text)


@given(texts)
def test_routines_file_only_raises_its_error(text: str) -> None:
    """Read routines.yaml text or raise RoutinesFileError."""
    with contextlib.suppress(RoutinesFileError):
        parse(text, "routines.yaml", HOME)


@settings(max_examples=60)
@given(st.one_of(st.binary(max_size=300), yaml_like.map(str.encode)))
def test_scenario_and_config_files_only_raise_their_errors(
    tmp_path_factory: pytest.TempPathFactory, content: bytes
) -> None:
    """Read a scenario or a config file of any bytes or raise ScenarioError / ConfigError."""
    path: Path = tmp_path_factory.getbasetemp() / f"fuzz-{next(_FILES)}.yaml"
    path.write_bytes(content)
    with contextlib.suppress(ScenarioError):
        load_scenario(path)
    with contextlib.suppress(ConfigError):
        config.load(environ={}, config_file=path)


def test_the_example_home_parses(home: Inventory) -> None:
    """Keep the fuzzed loaders honest: the same functions read a real file."""
    assert inventory.from_yaml(EXAMPLE.read_text()).devices.keys() == home.devices.keys()
