"""Telegram channel (python-telegram-bot 22): webhook or long polling, text only.

Incoming updates are parsed from the Bot API's raw JSON by this module (not by PTB's ``de_json``) so
that one malformed update is logged and skipped instead of failing a whole ``getUpdates`` batch.

Privacy: the chat id becomes the keyed pseudonym at once; the raw chat id travels only as the
``address`` beside the envelope (the pipeline keeps it in the encrypted contact record).  Usernames,
profile names and the language code never reach an envelope or a log line; the language code only
chooses the language of this adapter's own short answers.  Photos, voice messages, documents and the
like are never downloaded: the person is told that only text is handled, and a caption is handled as
text.

The triage's safe response is not sent by this adapter: the pipeline stores it and delivers it
through egress (:meth:`TelegramAdapter.send`) like every reply.  The adapter answers only its own
commands (``/start``, ``/stopp``/``/stop``, ``/hjalp``/``/help``) and unsupported content, through an
in-order outbox.  ``external_id`` is the ``update_id`` (redeliveries carry the same one; an edit is a
new update, so a new message).  When ingress refuses an update for good (InvalidInput, e.g. ``/stopp``
with nothing open) the update counts as handled; any other ingress error makes Telegram redeliver it.

Modes:

* ``webhook``: :meth:`TelegramAdapter.routes` serves ``POST /channels/telegram/webhook`` on the
  gateway's own aiohttp application; :meth:`~TelegramAdapter.start` registers ``webhook_url`` with
  ``setWebhook`` (secret token, allowed updates).  The handler answers 200 only after ingress has
  returned, so Telegram redelivers whatever we failed to store.  Every process of a fleet may serve
  the webhook.
* ``polling``: ``getUpdates`` long polling; the offset moves past an update only after ingress has
  returned for it.  One poller per fleet (:meth:`~TelegramAdapter.needs_lease`).

Configuration (``channels.telegram``): ``token`` (required), ``mode`` (``"webhook"`` or ``"polling"``;
default ``"webhook"`` when ``webhook_url`` is set, else ``"polling"``), ``webhook_url`` (the full
public URL Telegram posts to, ending in :data:`WEBHOOK_PATH` behind the reverse proxy),
``webhook_secret`` (1-256 characters ``A-Z a-z 0-9 _ -``; required in webhook mode), ``base_url``
(Bot API base, e.g. ``http://127.0.0.1:8081/bot`` for a local Bot API server; the file URL is
derived from it), ``poll_timeout`` (seconds of one long poll, default 25).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import re
import warnings
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Final, TypeVar

from telegram import Bot
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.request import HTTPXRequest

from gateway.channel import (
    CONTROL_END,
    AdapterState,
    Backoff,
    ChannelAdapter,
    Delivery,
    DeliveryStatus,
    Ingress,
    IngressResult,
    register_channel,
    run_with_reconnect,
)
from gateway.envelope import ConversationId, Direction, Envelope, new_message_id, pseudonymize, utcnow
from gateway.errors import (
    BadCredentials,
    ConfigError,
    InvalidInput,
    RecipientUnreachable,
    TransientChannelError,
)
from gateway.tasks import cancel_and_wait

if TYPE_CHECKING:
    from aiohttp import web

log = logging.getLogger(__name__)

T = TypeVar("T")

WEBHOOK_PATH: Final = "/channels/telegram/webhook"
SECRET_HEADER: Final = "X-Telegram-Bot-Api-Secret-Token"
MAX_MESSAGE_LENGTH: Final = 4096
"""Telegram's limit for one text message, counted in UTF-16 code units."""
ALLOWED_UPDATES: Final = ("message", "edited_message")
DEFAULT_POLL_TIMEOUT: Final = 25.0

_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")

# Content a person can send that is not text.  Never downloaded; answered with TEXTS["only_text"].
_MEDIA_KINDS: Final = (
    "photo",
    "voice",
    "audio",
    "video",
    "video_note",
    "document",
    "sticker",
    "animation",
    "location",
    "venue",
    "contact",
    "poll",
    "dice",
    "game",
    "story",
    "paid_media",
    "checklist",
)

TEXTS: Final[Mapping[str, Mapping[str, str]]] = {
    "sv": {
        "welcome": (
            "Hej och välkommen! Här kan du skriva till en stödlinje för dig som är orolig för "
            "våldsbejakande extremism, för din egen skull eller för någon i din närhet.\n\n"
            "Du är anonym: vi sparar inte ditt namn, ditt användarnamn eller ditt telefonnummer, och "
            "du behöver inte berätta vem du är. Skriv ditt meddelande här så får du ett svar direkt, "
            "och en samtalsstödjare tar över samtalet så snart någon är ledig.\n\n"
            "Skriv /stopp när du vill avsluta samtalet och /hjalp för hjälp. "
            "Är någon i akut fara, ring 112."
        ),
        "help": (
            "Så här fungerar det: skriv med vanlig text det du vill berätta eller fråga, så svarar en "
            "samtalsstödjare här i chatten. Vi tar bara emot text; bilder, ljud och filer läses inte.\n\n"
            "/stopp avslutar samtalet. Du kan skriva igen när du vill, då börjar ett nytt samtal.\n"
            "/start visar välkomsttexten igen.\n\n"
            "Är någon i akut fara, ring 112."
        ),
        "stopped": (
            "Samtalet är avslutat. Tack för att du hörde av dig. Du kan skriva igen när du vill, "
            "då börjar ett nytt samtal."
        ),
        "only_text": (
            "Vi kan tyvärr bara ta emot text. Bilder, röstmeddelanden, filer och klistermärken öppnas "
            "inte och sparas inte. Skriv gärna med ord det du vill berätta."
        ),
        "only_text_caption": (
            "Vi kan tyvärr bara ta emot text. Det du skickade öppnas inte och sparas inte, men texten "
            "du skrev till det har kommit fram."
        ),
        "not_accepted": (
            "Ditt meddelande kunde tyvärr inte tas emot. Försök gärna igen, med kortare text om det var "
            "ett långt meddelande."
        ),
        "assigned": "En samtalsstödjare har anslutit till samtalet och svarar dig här.",
        "closed": ("Samtalet har avslutats. Du kan skriva igen när du vill, då börjar ett nytt samtal."),
    },
    "en": {
        "welcome": (
            "Hello and welcome! This is a support line for anyone worried about violent extremism, "
            "for their own sake or for someone close to them.\n\n"
            "You are anonymous: we do not keep your name, your username or your phone number, and you "
            "do not have to tell us who you are. Write your message here and you get an answer at once; "
            "a counsellor takes over the conversation as soon as one is free.\n\n"
            "Send /stop when you want to end the conversation and /help for help. "
            "If someone is in immediate danger, call 112."
        ),
        "help": (
            "How it works: write in plain text what you want to tell or ask, and a counsellor answers "
            "you here in the chat. We only handle text; pictures, audio and files are not opened.\n\n"
            "/stop ends the conversation. You can write again any time; a new conversation starts then.\n"
            "/start shows the welcome again.\n\n"
            "If someone is in immediate danger, call 112."
        ),
        "stopped": (
            "The conversation has ended. Thank you for getting in touch. You can write again any time; "
            "a new conversation starts then."
        ),
        "only_text": (
            "Sorry, we can only handle text. Pictures, voice messages, files and stickers are not opened "
            "and not kept. Please write in words what you want to tell us."
        ),
        "only_text_caption": (
            "Sorry, we can only handle text. What you sent is not opened and not kept, but the text you "
            "wrote with it has reached us."
        ),
        "not_accepted": (
            "Sorry, your message could not be received. Please try again, with a shorter text if it was "
            "a long message."
        ),
        "assigned": "A counsellor has joined the conversation and will answer you here.",
        "closed": "The conversation has been closed. You can write again any time; a new conversation starts then.",
    },
}

_COMMANDS: Final[Mapping[str, str]] = {
    "start": "start",
    "stopp": "stop",
    "stop": "stop",
    "avsluta": "stop",
    "hjalp": "help",
    "hjälp": "help",
    "help": "help",
}


# --------------------------------------------------------------------------------------------
# Splitting long replies


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


_BOUNDARY_RE = re.compile(r"[.!?…]+[\"'”’»)\]]*[ \t]+|[ \t]*\n\s*")
_WORD_RE = re.compile(r"\S+\s*|\s+")


def _sentences(text: str) -> list[str]:
    """Pieces of ``text``, each ending after a sentence end (with its whitespace) or a line break.

    A full stop followed by a lower-case letter (``t.ex. något``) is not taken as a sentence end.
    """
    pieces: list[str] = []
    start = 0
    for match in _BOUNDARY_RE.finditer(text):
        end = match.end()
        if "\n" not in match.group() and end < len(text) and text[end].islower():
            continue
        pieces.append(text[start:end])
        start = end
    if start < len(text):
        pieces.append(text[start:])
    return pieces


def _hard_split(word: str, limit: int) -> list[str]:
    out: list[str] = []
    current = ""
    for char in word:
        if utf16_len(current + char) > limit:
            out.append(current)
            current = ""
        current += char
    if current:
        out.append(current)
    return out


def split_message(text: str, limit: int = MAX_MESSAGE_LENGTH) -> list[str]:
    """Split ``text`` into parts of at most ``limit`` UTF-16 units: on sentence boundaries, else on
    word boundaries, else (one enormous word) anywhere between characters."""
    text = text.strip()
    if utf16_len(text) <= limit:
        return [text] if text else []
    units: list[str] = []
    for sentence in _sentences(text):
        if utf16_len(sentence.rstrip()) <= limit:
            units.append(sentence)
            continue
        for word in _WORD_RE.findall(sentence):
            if utf16_len(word.rstrip()) <= limit:
                units.append(word)
            else:
                units.extend(_hard_split(word.rstrip(), limit))
    parts: list[str] = []
    current = ""
    for unit in units:
        if current and utf16_len((current + unit).rstrip()) > limit:
            parts.append(current.strip())
            current = ""
        current += unit
    if current.strip():
        parts.append(current.strip())
    return [p for p in parts if p]


# --------------------------------------------------------------------------------------------
# Parsing updates


class _Ignored(Exception):
    """An update we do not act on; the message is a reason without content."""


@dataclass(frozen=True, slots=True)
class _Incoming:
    update_id: int
    chat_id: int
    language: str
    text: str | None
    """Text, or the caption of unsupported content."""
    media: str | None
    """Kind of unsupported content (``"photo"`` ...), never its content."""
    edited: bool
    sent_at: datetime | None


def _parse_update(data: Any) -> _Incoming:
    if not isinstance(data, Mapping):
        raise _Ignored("update is not an object")
    update_id = data.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise _Ignored("update without update_id")
    edited = False
    message = data.get("message")
    if message is None and "edited_message" in data:
        message = data.get("edited_message")
        edited = True
    if message is None:
        kinds = sorted(k for k in data if k != "update_id")[:3]
        raise _Ignored(f"update of unhandled type {kinds}")
    if not isinstance(message, Mapping):
        raise _Ignored("message is not an object")
    chat = message.get("chat")
    if not isinstance(chat, Mapping):
        raise _Ignored("message without chat")
    chat_id = chat.get("id")
    if not isinstance(chat_id, int) or isinstance(chat_id, bool):
        raise _Ignored("chat without id")
    if chat.get("type") != "private":
        raise _Ignored("message outside a private chat")
    sender = message.get("from")
    language = "sv"
    if isinstance(sender, Mapping):
        if sender.get("is_bot") is True:
            raise _Ignored("message from a bot")
        code = sender.get("language_code")
        if isinstance(code, str) and code.lower().startswith("en"):
            language = "en"
    sent_at: datetime | None = None
    date = message.get("edit_date") if edited else message.get("date")
    if isinstance(date, int) and not isinstance(date, bool) and date > 0:
        with contextlib.suppress(OverflowError, OSError, ValueError):
            sent_at = datetime.fromtimestamp(date, UTC)
    text = message.get("text")
    if isinstance(text, str):
        return _Incoming(update_id, chat_id, language, text, None, edited, sent_at)
    media = next((kind for kind in _MEDIA_KINDS if kind in message), None)
    if media is None:
        raise _Ignored("message without text or known content")
    caption = message.get("caption")
    caption = caption if isinstance(caption, str) and caption.strip() else None
    return _Incoming(update_id, chat_id, language, caption, media, edited, sent_at)


def _command(text: str) -> str | None:
    """The command ``text`` is (``start``, ``stop``, ``help``), or None for ordinary text."""
    if not text.startswith("/"):
        return None
    word = text.split(maxsplit=1)[0][1:]
    word = word.split("@", 1)[0].lower()
    return _COMMANDS.get(word)


# --------------------------------------------------------------------------------------------
# The Bot API client


class _Bot(Bot):
    """PTB's Bot with a ``getUpdates`` that returns the raw JSON (see the module docstring)."""

    async def get_updates_raw(
        self, offset: int | None, timeout: float, allowed_updates: Sequence[str]
    ) -> Any:
        data: dict[str, Any] = {"timeout": int(timeout), "allowed_updates": list(allowed_updates)}
        if offset is not None:
            data["offset"] = offset
        return await self._post("getUpdates", data, read_timeout=timeout + 10.0)


def _quiet_library_loggers() -> None:
    """PTB logs request parameters (chat ids, text) at DEBUG and httpx logs URLs holding the bot
    token at INFO: keep both above those levels whatever the logging configuration says."""
    for name, level in (("telegram", logging.INFO), ("httpx", logging.WARNING), ("httpcore", logging.INFO)):
        logger = logging.getLogger(name)
        if logger.level < level:  # NOTSET (inherit) included: a root at DEBUG must not reach these
            logger.setLevel(level)


def _retry_after_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


# --------------------------------------------------------------------------------------------
# The adapter


@register_channel
class TelegramAdapter(ChannelAdapter):
    name: ClassVar[str] = "telegram"
    config_schema: ClassVar[Mapping[str, tuple[type, bool]]] = {
        "token": (str, True),
        "mode": (str, False),
        "webhook_url": (str, False),
        "webhook_secret": (str, False),
        "base_url": (str, False),
        "poll_timeout": (float, False),
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
        _quiet_library_loggers()

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
            except _Rejected as exc:
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
        """``assigned`` and ``closed`` send a short message in ``data["language"]`` (``"en"``, else
        Swedish); ``typing`` shows "typing..."; other events show nothing.

        Raises TransientChannelError after the retries (not for ``typing``, which is best effort).
        A person who blocked the bot is only logged here: retrying cannot help, and the next
        send() reports them UNREACHABLE."""
        chat_id = self._chat_id(address)
        if chat_id is None:
            log.warning("telegram: notify %s with an invalid address", event)
            return
        language = "en" if str(data.get("language", "")).lower().startswith("en") else "sv"
        if event == "typing":
            try:
                await self._call(lambda bot: bot.send_chat_action(chat_id=chat_id, action="typing"))
            except (RecipientUnreachable, TransientChannelError, _Rejected) as exc:
                log.info("telegram: typing indicator not shown (%s)", type(exc).__name__)
            return
        if event in ("assigned", "closed"):
            try:
                await self._send_text(chat_id, TEXTS[language][event])
            except RecipientUnreachable as exc:
                log.info("telegram: notify %s not delivered, recipient unreachable (%s)", event, exc)
            except _Rejected as exc:
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
            incoming = _parse_update(data)
        except _Ignored as reason:
            update_id = data.get("update_id") if isinstance(data, Mapping) else None
            log.info(
                "telegram: update %s ignored: %s", update_id if isinstance(update_id, int) else "?", reason
            )
            return
        address = str(incoming.chat_id)
        sender = pseudonymize(self._key, self.name, address)
        answers = TEXTS[incoming.language]
        meta: dict[str, Any] = {}
        if incoming.edited:
            meta["edited"] = True
        command = _command(incoming.text) if incoming.text is not None and incoming.media is None else None
        if command == "start":
            self._answer(incoming.chat_id, answers["welcome"])
            return
        if command == "help":
            self._answer(incoming.chat_id, answers["help"])
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
                self._answer(incoming.chat_id, answers["stopped"])
            return
        if incoming.media is not None:
            meta["unsupported_content"] = incoming.media
            if incoming.text is None:
                log.info(
                    "telegram: update %d: %s not handled (text only)", incoming.update_id, incoming.media
                )
                self._answer(incoming.chat_id, answers["only_text"])
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
            self._answer(incoming.chat_id, answers["not_accepted"])
        elif incoming.media is not None and not result.duplicate:
            self._answer(incoming.chat_id, answers["only_text_caption"])

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
            raise BadCredentials("Telegram refused the bot token") from None
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
                    raise BadCredentials("Telegram refused the bot token") from None
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
            raise BadCredentials("Telegram refused the bot token") from None
        self.set_state(AdapterState.CONNECTED)
        await self._stopping.wait()

    # -- sending ----------------------------------------------------------------------------

    def _answer(self, chat_id: int, text: str) -> None:
        """Queue an automatic answer; sent in order by the outbox worker, failures only logged."""
        if self._outbox is None:
            log.warning("telegram: automatic answer dropped, adapter stopped")
            return
        for part in split_message(text):
            self._outbox.put_nowait((chat_id, part))

    async def _run_outbox(self, outbox: asyncio.Queue[tuple[int, str]]) -> None:
        while True:
            chat_id, text = await outbox.get()
            try:
                await self._send_text(chat_id, text)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("telegram: automatic answer not delivered (%s)", type(exc).__name__)
            finally:
                outbox.task_done()

    async def _send_text(self, chat_id: int, text: str) -> str:
        message = await self._call(lambda bot: bot.send_message(chat_id=chat_id, text=text))
        return str(message.message_id)

    async def _call(self, request: Callable[[_Bot], Awaitable[T]]) -> T:
        """Run ``request(bot)`` with Telegram's flood limits and network errors handled.

        Raises RecipientUnreachable (blocked, deactivated, chat gone), BadCredentials,
        TransientChannelError (after the retries, or a flood wait above ``max_retry_after``) and
        _Rejected (Telegram refused the request itself)."""
        backoff = Backoff(initial=self._backoff_initial, maximum=10.0)
        attempt = 0
        while True:
            attempt += 1
            try:
                bot = await self._ready_bot()
                result = await request(bot)
            except RetryAfter as exc:
                wait = _retry_after_seconds(exc)
                if wait > self._max_retry_after or attempt >= self._send_attempts:
                    raise TransientChannelError("Telegram flood limit", retry_after=wait) from None
                log.info("telegram: flood limit, waiting %.1f s", wait)
                await asyncio.sleep(wait)
                continue
            except Forbidden as exc:
                raise RecipientUnreachable(_forbidden_detail(exc)) from None
            except InvalidToken:
                self.set_state(AdapterState.BAD_CREDENTIALS, "bot token refused")
                raise BadCredentials("Telegram refused the bot token") from None
            except ChatMigrated:
                raise RecipientUnreachable("chat migrated") from None
            except BadRequest as exc:
                if "chat not found" in exc.message.lower():
                    raise RecipientUnreachable("chat not found") from None
                raise _Rejected("bad request") from None
            except (NetworkError, Conflict) as exc:  # TimedOut is a NetworkError
                if attempt >= self._send_attempts:
                    self._send_trouble = True
                    self.set_state(AdapterState.TRANSIENT_ERROR, type(exc).__name__)
                    raise TransientChannelError(f"Telegram unreachable ({type(exc).__name__})") from None
                delay = backoff.next_delay()
                log.info("telegram: %s, retrying in %.1f s", type(exc).__name__, delay)
                await asyncio.sleep(delay)
                continue
            except TelegramError as exc:
                raise _Rejected(type(exc).__name__) from None
            if self._send_trouble:
                self._send_trouble = False
                if self.state() == AdapterState.TRANSIENT_ERROR:
                    running = self._runner is not None and not self._runner.done()
                    self.set_state(AdapterState.CONNECTED if running else AdapterState.STOPPED)
            return result

    async def _ready_bot(self) -> _Bot:
        """The Bot API client, initialised (``getMe``) once; sends work in processes that never
        called start() (another process of the fleet holds the poller)."""
        if self._bot is not None and self._bot_ready:
            return self._bot
        async with self._bot_lock:
            if self._bot is None:
                base_url = str(self.config.get("base_url") or "https://api.telegram.org/bot")
                timeout = self._request_timeout
                self._bot = _Bot(
                    str(self.config["token"]),
                    base_url=base_url,
                    base_file_url=_file_url(base_url),
                    request=HTTPXRequest(
                        connection_pool_size=16,
                        read_timeout=timeout,
                        write_timeout=timeout,
                        connect_timeout=timeout,
                        pool_timeout=timeout,
                    ),
                    get_updates_request=HTTPXRequest(
                        connection_pool_size=2, read_timeout=timeout, connect_timeout=timeout
                    ),
                )
            if not self._bot_ready:
                try:
                    await self._bot.initialize()
                except InvalidToken:
                    self.set_state(AdapterState.BAD_CREDENTIALS, "bot token refused")
                    raise BadCredentials("Telegram refused the bot token") from None
                self._bot_ready = True
            return self._bot

    @staticmethod
    def _chat_id(address: str) -> int | None:
        try:
            return int(address)
        except (TypeError, ValueError):
            return None


class _Rejected(Exception):
    """Telegram refused a request for a reason retrying will not change (text without content)."""


def _forbidden_detail(exc: Forbidden) -> str:
    text = exc.message.lower()
    if "blocked" in text:
        return "blocked"
    if "deactivated" in text:
        return "deactivated"
    return "forbidden"


def _file_url(base_url: str) -> str:
    """``https://api.telegram.org/bot`` -> ``https://api.telegram.org/file/bot`` (same for a local server)."""
    head, sep, tail = base_url.rstrip("/").rpartition("/")
    return f"{head}/file/{tail}" if sep else base_url
