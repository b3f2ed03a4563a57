"""An in-memory channel: a real adapter with no network, for tests and local runs.

A test plays the person with :meth:`MemoryAdapter.person_writes` and reads what the person
received from :attr:`MemoryAdapter.outbox`.  With ``http: true`` in its configuration the channel
also opens a door on the gateway's own application, so that tests and local runs can play the
person against a real ``helpline serve`` process:

* ``POST /channels/memory/in`` with ``{"address": ..., "text": ..., "external_id": ...}``;
* ``GET /channels/memory/out?address=...``: what the person received.

Never enable it on a gateway that faces the internet.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from aiohttp import web

from gateway.channel import (
    AdapterState,
    ChannelAdapter,
    Delivery,
    DeliveryStatus,
    Ingress,
    IngressResult,
    register_channel,
)
from gateway.envelope import (
    Attachment,
    ConversationId,
    Direction,
    Envelope,
    new_message_id,
    pseudonymize,
    utcnow,
)
from gateway.errors import ChannelError, InvalidInput, RecipientUnreachable


@dataclass(frozen=True, slots=True)
class Received:
    """What the person saw: a message (``kind == "message"``) or a notification."""

    kind: str
    text: str
    envelope: Envelope | None = None
    data: Mapping[str, Any] | None = None


@register_channel
class MemoryAdapter(ChannelAdapter):
    name: ClassVar[str] = "memory"
    config_schema: ClassVar[Mapping[str, tuple[type, bool]]] = {"http": (bool, False)}

    def __init__(self, config: Mapping[str, Any] | None = None, pseudonym_key: bytes = b"\0" * 32) -> None:
        super().__init__(config)
        self._key = pseudonym_key
        self._ingress: Ingress | None = None
        self.outbox: dict[str, list[Received]] = defaultdict(list)
        self.blocked: set[str] = set()
        # Sends to these addresses that hang (how many): a channel that never answers.
        self.stalled: dict[str, int] = {}
        self._changed = asyncio.Condition()

    def routes(self) -> list[web.RouteDef]:
        if not self.config.get("http"):
            return []
        return [
            web.post("/channels/memory/in", self._http_in),
            web.get("/channels/memory/out", self._http_out),
        ]

    async def _http_in(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            address, text = str(body["address"]), str(body["text"])
        except (ValueError, KeyError, TypeError):
            return web.json_response({"error": "expected JSON with address and text"}, status=400)
        try:
            result = await self.person_writes(address, text, external_id=body.get("external_id"))
        except InvalidInput as exc:
            return web.json_response({"error": exc.reason}, status=422)
        return web.json_response(
            {
                "conversation_id": result.conversation_id,
                "message_id": result.message_id,
                "duplicate": result.duplicate,
                "priority": result.priority.label,
                "state": result.state,
                "queue_position": result.queue_position,
            }
        )

    async def _http_out(self, request: web.Request) -> web.Response:
        address = request.query.get("address", "")
        items = [
            {
                "kind": r.kind,
                "text": r.text,
                "data": dict(r.data or {}),
                "message_id": r.envelope.message_id if r.envelope else None,
            }
            for r in self.outbox.get(address, [])
        ]
        return web.json_response(items)

    async def start(self, ingress: Ingress) -> None:
        self._ingress = ingress
        self.set_state(AdapterState.CONNECTED)

    async def stop(self) -> None:
        self._ingress = None
        self.set_state(AdapterState.STOPPED)

    def pseudonym(self, address: str) -> str:
        return pseudonymize(self._key, self.name, address)

    async def person_writes(
        self,
        address: str,
        text: str,
        *,
        external_id: str | None = None,
        attachments: tuple[Attachment, ...] = (),
        meta: Mapping[str, Any] | None = None,
        conversation_hint: ConversationId | None = None,
    ) -> IngressResult:
        if self._ingress is None:
            raise ChannelError("memory channel is not started")
        envelope = Envelope(
            message_id=new_message_id(),
            direction=Direction.IN,
            channel=self.name,
            sender=pseudonymize(self._key, self.name, address),
            text=text,
            conversation_id=conversation_hint,
            attachments=attachments,
            received_at=utcnow(),
            external_id=external_id,
            meta=dict(meta or {}),
        )
        return await self._ingress(envelope, address)

    async def send(self, envelope: Envelope, address: str) -> Delivery:
        if address in self.blocked:
            raise RecipientUnreachable("the person blocked this channel")
        if self.stalled.get(address, 0) > 0:
            # A channel that takes the request and never answers (a hung HTTP call).
            self.stalled[address] -= 1
            await asyncio.Event().wait()
        await self._record(address, Received("message", envelope.text, envelope=envelope))
        return Delivery(DeliveryStatus.SENT, channel_message_id=envelope.message_id)

    async def notify(
        self, conversation_id: ConversationId, address: str, event: str, data: Mapping[str, Any]
    ) -> None:
        await self._record(address, Received(event, "", data=dict(data)))

    async def _record(self, address: str, item: Received) -> None:
        async with self._changed:
            self.outbox[address].append(item)
            self._changed.notify_all()

    async def wait_for(
        self, address: str, predicate: Callable[[Received], bool], timeout: float = 5.0
    ) -> Received:
        """Wait until the person at ``address`` has received something matching ``predicate``."""

        def find() -> Received | None:
            return next((r for r in self.outbox.get(address, []) if predicate(r)), None)

        async with asyncio.timeout(timeout), self._changed:
            while (found := find()) is None:
                await self._changed.wait()
            return found
