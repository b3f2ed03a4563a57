"""The send API's request as the configuration names its fields, Retry-After, the provider's id."""

from __future__ import annotations

import email.utils
import time

from bots.sms.provider import SEND_FIELDS, SendAPI, _message_id, retry_after


def _api(**kw: object) -> SendAPI:
    base: dict[str, object] = dict(
        url="http://x", auth="basic", username="u", password="p", token="", body="form",
        fields=SEND_FIELDS, extra={}, id_field="id", attempts=3, max_retry_after=5.0,
        backoff_initial=0.1, timeout=1.0,
    )  # fmt: skip
    return SendAPI(**{**base, **kw})  # type: ignore[arg-type]


def test_the_request_uses_the_providers_field_names() -> None:
    assert _api().request("+4676", "+4670", "hej", "https://gw/r?ref=1") == {
        "from": "+4676",
        "to": "+4670",
        "message": "hej",
        "whendelivered": "https://gw/r?ref=1",
    }
    twilio = _api(fields={"from": "From", "to": "To", "text": "Body", "report_url": "StatusCallback"})
    assert twilio.request("+4676", "+4670", "hej", None) == {"From": "+4676", "To": "+4670", "Body": "hej"}
    sinch = _api(
        fields={"from": "from", "to": "to", "text": "body", "report_url": ""}, extra={"type": "mt_text"}
    )
    assert sinch.request("S", "+4670", "hej", "u") == {
        "type": "mt_text",
        "from": "S",
        "to": "+4670",
        "body": "hej",
    }
    assert _api().headers()["Authorization"] == "Basic dTpw"
    assert _api(auth="bearer", token="t0k").headers() == {"Authorization": "Bearer t0k"}
    assert _api(auth="none").headers() == {}


def test_retry_after() -> None:
    assert retry_after("3") == 3.0
    assert retry_after(None) is None and retry_after("soon") is None
    later = email.utils.formatdate(time.time() + 10, usegmt=True)
    found = retry_after(later)
    assert found is not None and 8 <= found <= 10


def test_the_providers_message_id() -> None:
    assert _message_id({"id": "s1"}, "id") == "s1"
    assert _message_id({"data": {"sid": 5}}, "data.sid") == "5"
    assert _message_id({"id": None}, "id") is None
    assert _message_id(["x"], "id") is None
    assert _message_id({"id": "s1"}, "") is None
