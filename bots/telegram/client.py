"""The Bot API client of the Telegram adapter: one PTB ``Bot`` made and initialised once, every
call with Telegram's flood limits and network errors handled, and the in-order outbox of the
adapter's own automatic answers."""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

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

from bots.telegram.split import split_message
from gateway.channel import AdapterState, Backoff, ChannelAdapter
from gateway.errors import BadCredentials, ChannelConnectError, RecipientUnreachable, TransientChannelError
from gateway.netfail import connect_failure

log = logging.getLogger("bots.telegram")  # the name its records had before the split
DEFAULT_BASE_URL = "https://api.telegram.org/bot"

T = TypeVar("T")


class _Bot(Bot):
    """PTB's Bot with a ``getUpdates`` that returns the raw JSON (see the module docstring)."""

    async def get_updates_raw(
        self, offset: int | None, timeout: float, allowed_updates: Sequence[str]
    ) -> Any:
        data: dict[str, Any] = {"timeout": int(timeout), "allowed_updates": list(allowed_updates)}
        if offset is not None:
            data["offset"] = offset
        return await self._post("getUpdates", data, read_timeout=timeout + 10.0)


def quiet_library_loggers() -> None:
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


class Rejected(Exception):
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


class TelegramClient(ChannelAdapter):
    """The sending half of :class:`~bots.telegram.adapter.TelegramAdapter` (its state is made there)."""

    _bot: _Bot | None
    _bot_ready: bool
    _bot_lock: asyncio.Lock
    _outbox: asyncio.Queue[tuple[int, str]] | None
    _runner: asyncio.Task[None] | None
    _send_attempts: int
    _max_retry_after: float
    _backoff_initial: float
    _request_timeout: float
    _send_trouble: bool

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
        Rejected (Telegram refused the request itself)."""
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
                refused = self.token_refused()
                self.set_state(AdapterState.BAD_CREDENTIALS, str(refused))
                raise refused from None
            except ChatMigrated:
                raise RecipientUnreachable("chat migrated") from None
            except BadRequest as exc:
                if "chat not found" in exc.message.lower():
                    raise RecipientUnreachable("chat not found") from None
                raise Rejected("bad request") from None
            except (NetworkError, Conflict) as exc:  # TimedOut is a NetworkError
                if attempt >= self._send_attempts:
                    self._send_trouble = True
                    failure = self.describe_failure(exc) or TransientChannelError(
                        f"Telegram Bot API unreachable ({type(exc).__name__})"
                    )
                    self.set_state(AdapterState.TRANSIENT_ERROR, str(failure))
                    raise failure from None
                delay = backoff.next_delay()
                log.info("telegram: %s, retrying in %.1f s", type(exc).__name__, delay)
                await asyncio.sleep(delay)
                continue
            except TelegramError as exc:
                raise Rejected(type(exc).__name__) from None
            if self._send_trouble:
                self._send_trouble = False
                if self.state() == AdapterState.TRANSIENT_ERROR:
                    running = self._runner is not None and not self._runner.done()
                    self.set_state(AdapterState.CONNECTED if running else AdapterState.STOPPED)
            return result

    def api_server(self) -> tuple[str, int]:
        """Host and port of the Bot API (``base_url``; never the token, which follows it)."""
        parts = urlsplit(str(self.config.get("base_url") or DEFAULT_BASE_URL))
        return parts.hostname or "?", parts.port or (443 if parts.scheme == "https" else 80)

    def describe_failure(self, exc: BaseException) -> ChannelConnectError | None:
        host, port = self.api_server()
        return connect_failure(
            "Telegram Bot API", host, port, exc, step="Bot API call", tls_key="channels.telegram.base_url"
        )

    def token_refused(self) -> BadCredentials:
        host, port = self.api_server()
        return BadCredentials(
            f"Telegram Bot API {host}:{port}: login failed (bot token refused); check channels.telegram.token"
        )

    async def _ready_bot(self) -> _Bot:
        """The Bot API client, initialised (``getMe``) once; sends work in processes that never
        called start() (another process of the fleet holds the poller)."""
        if self._bot is not None and self._bot_ready:
            return self._bot
        async with self._bot_lock:
            if self._bot is None:
                base_url = str(self.config.get("base_url") or DEFAULT_BASE_URL)
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
                    refused = self.token_refused()
                    self.set_state(AdapterState.BAD_CREDENTIALS, str(refused))
                    raise refused from None
                self._bot_ready = True
            return self._bot

    @staticmethod
    def _chat_id(address: str) -> int | None:
        try:
            return int(address)
        except (TypeError, ValueError):
            return None
