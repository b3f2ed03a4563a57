"""A local stand-in for Telegram's Bot API: a real aiohttp server speaking ``/bot{token}/{method}``.

Point python-telegram-bot at it with ``base_url=api.base_url`` (and ``base_file_url=api.base_file_url``).
It answers like the real Bot API (``{"ok": true, "result": ...}`` / ``{"ok": false, "error_code": ...,
"description": ..., "parameters": ...}``) for getMe, getUpdates (long polling from a queue the test
fills, honouring ``offset``, ``limit`` and ``timeout``; 409 while a webhook is set), sendMessage,
sendChatAction, setWebhook, deleteWebhook, getWebhookInfo, getFile and file downloads (recorded,
so a test can assert that nothing was downloaded).

Parameters are read from the query string, a form body (PTB sends form-encoded fields whose
non-string values are JSON-encoded) or a JSON body, as the real server accepts all three.

Failure injection: :meth:`FakeBotAPI.fail_next` (any method; a status, a description and an optional
``retry_after``), :meth:`FakeBotAPI.block` (sendMessage/sendChatAction to that chat answer 403 "bot
was blocked by the user").

Builders for updates in the Bot API's shapes: :meth:`FakeBotAPI.text_update`,
:meth:`FakeBotAPI.photo_update` and friends.  Not in this directory's ``__init__`` (there is none, so
that ``tests/bots/telegram`` never shadows the ``telegram`` package): import it as ``fake_bot_api``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientSession, web

BOT_USER = {
    "id": 7000000001,
    "is_bot": True,
    "first_name": "Stödlinjen",
    "username": "stodlinjen_test_bot",
    "can_join_groups": False,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}

_STRING_PARAMS = {
    "text",
    "caption",
    "url",
    "secret_token",
    "action",
    "parse_mode",
    "file_id",
    "ip_address",
}


@dataclass
class ApiCall:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


@dataclass
class _Failure:
    status: int
    description: str
    retry_after: int | None
    times: int
    after: int = 0


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class FakeBotAPI:
    def __init__(self, token: str = "123456789:AAE-test-token-for-the-stand-in") -> None:
        self.token = token
        self.calls: list[ApiCall] = []
        self.updates: list[dict[str, Any]] = []
        self.webhook: dict[str, Any] | None = None
        self.blocked: set[int] = set()
        self.file_requests: list[str] = []
        self._failures: dict[str, list[_Failure]] = {}
        self._update_ids = itertools.count(100_000)
        self._message_ids = itertools.count(1)
        self._sent_ids = itertools.count(5000)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._closing = False
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.*}", self._file)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        self._closing = True
        async with self._changed:
            self._changed.notify_all()  # long polls answer at once
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    # -- test controls -----------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        status: int,
        description: str,
        *,
        retry_after: int | None = None,
        times: int = 1,
        after: int = 0,
    ) -> None:
        """The next ``times`` calls of ``method`` (after ``after`` more successful ones) fail."""
        self._failures.setdefault(method.lower(), []).append(
            _Failure(status, description, retry_after, times, after)
        )

    def block(self, chat_id: int) -> None:
        self.blocked.add(chat_id)

    async def push_update(self, update: dict[str, Any]) -> None:
        """Queue an update for getUpdates (long polls waiting for one are woken)."""
        async with self._changed:
            self.updates.append(update)
            self._changed.notify_all()

    def calls_of(self, method: str) -> list[ApiCall]:
        return [c for c in self.calls if c.method.lower() == method.lower()]

    @property
    def sent(self) -> list[dict[str, Any]]:
        """Parameters of every sendMessage that Telegram accepted."""
        return [c.params for c in self.calls if c.method.lower() == "sendmessage" and c.params.get("_ok")]

    def sent_to(self, chat_id: int) -> list[str]:
        return [p["text"] for p in self.sent if p.get("chat_id") == chat_id]

    async def wait_for(self, predicate: Any, timeout: float = 5.0) -> None:
        """Wait until ``predicate()`` is true (checked whenever the server handled a call)."""
        async with asyncio.timeout(timeout):
            async with self._changed:
                await self._changed.wait_for(predicate)

    async def deliver_webhook(self, session: ClientSession, update: Mapping[str, Any] | bytes) -> int:
        """POST an update to the registered webhook the way Telegram does; returns the HTTP status."""
        assert self.webhook is not None, "no webhook registered"
        headers = {"Content-Type": "application/json"}
        if self.webhook.get("secret_token"):
            headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook["secret_token"]
        body = update if isinstance(update, bytes) else json.dumps(update).encode()
        async with session.post(self.webhook["url"], data=body, headers=headers) as resp:
            return resp.status

    # -- update builders ---------------------------------------------------------------------

    def next_update_id(self) -> int:
        return next(self._update_ids)

    def _message(
        self,
        chat_id: int,
        *,
        username: str = "anna_svensson",
        first_name: str = "Anna",
        last_name: str = "Svensson",
        language_code: str = "sv",
        chat_type: str = "private",
    ) -> dict[str, Any]:
        user = {
            "id": chat_id,
            "is_bot": False,
            "first_name": first_name,
            "last_name": last_name,
            "username": username,
            "language_code": language_code,
        }
        chat = {"id": chat_id, "type": chat_type, "first_name": first_name, "last_name": last_name}
        chat["username"] = username
        return {"message_id": next(self._message_ids), "from": user, "chat": chat, "date": int(time.time())}

    def text_update(self, chat_id: int, text: str, *, edited: bool = False, **who: Any) -> dict[str, Any]:
        message = self._message(chat_id, **who)
        message["text"] = text
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        if edited:
            message["edit_date"] = message["date"] + 5
            return {"update_id": self.next_update_id(), "edited_message": message}
        return {"update_id": self.next_update_id(), "message": message}

    def photo_update(self, chat_id: int, caption: str | None = None, **who: Any) -> dict[str, Any]:
        message = self._message(chat_id, **who)
        message["photo"] = [
            {
                "file_id": "AgACAgQAAxkBAAIBsmall",
                "file_unique_id": "AQADsmall",
                "width": 90,
                "height": 67,
                "file_size": 1234,
            },
            {
                "file_id": "AgACAgQAAxkBAAIBlarge",
                "file_unique_id": "AQADlarge",
                "width": 1280,
                "height": 960,
                "file_size": 98765,
            },
        ]
        if caption is not None:
            message["caption"] = caption
        return {"update_id": self.next_update_id(), "message": message}

    def voice_update(self, chat_id: int, **who: Any) -> dict[str, Any]:
        message = self._message(chat_id, **who)
        message["voice"] = {
            "file_id": "AwACAgQvoice",
            "file_unique_id": "AgADvoice",
            "duration": 4,
            "mime_type": "audio/ogg",
            "file_size": 5555,
        }
        return {"update_id": self.next_update_id(), "message": message}

    def document_update(
        self, chat_id: int, file_name: str = "mitt_namn_pass.pdf", **who: Any
    ) -> dict[str, Any]:
        message = self._message(chat_id, **who)
        message["document"] = {
            "file_id": "BQACAgQdoc",
            "file_unique_id": "AgADdoc",
            "file_name": file_name,
            "mime_type": "application/pdf",
            "file_size": 40000,
        }
        return {"update_id": self.next_update_id(), "message": message}

    def sticker_update(self, chat_id: int, **who: Any) -> dict[str, Any]:
        message = self._message(chat_id, **who)
        message["sticker"] = {
            "file_id": "CAACAgIsticker",
            "file_unique_id": "AgADsticker",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "😢",
        }
        return {"update_id": self.next_update_id(), "message": message}

    # -- the server --------------------------------------------------------------------------

    @staticmethod
    def _ok(result: Any) -> web.Response:
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _error(status: int, description: str, retry_after: int | None = None) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
        return web.json_response(body, status=status)

    async def _params(self, request: web.Request) -> dict[str, Any]:
        raw: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                raw.update(await request.json())
                return raw
            form = await request.post()
            raw.update({k: v for k, v in form.items() if isinstance(v, str)})
        params: dict[str, Any] = {}
        for key, value in raw.items():
            if isinstance(value, str) and key not in _STRING_PARAMS:
                try:
                    value = json.loads(value)
                except ValueError:
                    pass
            params[key] = value
        return params

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return self._error(401, "Unauthorized")
        method = request.match_info["method"]
        params = await self._params(request)
        call = ApiCall(method, params)
        self.calls.append(call)
        async with self._changed:
            self._changed.notify_all()
        try:
            failures = self._failures.get(method.lower())
            if failures and failures[0].after > 0:
                failures[0].after -= 1
            elif failures:
                failure = failures[0]
                failure.times -= 1
                if failure.times <= 0:
                    failures.pop(0)
                return self._error(failure.status, failure.description, failure.retry_after)
            handler = getattr(self, f"_m_{method.lower()}", None)
            if handler is None:
                return self._error(404, "Not Found")
            response: web.Response = await handler(params, call)
            return response
        finally:
            async with self._changed:
                self._changed.notify_all()

    async def _m_getme(self, params: dict[str, Any], call: ApiCall) -> web.Response:
        return self._ok(BOT_USER)

    async def _m_getupdates(self, params: dict[str, Any], call: ApiCall) -> web.Response:
        if self.webhook is not None:
            return self._error(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset", 0) or 0)
        limit = max(1, min(100, int(params.get("limit", 100) or 100)))
        timeout = float(params.get("timeout", 0) or 0)
        if offset:
            # Everything below the offset is confirmed and never sent again.
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        deadline = time.monotonic() + timeout
        async with self._changed:
            while not self.updates and not self._closing and time.monotonic() < deadline:
                try:
                    async with asyncio.timeout(deadline - time.monotonic()):
                        await self._changed.wait()
                except TimeoutError:
                    break
                if offset:
                    self.updates = [u for u in self.updates if u["update_id"] >= offset]
        return self._ok(self.updates[:limit])

    async def _m_sendmessage(self, params: dict[str, Any], call: ApiCall) -> web.Response:
        chat_id = params.get("chat_id")
        text = params.get("text")
        if not isinstance(chat_id, int):
            return self._error(400, "Bad Request: chat not found")
        if chat_id in self.blocked:
            return self._error(403, "Forbidden: bot was blocked by the user")
        if not isinstance(text, str) or not text.strip():
            return self._error(400, "Bad Request: message text is empty")
        if utf16_len(text) > 4096:
            return self._error(400, "Bad Request: message is too long")
        params["_ok"] = True
        message = {
            "message_id": next(self._sent_ids),
            "from": BOT_USER,
            "chat": {"id": chat_id, "type": "private"},
            "date": int(time.time()),
            "text": text,
        }
        return self._ok(message)

    async def _m_sendchataction(self, params: dict[str, Any], call: ApiCall) -> web.Response:
        if params.get("chat_id") in self.blocked:
            return self._error(403, "Forbidden: bot was blocked by the user")
        if params.get("action") not in {"typing", "upload_photo", "record_voice", "upload_document"}:
            return self._error(400, "Bad Request: wrong parameter action in request")
        return self._ok(True)

    async def _m_setwebhook(self, params: dict[str, Any], call: ApiCall) -> web.Response:
        url = params.get("url")
        if not isinstance(url, str) or not url:
            return self._error(400, "Bad Request: bad webhook: URL must be provided")
        self.webhook = {
            "url": url,
            "secret_token": params.get("secret_token"),
            "allowed_updates": params.get("allowed_updates"),
            "drop_pending_updates": params.get("drop_pending_updates"),
        }
        return self._ok(True)

    async def _m_deletewebhook(self, params: dict[str, Any], call: ApiCall) -> web.Response:
        self.webhook = None
        if params.get("drop_pending_updates"):
            self.updates.clear()
        return self._ok(True)

    async def _m_getwebhookinfo(self, params: dict[str, Any], call: ApiCall) -> web.Response:
        info = {"url": self.webhook["url"] if self.webhook else "", "has_custom_certificate": False}
        info["pending_update_count"] = len(self.updates)
        return self._ok(info)

    async def _m_getfile(self, params: dict[str, Any], call: ApiCall) -> web.Response:
        return self._ok(
            {"file_id": params.get("file_id"), "file_unique_id": "x", "file_path": "photos/file_1.jpg"}
        )

    async def _file(self, request: web.Request) -> web.Response:
        self.file_requests.append(request.match_info["path"])
        return web.Response(body=b"\xff\xd8\xff not really a jpeg")
