"""The SMS channel's adapter: the provider's webhooks in, its send API out (see :mod:`bots.sms`)."""

from __future__ import annotations

import contextlib
import logging
import re
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, ClassVar, Final
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from bots.sms import segments
from bots.sms.config import SCHEMA
from bots.sms.provider import SEND_FIELDS, Refused, SendAPI
from bots.sms.webhook import (
    DELIVERED,
    FAILED,
    INBOUND_FIELDS,
    REPORT_FIELDS,
    BadRequest,
    WebhookAuth,
    e164,
    field,
    parse_body,
    parse_time,
)
from gateway import catalogues
from gateway.channel import (
    CONTROL_DELIVERY_REPORT,
    CONTROL_END,
    AdapterState,
    ChannelAdapter,
    ChannelKey,
    ChannelServices,
    Delivery,
    DeliveryStatus,
    Ingress,
    register_channel,
)
from gateway.envelope import Direction, Envelope, new_message_id, pseudonymize, utcnow
from gateway.errors import ConfigError, DeadLettered, InvalidInput, TransientChannelError

log = logging.getLogger("bots.sms")

INBOUND_PATH: Final = "/channels/sms/inbound"
REPORT_PATH: Final = "/channels/sms/report"
STOP_WORDS: Final = frozenset({"STOPP", "STOP"})
KEYWORD_META: Final = "sms_keyword"
HELP_PER_HOUR: Final = 3
NUMBER_RE: Final = re.compile(r"\+?\d[\d\s().-]{4,}\d")


def help_words() -> dict[str, str]:
    """``{word: language}``: the words that ask for the help answer (``sms.help_words`` of each
    shipped person language; Swedish first, so a word two languages share answers in Swedish)."""
    words: dict[str, str] = {}
    for lang in catalogues.languages("person"):
        for word in catalogues.text("person", lang, "sms.help_words").split():
            words.setdefault(word.upper(), lang)
    return words


def keyword(text: str, helps: Mapping[str, str] | None = None) -> tuple[str, str] | None:
    """``("stop"|"help", language)`` when the whole text is a keyword (any case, trimmed): STOPP
    or STOP, or a help word of any shipped language (:func:`help_words`)."""
    word = text.strip().upper()
    if word in STOP_WORDS:
        return "stop", "sv" if word == "STOPP" else "en"
    lang = (help_words() if helps is None else helps).get(word)
    return ("help", lang) if lang else None


@register_channel
class SmsAdapter(ChannelAdapter):
    name: ClassVar[str] = "sms"
    config_schema: ClassVar[Mapping[str, ChannelKey]] = SCHEMA

    def __init__(
        self, config: Mapping[str, Any] | None, pseudonym_key: bytes, *, backoff_initial: float = 0.5
    ) -> None:
        checked = self.validate_config("channels.sms", dict(config or {}))
        super().__init__(checked)
        if not pseudonym_key:
            raise ConfigError("pseudonym_key", "must not be empty")
        self._key = pseudonym_key
        c = checked
        choices = {"send_auth": ("basic", "bearer", "none"), "send_body": ("form", "json"),
                   "split": ("provider", "parts"), "webhook_auth": ("basic", "hmac")}  # fmt: skip
        for key, allowed in choices.items():
            if c.get(key, allowed[0]) not in allowed:
                raise ConfigError(f"channels.sms.{key}", "must be one of " + ", ".join(allowed))
        self.auth = WebhookAuth(
            scheme=c.get("webhook_auth", "basic"),
            username=c.get("webhook_username", ""),
            password=c.get("webhook_password", ""),
            secret=c.get("webhook_secret", ""),
            signature_header=c.get("signature_header", "X-Signature"),
            timestamp_header=c.get("timestamp_header", "X-Timestamp"),
            max_skew=float(c.get("webhook_max_skew", 300.0)),
        )
        if self.auth.scheme == "basic" and not (self.auth.username and self.auth.password):
            raise ConfigError(
                "channels.sms.webhook_password", "webhook_username and webhook_password are required"
            )
        if self.auth.scheme == "hmac" and len(self.auth.secret) < 16:
            raise ConfigError("channels.sms.webhook_secret", "must be at least 16 characters")
        send_auth = c.get("send_auth", "basic")
        if send_auth == "basic" and not (c.get("send_username") and c.get("send_password")):
            raise ConfigError("channels.sms.send_password", "send_username and send_password are required")
        if send_auth == "bearer" and not c.get("send_token"):
            raise ConfigError("channels.sms.send_token", "is required with send_auth: bearer")
        self.api = SendAPI(
            url=c["send_url"],
            auth=c.get("send_auth", "basic"),
            username=c.get("send_username", ""),
            password=c.get("send_password", ""),
            token=c.get("send_token", ""),
            body=c.get("send_body", "form"),
            fields={**SEND_FIELDS, **c.get("send_fields", {})},
            extra=dict(c.get("send_extra", {})),
            id_field=c.get("send_id_field", "id"),
            attempts=max(1, int(c.get("send_attempts", 4))),
            max_retry_after=float(c.get("max_retry_after", 20.0)),
            backoff_initial=backoff_initial,
            timeout=10.0,
        )
        self.sender = c["sender"]
        self.split_parts = c.get("split") == "parts"
        self.report_url = c.get("report_url", "")
        self.region = c.get("region", "SE")
        self.inbound_fields = {**INBOUND_FIELDS, **c.get("inbound_fields", {})}
        self.report_fields = {**REPORT_FIELDS, **c.get("report_fields", {})}
        self.delivered_values = {str(v).lower() for v in c.get("delivered_values", DELIVERED)}
        self.failed_values = {str(v).lower() for v in c.get("failed_values", FAILED)}
        self.help_words = help_words()
        # The answer to a help word, in its language; a deployment may word Swedish and English its way.
        self.help = {
            lang: c.get(f"help_{lang}") or catalogues.text("person", lang, "sms.help")
            for lang in catalogues.languages("person")
        }
        self._ingress: Ingress | None = None
        self._services: ChannelServices | None = None
        self._http: aiohttp.ClientSession | None = None
        self._partial: OrderedDict[str, int] = OrderedDict()

    # -- interface ------------------------------------------------------------------------

    def attach(self, services: ChannelServices) -> None:
        self._services = services

    def routes(self) -> list[web.RouteDef]:
        return [web.post(INBOUND_PATH, self._inbound), web.post(REPORT_PATH, self._report)]

    async def start(self, ingress: Ingress) -> None:
        self._ingress = ingress
        if self._http is None:
            self._http = aiohttp.ClientSession()
        self.set_state(AdapterState.CONNECTED)

    async def stop(self) -> None:
        self._ingress = None
        http, self._http = self._http, None
        if http is not None:
            await http.close()
        self.set_state(AdapterState.STOPPED)

    async def send(self, envelope: Envelope, address: str) -> Delivery:
        if envelope.meta.get(KEYWORD_META) == "stop":
            # The person's last message was STOPP: nothing more until they write again.
            return Delivery(
                DeliveryStatus.FAILED, detail="the person sent STOPP", facts={"failure": "stopped"}
            )
        text = envelope.text.strip()
        if not text:
            return Delivery(DeliveryStatus.FAILED, detail="empty message")
        cost = segments.count(text)
        parts = segments.split(text) if self.split_parts else [text]
        facts = {"segments": len(parts) if self.split_parts else cost.count, "encoding": cost.encoding}
        report_url = self._report_url(envelope.message_id)
        done = self._partial.pop(envelope.message_id, 0)
        first_id: str | None = None
        for index in range(done, len(parts)):
            # Parts sent one by one: only the last asks for a report, so that the message is not
            # "delivered" while parts of it are still to be sent.
            last = index == len(parts) - 1
            payload = self.api.request(self.sender, address, parts[index], report_url if last else None)
            if self.api.fields.get("ref"):
                payload[self.api.fields["ref"]] = envelope.message_id
            try:
                provider_id = await self.api.send(self._session(), payload)
            except Refused as exc:
                log.warning("sms: message part %d/%d refused (%s)", index + 1, len(parts), exc)
                failed = {**facts, "failure": exc.failure}
                return Delivery(DeliveryStatus.FAILED, first_id, detail=str(exc), facts=failed)
            except TransientChannelError:
                if index > 0:  # never send a part twice when the pipeline tries again
                    self._partial[envelope.message_id] = index
                    while len(self._partial) > 1024:
                        self._partial.popitem(last=False)
                raise
            first_id = first_id or provider_id
        return Delivery(DeliveryStatus.SENT, first_id, facts=facts)

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession()
        return self._http

    def _report_url(self, message_id: str) -> str | None:
        if not self.report_url:
            return None
        joiner = "&" if "?" in self.report_url else "?"
        return f"{self.report_url}{joiner}{urlencode({'ref': message_id})}"

    # -- webhooks ---------------------------------------------------------------------------

    async def _read(self, request: web.Request) -> dict[str, Any] | web.Response:
        body = await request.read()
        if not self.auth.check(request.headers, body):
            log.warning("sms: a webhook call without valid authentication refused")
            challenge = {"WWW-Authenticate": "Basic"} if self.auth.scheme == "basic" else None
            return web.json_response({"error": "unauthorized"}, status=401, headers=challenge)
        if self._ingress is None:
            return _unavailable("the SMS channel is not running")
        try:
            return parse_body(request.content_type, body)
        except BadRequest as exc:
            return _bad(str(exc))

    async def _inbound(self, request: web.Request) -> web.StreamResponse:
        data = await self._read(request)
        if isinstance(data, web.Response):
            return data
        f = self.inbound_fields
        try:
            provider_id = field(data, f.get("id"), required="message id")
            number = e164(field(data, f.get("from"), required="sender"), self.region)
            text = field(data, f.get("text"))
        except BadRequest as exc:
            log.info("sms: an incoming message refused: %s", exc)
            return _bad(str(exc))
        if not text.strip():
            return _bad("the message has no text")
        sender = pseudonymize(self._key, self.name, number)
        found = keyword(text, self.help_words)
        meta: dict[str, Any] = {}
        if found is not None:
            meta = {KEYWORD_META: found[0], "automatic": True, "language_hint": found[1]}
        envelope = Envelope(
            message_id=new_message_id(),
            direction=Direction.IN,
            channel=self.name,
            sender=sender,
            text=text,
            external_id=provider_id,
            meta=meta,
            received_at=parse_time(field(data, f.get("time"))) or utcnow(),
        )
        if found is not None and found[0] == "help":
            # Not stored: the keyword of the operators' convention, answered with who we are:
            # once per provider message (a redelivery is not answered again) and at most
            # HELP_PER_HOUR times an hour per number (nobody makes us send SMS in a loop).
            if await self._allow(f"sms-help-id:{provider_id}", 1, 86400.0) and await self._allow(
                f"sms-help:{sender}", HELP_PER_HOUR, 3600.0
            ):
                await self._answer_help(number, found[1])
            return _ok()
        try:
            await self._ingest(envelope, number)
            if found is not None:  # STOPP, stored: now end the conversation (again, if redelivered)
                with contextlib.suppress(InvalidInput):  # nothing open (ended already)
                    await self._ingest(self._control(sender, CONTROL_END, {}), number)
        except DeadLettered:
            return _ok()  # kept as a dead letter: redelivering cannot help
        except InvalidInput as exc:
            return _bad(exc.reason)
        except _Unavailable as exc:
            return _unavailable(str(exc))
        return _ok()

    async def _report(self, request: web.Request) -> web.StreamResponse:
        data = await self._read(request)
        if isinstance(data, web.Response):
            return data
        f = self.report_fields
        ref = request.query.get("ref") or field(data, f.get("ref"))
        status = field(data, f.get("status")).strip().lower()
        if not ref:
            return _bad("the report names no message of ours (ref)")
        if status in self.delivered_values:
            outcome = "delivered"
        elif status in self.failed_values:
            outcome = "failed"
        else:
            return _ok()  # an intermediate status (sent, queued): nothing to record
        # The provider's words on why, kept and shown to the counsellor: never a number in them.
        reason = NUMBER_RE.sub("[nummer]", field(data, f.get("reason")))[:200] or status
        control = self._control(
            pseudonymize(self._key, self.name, ""),
            CONTROL_DELIVERY_REPORT,
            {"message_id": ref, "status": outcome, "reason": reason},
        )
        try:
            await self._ingest(control, "")
        except InvalidInput as exc:
            log.info("sms: a delivery report not recorded: %s", exc.reason)
            return _ok()  # not ours (gone under retention): the provider need not send it again
        except _Unavailable as exc:
            return _unavailable(str(exc))
        return _ok()

    def _control(self, sender: Any, control: str, extra: Mapping[str, Any]) -> Envelope:
        return Envelope(
            message_id=new_message_id(),
            direction=Direction.IN,
            channel=self.name,
            sender=sender,
            text="",
            meta={"control": control, **extra},
        )

    async def _ingest(self, envelope: Envelope, address: str) -> Any:
        ingress = self._ingress
        if ingress is None:
            raise _Unavailable("the SMS channel is not running")
        try:
            return await ingress(envelope, address)
        except InvalidInput:
            raise
        except Exception as exc:
            # The store or the broker away (StoreUnavailable, a connection cut mid-statement):
            # nothing was stored, so the provider must deliver it again.  Said without a
            # traceback, and without anything of the message.
            log.warning(
                "sms: a message not stored (%s); the provider will deliver it again", type(exc).__name__
            )
            raise _Unavailable("not stored; deliver again") from None

    async def _allow(self, key: str, limit: int, window: float) -> bool:
        """The gateway's fleet-wide counter (True without one, or while it is unavailable)."""
        services = self._services
        return True if services is None else await services.allow(key, limit, window)

    async def _answer_help(self, number: str, language: str) -> None:
        payload = self.api.request(self.sender, number, self.help[language], None)
        try:
            await self.api.send(self._session(), payload)
        except (Refused, TransientChannelError) as exc:
            log.warning("sms: the answer to a help keyword not sent (%s)", exc)


class _Unavailable(Exception):
    """The gateway could not store what the provider sent: it must deliver it again."""


def _ok() -> web.Response:
    return web.json_response({"ok": True})


def _bad(reason: str) -> web.Response:
    return web.json_response({"error": "bad_request", "reason": reason}, status=422)


def _unavailable(reason: str) -> web.Response:
    return web.json_response(
        {"error": "unavailable", "reason": reason}, status=503, headers={"Retry-After": "5"}
    )
