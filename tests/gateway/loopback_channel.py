"""A channel defined outside the gateway's packages: one module, its configuration schema beside
its adapter, registered with ``gateway.channel.register_channel`` when this module is imported.

It imports only the gateway's contract modules, as a channel in ``bots`` must.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, ClassVar

from gateway.channel import (
    AdapterState,
    ChannelAdapter,
    Delivery,
    DeliveryStatus,
    Ingress,
    IngressResult,
    register_channel,
)
from gateway.envelope import Direction, Envelope, new_message_id, pseudonymize


@register_channel
class LoopbackAdapter(ChannelAdapter):
    """People "write" by :meth:`person_writes`; what the gateway sends them lands in :attr:`sent`."""

    name: ClassVar[str] = "loopback"
    config_schema: ClassVar[Mapping[str, tuple[type, bool]]] = {
        "station": (str, True),
        "max_chars": (int, False),
    }

    def __init__(self, config: Mapping[str, Any] | None = None, pseudonym_key: bytes = b"\0" * 32) -> None:
        super().__init__(config)
        self._key = pseudonym_key
        self._ingress: Ingress | None = None
        self.sent: asyncio.Queue[tuple[Envelope, str]] = asyncio.Queue()

    async def start(self, ingress: Ingress) -> None:
        self._ingress = ingress
        self.set_state(AdapterState.CONNECTED)

    async def stop(self) -> None:
        self._ingress = None
        self.set_state(AdapterState.STOPPED)

    async def send(self, envelope: Envelope, address: str) -> Delivery:
        await self.sent.put((envelope, address))
        return Delivery(
            DeliveryStatus.SENT, channel_message_id=f"{self.config['station']}:{envelope.message_id}"
        )

    async def person_writes(self, address: str, text: str) -> IngressResult:
        assert self._ingress is not None, "not started"
        envelope = Envelope(
            message_id=new_message_id(),
            direction=Direction.IN,
            channel=self.name,
            sender=pseudonymize(self._key, self.name, address),
            text=text,
        )
        return await self._ingress(envelope, address)
