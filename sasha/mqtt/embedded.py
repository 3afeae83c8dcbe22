"""An MQTT broker inside the process (amqtt), so `sasha demo` needs nothing installed.

amqtt speaks MQTT 3.1.1 only: connections to it use `?protocol=3.1.1`, which loses the v5
response topics of the MQTT API but nothing the chat and the simulator need.
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Self

from amqtt.broker import Broker

from sasha.ports import free_port


class EmbeddedBroker:
    """Run amqtt on a free loopback port for as long as the block lasts."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._broker = Broker(
            {
                "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
                "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
            }
        )

    @property
    def url(self) -> str:
        """Return the broker's URL for Sasha's connections."""
        return f"mqtt://127.0.0.1:{self.port}?protocol=3.1.1"

    async def __aenter__(self) -> Self:
        # amqtt logs every connection at INFO; the demo's console is for the conversation.
        logging.getLogger("amqtt").setLevel(logging.WARNING)
        await self._broker.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._broker.shutdown()
