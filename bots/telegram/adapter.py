"""The Telegram channel's adapter: configuration, webhook or long polling, sending and notifying
(see :mod:`bots.telegram`)."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import re
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Final

from telegram.error import Conflict, InvalidToken

from bots.telegram.client import Rejected, TelegramClient, _Bot, quiet_library_loggers
from bots.telegram.split import split_message
from bots.telegram.updates import Ignored, parse_command, parse_update
from gateway import catalogues
from gateway.channel import (
    CONTROL_END,
    AdapterState,
    Backoff,
    ChannelKey,
    Delivery,
    DeliveryStatus,
    Ingress,
    IngressResult,
    register_channel,
    run_with_reconnect,
)
from gateway.envelope import ConversationId, Direction, Envelope, new_message_id, pseudonymize, utcnow
from gateway.errors import (
    ConfigError,
    InvalidInput,
    RecipientUnreachable,
    TransientChannelError,
)
from gateway.tasks import cancel_and_wait

if TYPE_CHECKING:
    from aiohttp import web

log = logging.getLogger("bots.telegram")  # the name its records had before the split

WEBHOOK_PATH: Final = "/channels/telegram/webhook"
SECRET_HEADER: Final = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES: Final = ("message", "edited_message")
DEFAULT_POLL_TIMEOUT: Final = 25.0

_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


@register_channel
class TelegramAdapter(TelegramClient):
    name: ClassVar[str] = "telegram"
    config_schema: ClassVar[Mapping[str, ChannelKey]] = {
        "token": ChannelKey(str, True, doc="The bot's token from @BotFather."),
        "mode": ChannelKey(
            str,
            default="webhook with webhook_url, else polling",
            doc="`webhook` or `polling` (one poller per fleet).",
        ),
        "webhook_url": ChannelKey(
            str, doc="Public URL Telegram posts to, ending in `/channels/telegram/webhook` (webhook mode)."
        ),
        "webhook_secret": ChannelKey(
            str, doc="1-256 characters `A-Z a-z 0-9 _ -`; required in webhook mode."
        ),
        "base_url": ChannelKey(
            str,
            default="https://api.telegram.org/bot",
            doc="Bot API base, e.g. `http://127.0.0.1:8081/bot` for a local Bot API server.",
        ),
        "poll_timeout": ChannelKey(
            float, default=DEFAULT_POLL_TIMEOUT, doc="Seconds of one long poll (0-50)."
        ),
    }

    def __init__(
        self,
        config: Mapping[str, Any] | None,
        pseudonym_key: bytes,
        *,
        send_attempts: int = 4,
        max_retry_after: float = 60.0,
        backoff_initial: float = 0.5,
        request_timeout: float = 10.0,
    ) -> None:
        """``send_attempts`` bounds the tries of one Bot API call (flood waits and network errors);
        a flood wait longer than ``max_retry_after`` seconds is not waited out but raised as
        TransientChannelError(retry_after=...)."""
        checked = self.validate_config("channels.telegram", dict(config or {}))
        super().__init__(checked)
        if not pseudonym_key:
            raise ConfigError("pseudonym_key", "must not be empty")
        self._key = pseudonym_key
        self.mode: str = checked.get("mode") or ("webhook" if checked.get("webhook_url") else "polling")
        if self.mode not in ("webhook", "polling"):
            raise ConfigError("channels.telegram.mode", "must be 'webhook' or 'polling'")
        if self.mode == "webhook":
            if not checked.get("webhook_url"):
                raise ConfigError("channels.telegram.webhook_url", "is required in webhook mode")
            secret = checked.get("webhook_secret")
            if not secret:
                raise ConfigError("channels.telegram.webhook_secret", "is required in webhook mode")
            if not _SECRET_RE.match(secret):
                raise ConfigError("channels.telegram.webhook_secret", "must be 1-256 of A-Z a-z 0-9 _ -")
        self.poll_timeout = float(checked.get("poll_timeout", DEFAULT_POLL_TIMEOUT))
        if not 0 <= self.poll_timeout <= 50:
            raise ConfigError("channels.telegram.poll_timeout", "must be between 0 and 50 seconds")
        self._send_attempts = max(1, send_attempts)
        self._max_retry_after = max_retry_after
        self._backoff_initial = backoff_initial
        self._request_timeout = request_timeout
        self._bot: _Bot | None = None
        self._bot_ready = False
        self._bot_lock = asyncio.Lock()
        self._ingress: Ingress | None = None
        self._stopping = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._outbox: asyncio.Queue[tuple[int, str]] | None = None
        self._outbox_worker: asyncio.Task[None] | None = None
        self._offset: int | None = None
        self._send_trouble = False
        self._partial: OrderedDict[str, tuple[int, str | None]] = OrderedDict()
        quiet_library_loggers()

    # -- interface ------------------------------------------------------------------------

    def needs_lease(self) -> bool:
        return self.mode == "polling"

    def routes(self) -> list[web.RouteDef]:
        if self.mode != "webhook":
            return []
        from aiohttp import web

        return [web.post(WEBHOOK_PATH, self._handle_webhook)]

    async def start(self, ingress: Ingress) -> None:
        if self._runner is not None and not self._runner.done():
            return
        self._ingress = ingress
        self._stopping = asyncio.Event()
        self._outbox = asyncio.Queue()
        self._outbox_worker = asyncio.create_task(self._run_outbox(self._outbox), name="telegram-outbox")
        connect = self._poll_once if self.mode == "polling" else self._register_webhook
        self._runner = asyncio.create_task(
            run_with_reconnect(self, connect, self._stopping, Backoff(initial=self._backoff_initial)),
            name=f"telegram-{self.mode}",
        )

    async def stop(self, drain_timeout: float = 5.0) -> None:
        self._stopping.set()
        self._ingress = None
        runner, self._runner = self._runner, None
        if runner is not None:
            try:
                await asyncio.wait_for(runner, timeout=drain_timeout)
            except TimeoutError:
                log.warning("telegram: receiver did not stop in time; cancelled")
            except Exception as exc:  # pragma: no cover - run_with_reconnect catches everything
                log.warning("telegram: receiver failed (%s)", type(exc).__name__)
        outbox, self._outbox = self._outbox, None
        worker, self._outbox_worker = self._outbox_worker, None
        if outbox is not None and worker is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(outbox.join(), timeout=drain_timeout)
            if outbox.qsize():
                log.warning("telegram: %d automatic answers not sent at stop", outbox.qsize())
            await cancel_and_wait(worker)
        bot, self._bot = self._bot, None
        self._bot_ready = False
        if bot is not None:
            with contextlib.suppress(Exception):
                await bot.shutdown()
        self.set_state(AdapterState.STOPPED)

    async def send(self, envelope: Envelope, address: str) -> Delivery:
        chat_id = self._chat_id(address)
        if chat_id is None:
            return Delivery(DeliveryStatus.FAILED, detail="invalid address")
        if envelope.attachments:
            log.info("telegram: %d attachment(s) of an outgoing message not sent", len(envelope.attachments))
        parts = split_message(envelope.text)
        if not parts:
            return Delivery(DeliveryStatus.FAILED, detail="empty message")
        # Parts already sent by an earlier try of this envelope (the pipeline retries after a
        # TransientChannelError): never send a part twice.
        done, first_id = self._partial.pop(envelope.message_id, (0, None))
        for index in range(done, len(parts)):
            try:
                message_id = await self._send_text(chat_id, parts[index])
            except RecipientUnreachable as exc:
                return Delivery(DeliveryStatus.UNREACHABLE, detail=str(exc))
            except Rejected as exc:
                log.warning("telegram: message part %d/%d rejected (%s)", index + 1, len(parts), exc)
                return Delivery(DeliveryStatus.FAILED, first_id, detail=str(exc))
            except TransientChannelError:
                if index > 0:
                    self._partial[envelope.message_id] = (index, first_id)
                    while len(self._partial) > 1024:
                        self._partial.popitem(last=False)
                raise
            first_id = first_id or message_id
        return Delivery(DeliveryStatus.SENT, first_id)

    async def notify(
        self, conversation_id: ConversationId, address: str, event: str, data: Mapping[str, Any]
    ) -> None:
        """``assigned`` and ``closed`` send a short message in ``data["language"]`` (the person
        catalogue's language for it, :func:`gateway.catalogues.pick`); ``typing`` shows "typing..."; other events show nothing.

        Raises TransientChannelError after the retries (not for ``typing``, which is best effort).
        A person who blocked the bot is only logged here: retrying cannot help, and the next
        send() reports them UNREACHABLE."""
        chat_id = self._chat_id(address)
        if chat_id is None:
            log.warning("telegram: notify %s with an invalid address", event)
            return
        language = catalogues.pick("person", str(data.get("language") or ""))
        if event == "typing":
            try:
                await self._call(lambda bot: bot.send_chat_action(chat_id=chat_id, action="typing"))
            except (RecipientUnreachable, TransientChannelError, Rejected) as exc:
                log.info("telegram: typing indicator not shown (%s)", type(exc).__name__)
            return
        if event in ("assigned", "closed"):
            try:
                msgid = "telegram.assigned" if event == "assigned" else "telegram.closed"
                await self._send_text(chat_id, catalogues.text("person", language, msgid))
            except RecipientUnreachable as exc:
                log.info("telegram: notify %s not delivered, recipient unreachable (%s)", event, exc)
            except Rejected as exc:
                log.warning("telegram: notify %s rejected (%s)", event, exc)

    # -- receiving --------------------------------------------------------------------------

    async def _handle_webhook(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web

        secret = str(self.config.get("webhook_secret", ""))
        offered = request.headers.get(SECRET_HEADER, "")
        if not secret or not hmac.compare_digest(offered.encode(), secret.encode()):
            log.warning("telegram: webhook call without the right secret token refused")
            return web.Response(status=403, text="forbidden")
        if self._ingress is None:
            return web.Response(status=503, text="not started")
        body = await request.read()
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            log.warning("telegram: webhook body is not JSON (%d bytes)", len(body))
            return web.Response(status=400, text="not json")
        try:
            await self._handle_update(data)
        except Exception as exc:
            log.warning("telegram: update not accepted (%s); Telegram will redeliver", type(exc).__name__)
            return web.Response(status=500, text="try again")
        return web.Response(status=200, text="ok")

    async def _handle_update(self, data: Any) -> None:
        """Act on one raw update.  Raises only when ingress failed (the update must be redelivered)."""
        ingress = self._ingress
        if ingress is None:
            raise TransientChannelError("adapter not started")
        try:
            incoming = parse_update(data)
        except Ignored as reason:
            update_id = data.get("update_id") if isinstance(data, Mapping) else None
            log.info(
                "telegram: update %s ignored: %s", update_id if isinstance(update_id, int) else "?", reason
            )
            return
        address = str(incoming.chat_id)
        sender = pseudonymize(self._key, self.name, address)
        lang = incoming.language
        meta: dict[str, Any] = {}
        if incoming.edited:
            meta["edited"] = True
        command = (
            parse_command(incoming.text) if incoming.text is not None and incoming.media is None else None
        )
        if command == "start":
            self._answer(incoming.chat_id, catalogues.text("person", lang, "telegram.welcome"))
            return
        if command == "help":
            self._answer(incoming.chat_id, catalogues.text("person", lang, "telegram.help"))
            return
        if command == "stop":
            control = Envelope(
                message_id=new_message_id(),
                direction=Direction.IN,
                channel=self.name,
                sender=sender,
                text="",
                external_id=str(incoming.update_id),
                meta={"control": CONTROL_END},
            )
            result = await self._ingest(ingress, control, address)
            if result is None or not result.duplicate:  # None: nothing was open; still confirm
                self._answer(incoming.chat_id, catalogues.text("person", lang, "telegram.stopped"))
            return
        if incoming.media is not None:
            meta["unsupported_content"] = incoming.media
            if incoming.text is None:
                log.info(
                    "telegram: update %d: %s not handled (text only)", incoming.update_id, incoming.media
                )
                self._answer(incoming.chat_id, catalogues.text("person", lang, "telegram.only_text"))
                return
        text = incoming.text or ""
        if not text.strip():
            log.info("telegram: update %d ignored: empty text", incoming.update_id)
            return
        envelope = Envelope(
            message_id=new_message_id(),
            direction=Direction.IN,
            channel=self.name,
            sender=sender,
            text=text,
            external_id=str(incoming.update_id),
            meta=meta,
            received_at=incoming.sent_at or utcnow(),
        )
        # The safe response is not sent from here: the pipeline stores it and delivers it through
        # egress (send()), like every other outgoing message.
        result = await self._ingest(ingress, envelope, address)
        if result is None:
            self._answer(incoming.chat_id, catalogues.text("person", lang, "telegram.not_accepted"))
        elif incoming.media is not None and not result.duplicate:
            self._answer(incoming.chat_id, catalogues.text("person", lang, "telegram.only_text_caption"))

    async def _ingest(self, ingress: Ingress, envelope: Envelope, address: str) -> IngressResult | None:
        """Hand one envelope to ingress.  None when the pipeline refused it for good (InvalidInput:
        redelivering it would fail the same way and block the updates behind it); any other error
        propagates so that Telegram redelivers the update."""
        try:
            return await ingress(envelope, address)
        except InvalidInput as exc:
            log.info("telegram: update %s refused by the pipeline: %s", envelope.external_id, exc.reason)
            return None

    async def _poll_once(self) -> None:
        bot = await self._ready_bot()
        try:
            await bot.delete_webhook(drop_pending_updates=False)
        except InvalidToken:
            raise self.token_refused() from None
        self.set_state(AdapterState.CONNECTED)
        stop_wait = asyncio.create_task(self._stopping.wait())
        try:
            while not self._stopping.is_set():
                poll = asyncio.create_task(
                    bot.get_updates_raw(self._offset, self.poll_timeout, ALLOWED_UPDATES)
                )
                await asyncio.wait({poll, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
                if not poll.done():
                    await cancel_and_wait(poll)
                    return
                try:
                    updates = poll.result()
                except InvalidToken:
                    raise self.token_refused() from None
                except Conflict:
                    log.warning("telegram: getUpdates conflict (another poller or an active webhook)")
                    raise
                if not isinstance(updates, list):
                    log.warning("telegram: getUpdates answered %s, not a list", type(updates).__name__)
                    raise TransientChannelError("getUpdates answered no list")
                if self.state() != AdapterState.CONNECTED:
                    self.set_state(AdapterState.CONNECTED)
                for update in updates:
                    await self._handle_update(update)  # raises: offset stays, update comes again
                    update_id = update.get("update_id") if isinstance(update, Mapping) else None
                    if isinstance(update_id, int) and not isinstance(update_id, bool):
                        self._offset = max(self._offset or 0, update_id + 1)
                if updates and all(
                    not (isinstance(u, Mapping) and isinstance(u.get("update_id"), int)) for u in updates
                ):
                    # Cannot move past updates without ids: Telegram would send them forever.
                    log.error("telegram: getUpdates returned %d updates without update_id", len(updates))
                    raise TransientChannelError("updates without update_id")
        finally:
            stop_wait.cancel()

    async def _register_webhook(self) -> None:
        bot = await self._ready_bot()
        try:
            await bot.set_webhook(
                url=str(self.config["webhook_url"]),
                secret_token=str(self.config["webhook_secret"]),
                allowed_updates=list(ALLOWED_UPDATES),
                drop_pending_updates=False,
            )
        except InvalidToken:
            raise self.token_refused() from None
        self.set_state(AdapterState.CONNECTED)
        await self._stopping.wait()
