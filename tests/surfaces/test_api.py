"""The API's pure parts: where replies may go, discovery ids, reading confirmations."""

from __future__ import annotations

import re

import pytest

from sasha.home.inventory import Inventory
from sasha.surfaces import api
from sasha.surfaces.daemon import discovery, node_id

# The eight forbidden reply topics of issue 13, on the example home, and the hub of issue 22.
FORBIDDEN = {
    "generic command": "sasha-demo/living_room_lamp/set",
    "tasmota command": "cmnd/hallway_light/POWER",
    "zigbee2mqtt command": "zigbee2mqtt/living_room_lamp/set",
    "zigbee2mqtt bridge": "zigbee2mqtt/bridge/request/device/remove",
    "api request": "sasha/request",
    "api confirm": "sasha/confirm",
    "status": "sasha/status",
    "discovery config": "homeassistant/text/sasha_sasha/request/config",
    "home assistant hub": "sasha-hass/inventory",
}
# Home Assistant's discovery topic pattern (homeassistant/components/mqtt/discovery.py).
HA_DISCOVERY = re.compile(r"^(?P<component>\w+)/(?:(?P<node_id>[a-zA-Z0-9_-]+)/)?(?P<object_id>[a-zA-Z0-9_-]+)/config$")


@pytest.mark.parametrize("topic", FORBIDDEN.values(), ids=FORBIDDEN.keys())
def test_default_routes_refuse_the_forbidden_topics(home: Inventory, topic: str) -> None:
    """Refuse device, API, status and discovery topics as reply topics."""
    assert api.reply_routes("sasha", home).problem(topic) is not None


@pytest.mark.parametrize(
    "topic",
    [
        "sasha-demo/kitchen_light/set",
        "cmnd/hallway_light/Dimmer",
        "sasha-demo/kitchen_light",
        "sasha/status",
        "homeassistant/sensor/x/config",
        "$SYS/broker/clients",
        "sasha/reply/#",
        "sasha/reply/+/x",
        "",
    ],
)
def test_broad_prefixes_still_refuse_device_and_sasha_topics(home: Inventory, topic: str) -> None:
    """Keep device, Sasha, discovery, `$` and wildcard topics out even when every topic is allowed."""
    assert api.reply_routes("sasha", home, allowed=["#"]).problem(topic) is not None


@pytest.mark.parametrize("topic", ["sasha/response", "sasha/reply/app", "sasha/reply/ha/42"])
def test_default_routes_allow_the_reply_prefixes(home: Inventory, topic: str) -> None:
    """Allow `<root>/response` and anything under `<root>/reply/`."""
    assert api.reply_routes("sasha", home).problem(topic) is None


def test_slashed_roots_give_valid_discovery_topics() -> None:
    """Make node ids slugs, so Home Assistant subscribes to them, and name instances by home."""
    assert node_id("home/sasha2") == "sasha_home_sasha2"
    configs = discovery("home/sasha2", home_name="Beach house")
    for topic, config in configs:
        assert HA_DISCOVERY.match(topic.removeprefix("homeassistant/")), topic
        assert config["device"]["name"] == "Sasha (Beach house)"
        assert "/" not in config["unique_id"]
    assert configs[1][1]["force_update"] is True


def test_confirmations_carry_their_conversation() -> None:
    """Read a confirmation's conversation, and a request's confirm_token."""
    confirm = api.parse_confirm(
        b'{"token": "t", "approve": true, "conversation": "kitchen", "reply_to": "sasha/reply/k"}'
    )
    assert isinstance(confirm, api.ApiConfirm)
    assert (confirm.conversation, confirm.reply_to) == ("kitchen", "sasha/reply/k")
    request = api.parse_request(b'{"text": "yes", "conversation": "k", "confirm_token": "t"}')
    assert isinstance(request, api.ApiRequest)
    assert request.confirm_token == "t"


def test_a_request_with_the_satellites_area_is_accepted() -> None:
    """Read a request that carries Home Assistant's `area`: the room it comes from, kept for the fast path."""
    parsed = api.parse_request(b'{"text": "turn off the lights", "id": "1", "area": "Kitchen"}')
    assert parsed == api.ApiRequest(text="turn off the lights", id="1", area="Kitchen")
