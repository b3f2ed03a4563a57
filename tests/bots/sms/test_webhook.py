"""The provider's calls to us: HTTP basic and HMAC signatures (a stale or forged one refused),
form or JSON bodies, numbers in E.164, times."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest

from bots.sms.webhook import BadRequest, WebhookAuth, e164, field, parse_body, parse_time, sign

SECRET = "shared-secret-0123456789abcdef"


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_basic_auth() -> None:
    auth = WebhookAuth("basic", username="elks", password="pw-123")
    assert auth.check(_basic("elks", "pw-123"), b"")
    assert not auth.check(_basic("elks", "pw-124"), b"")
    assert not auth.check(_basic("other", "pw-123"), b"")
    assert not auth.check({"Authorization": "Basic !!!"}, b"")
    assert not auth.check({"Authorization": "Bearer pw-123"}, b"")
    assert not auth.check({}, b"")


def test_hmac_signature_with_a_timestamp() -> None:
    auth = WebhookAuth("hmac", secret=SECRET, max_skew=300)
    body = b"id=s1&from=%2B46701234567&message=hej"
    now = int(time.time())
    good = {"X-Timestamp": str(now), "X-Signature": sign(SECRET, str(now), body)}
    assert auth.check(good, body)
    assert auth.check({**good, "X-Signature": "sha256=" + good["X-Signature"]}, body)
    assert not auth.check(good, body + b"x")  # the body changed
    assert not auth.check({**good, "X-Signature": sign("another-secret-0123", str(now), body)}, body)
    # A captured call replayed later: its timestamp is too old (and a forged newer one breaks the signature).
    assert not auth.check(good, body, now=now + 301)
    assert not auth.check({**good, "X-Timestamp": str(now + 1000)}, body, now=now + 1000)
    assert not auth.check({"X-Signature": good["X-Signature"]}, body)


def test_bodies_form_or_json() -> None:
    assert parse_body("application/x-www-form-urlencoded", b"from=%2B46&message=h%C3%A4j") == {
        "from": "+46",
        "message": "häj",
    }
    assert parse_body("application/json", b'{"from": "+46", "id": 7}') == {"from": "+46", "id": 7}
    for content_type, body in [
        ("application/json", b"[1]"),
        ("application/json", b"{bad"),
        ("application/x-www-form-urlencoded", b"\xff\xfe"),
        ("text/plain", b"hej"),
    ]:
        with pytest.raises(BadRequest):
            parse_body(content_type, body)
    assert field({"id": 7}, "id", required="message id") == "7"
    with pytest.raises(BadRequest, match="'id' \\(message id\\)"):
        field({"id": ["x"]}, "id", required="message id")


@pytest.mark.parametrize("raw", ["+46701234567", "0701234567", "070-123 45 67", "0046701234567"])
def test_numbers_become_e164(raw: str) -> None:
    assert e164(raw, "SE") == "+46701234567"


@pytest.mark.parametrize("raw", ["ACME", "", "+4670", "12"])
def test_what_is_not_a_number_is_refused(raw: str) -> None:
    with pytest.raises(BadRequest):
        e164(raw, "SE")


def test_times() -> None:
    assert parse_time("2026-12-04 10:20:28.5") == datetime(2026, 12, 4, 10, 20, 28, 500000, UTC)
    assert parse_time("2026-12-04T10:20:28Z") == datetime(2026, 12, 4, 10, 20, 28, tzinfo=UTC)
    assert parse_time("1796379628") == datetime.fromtimestamp(1796379628, UTC)
    assert parse_time("") is None and parse_time("yesterday") is None
