"""The SMS channel's configuration section, ``channels.sms`` (docs/configuration.md, docs/sms.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from bots.sms.provider import SEND_FIELDS
from bots.sms.webhook import DELIVERED, FAILED, INBOUND_FIELDS, REPORT_FIELDS
from gateway.channel import ChannelKey

SCHEMA: Final[Mapping[str, ChannelKey]] = {
    "send_url": ChannelKey(str, True, doc="The provider's send API, e.g. `https://api.46elks.com/a1/sms`."),
    "sender": ChannelKey(str, True, doc="Our number (E.164) or alphanumeric sender name."),
    "send_auth": ChannelKey(str, default="basic", doc="`basic`, `bearer` or `none`."),
    "send_username": ChannelKey(str, default="", doc="Basic auth user of the send API."),
    "send_password": ChannelKey(str, default="", doc="Basic auth password of the send API."),
    "send_token": ChannelKey(str, default="", doc="Bearer token of the send API."),
    "send_body": ChannelKey(str, default="form", doc="`form` or `json`."),
    "send_fields": ChannelKey(
        dict,
        default=SEND_FIELDS,
        doc="Our name (from, to, text, report_url, ref) -> the provider's field.",
    ),
    "send_extra": ChannelKey(dict, default={}, doc="Fixed fields sent with every message."),
    "send_id_field": ChannelKey(str, default="id", doc="Dotted path of the message id in the answer."),
    "send_attempts": ChannelKey(int, default=4, doc="Tries of one send on 429/5xx/network errors."),
    "max_retry_after": ChannelKey(float, default=20.0, doc="Longest wait between two tries (seconds)."),
    "split": ChannelKey(
        str, default="provider", doc="`provider` (one concatenated message) or `parts` (single SMS each)."
    ),
    "report_url": ChannelKey(
        str,
        default="",
        doc="Public URL of `/channels/sms/report`, sent with each message; `ref=` is added.",
    ),
    "webhook_auth": ChannelKey(str, default="basic", doc="`basic` or `hmac` (the provider's calls to us)."),
    "webhook_username": ChannelKey(str, default="", doc="Basic auth user the provider calls with."),
    "webhook_password": ChannelKey(str, default="", doc="Basic auth password the provider calls with."),
    "webhook_secret": ChannelKey(str, default="", doc="Shared secret of the HMAC signature."),
    "signature_header": ChannelKey(str, default="X-Signature", doc="Header of the hex HMAC-SHA256."),
    "timestamp_header": ChannelKey(str, default="X-Timestamp", doc="Header of the signed Unix time."),
    "webhook_max_skew": ChannelKey(float, default=300.0, doc="Seconds a signed call stays valid."),
    "inbound_fields": ChannelKey(
        dict, default=INBOUND_FIELDS, doc="Our name (id, from, to, text, time) -> the provider's field."
    ),
    "report_fields": ChannelKey(
        dict, default=REPORT_FIELDS, doc="Our name (id, status, ref, reason) -> the provider's field."
    ),
    "delivered_values": ChannelKey(list, default=list(DELIVERED), doc="Report statuses meaning delivered."),
    "failed_values": ChannelKey(list, default=list(FAILED), doc="Report statuses meaning failed."),
    "region": ChannelKey(str, default="SE", doc="Country of numbers written without +."),
    "help_sv": ChannelKey(str, default="the catalogue's text", doc="Answer to HJÄLP."),
    "help_en": ChannelKey(str, default="the catalogue's text", doc="Answer to HELP."),
}
