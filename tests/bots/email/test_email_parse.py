"""Parsing real-world-shaped mail (tests/bots/email/mails/), broken mail and arbitrary bytes."""

from __future__ import annotations

import base64
import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bots.email import EmailAdapter
from bots.email_parse import parse_mail
from bots.email_text import html_to_text, strip_quotes_and_signature
from tests.bots.email.mailtest_support import MAILS, PSEUDONYM_KEY, make_mail, read_mail

KEYS = {
    "message_id", "in_reply_to", "references", "from", "subject", "text", "full_text", "date",
    "auto_submitted", "attachments", "defects",
}  # fmt: skip
CONV = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"


def parse(name: str) -> dict[str, object]:
    return parse_mail(read_mail(name)).to_dict()


def test_gmail_multipart_alternative_reply() -> None:
    mail = parse("gmail_alternative.eml")
    assert mail["from"] == "anna.svensson@gmail.com"
    assert mail["subject"] == f"Re: Oro för min son [#{CONV}]"
    assert mail["text"] == "Tack för svaret. Han har börjat umgås med nya vänner och pratar om att resa bort."
    assert "> Hej, tack för att du skriver till oss." in str(mail["full_text"])
    assert mail["in_reply_to"] == f"<a1b2c3d4e5f60718293a4b5c6d7e8f90.{CONV}@stodlinjen.example.se>"
    assert mail["auto_submitted"] is False
    assert mail["defects"] == []
    assert mail["date"] == "2024-06-03T10:14:51+02:00"


def test_identifying_headers_never_reach_the_result() -> None:
    for name in ("gmail_alternative.eml", "outlook_html.eml"):
        dumped = json.dumps(parse(name))
        for needle in ("209.85.221.41", "83.250.11.7", "194.68.12.33", "mail-wr1", "outlook.com (40.107"):
            assert needle not in dumped


def test_outlook_html_only_becomes_text_without_script_style_or_history() -> None:
    mail = parse("outlook_html.eml")
    assert mail["subject"] == "Elev som uttrycker våldsbejakande åsikter"
    text = str(mail["text"])
    assert text.startswith("Hej,\n\nJag är lärare och har en elev som delar propaganda i klassen.")
    assert "Hur ska jag göra?" in text
    for gone in ("alert", "margin-top", "Rektor", "Från:", "Kontakta stödlinjen"):
        assert gone not in text
    assert "Kontakta stödlinjen om du är orolig." in str(mail["full_text"])
    assert "alert" not in str(mail["full_text"]) and "margin" not in str(mail["full_text"])


@pytest.mark.parametrize(
    ("name", "subject", "fragment"),
    [
        ("latin1_no_charset.eml", "Hjälp med min syster", "Min syster har förändrats mycket."),
        ("cp1252_no_charset.eml", "Fråga", "Han säger ”det är krig” och skickar pengar – 200 € i veckan."),
        ("bogus_charset.eml", "Oro för vän", "Min vän pratar om våld."),
        ("base64_utf8.eml", "Jag är rädd", "Min pojkvän har blivit radikaliserad.\nHan vill åka utomlands."),
        ("qp_latin1.eml", "Fråga om stöd", "Vart vänder jag mig för att få stöd som förälder?"),
    ],
)
def test_charsets_and_transfer_encodings(name: str, subject: str, fragment: str) -> None:
    mail = parse(name)
    assert mail["subject"] == subject
    assert fragment in str(mail["text"])
    assert "\ufffd" not in str(mail["text"]) + str(mail["subject"])


def test_unknown_charset_is_named_as_defect() -> None:
    assert "unknown_charset" in parse("bogus_charset.eml")["defects"]  # type: ignore[operator]


def test_signatures_are_cut_from_text_but_kept_in_full_text() -> None:
    b64 = parse("base64_utf8.eml")
    assert "Sara" not in str(b64["text"]) and "070-123 45 67" in str(b64["full_text"])
    qp = parse("qp_latin1.eml")
    assert "iPhone" not in str(qp["text"]) and "Skickat från min iPhone" in str(qp["full_text"])


@pytest.mark.parametrize(
    ("body", "kept", "cut"),
    [
        (
            "Han har åkt.\n\nOn Mon, 3 Jun 2024 at 09:02, Stödlinjen <h@s.se> wrote:\n> Hej\n> Hur mår du?",
            "Han har åkt.",
            "Hur mår du",
        ),
        (
            "Ja, det stämmer.\n\nDen 3 juni 2024 kl. 09:02 skrev Stödlinjen\n<h@s.se>:\n\n> Är han hemma?",
            "Ja, det stämmer.",
            "Är han hemma",
        ),
        (
            "Tack!\n\n-----Original Message-----\nFrom: Stödlinjen\nSent: den 3 juni\nTo: mig\nSubject: x\n\nGammal text",
            "Tack!",
            "Gammal text",
        ),
        (
            "Tack!\n\n________________________________\nFrån: Stödlinjen <h@s.se>\nSkickat: den 3 juni 2024 09:02\n"
            "Till: Anna\nÄmne: Re: Oro\n\nGammal text",
            "Tack!",
            "Gammal text",
        ),
        (
            "Jag svarar inne i texten:\n> Är han hemma?\nJa, nu är han det.",
            "Ja, nu är han det.",
            "Är han hemma",
        ),
        ("Kort svar.\n--\nKalle Karlsson\nGatan 1", "Kort svar.", "Gatan 1"),
    ],
)
def test_quoted_history_is_stripped(body: str, kept: str, cut: str) -> None:
    text = strip_quotes_and_signature(body)
    assert kept in text
    assert cut not in text


def test_a_mail_that_is_all_quote_keeps_its_text() -> None:
    body = "> Vidarebefordrar det han skrev:\n> Vi ses vid bron i natt."
    assert strip_quotes_and_signature(body) == body


def test_gmail_html_only_reply_loses_its_quote() -> None:
    raw = read_mail("gmail_alternative.eml")
    html_only = raw.split(b"--000000000000a1b2c3061a0e9f7d\r\n")[2].split(
        b"\r\n--000000000000a1b2c3061a0e9f7d--"
    )[0]
    head = raw.split(b"Content-Type: multipart/alternative")[0]
    mail = parse_mail(head + html_only)
    assert mail.text == "Tack för svaret. Han har börjat umgås med nya vänner och pratar om att resa bort."
    assert "> Hej, tack för att du skriver till oss." in mail.full_text


def test_html_to_text_blocks_lists_entities_and_quotes() -> None:
    html = (
        "<html><head><title>T</title><style>p{}</style></head><body><p>Hej&nbsp;&amp; v&auml;lkommen</p>"
        "<ul><li>ett</li><li>två</li></ul><script>evil()</script><blockquote>citat</blockquote>"
        "<table><tr><td>a</td><td>b</td></tr></table></body></html>"
    )
    text = html_to_text(html)
    assert text.splitlines()[0] == "Hej & välkommen"
    assert "- ett" in text and "- två" in text
    assert "> citat" in text
    assert "evil" not in text and "p{}" not in text and "T" not in text.split()


def test_bounce_vacation_and_list_mail_are_auto_submitted() -> None:
    assert parse_mail(read_mail("bounce_dsn.eml")).auto_reason == "auto-submitted"
    for name in ("bounce_dsn.eml", "vacation.eml", "list_mail.eml"):
        assert parse(name)["auto_submitted"] is True, name
    bounce = parse_mail(read_mail("bounce_dsn.eml"))
    assert {a.content_type for a in bounce.attachments} == {"message/delivery-status", "text/rfc822-headers"}
    assert "User unknown" in bounce.text  # the human-readable part is the text


@pytest.mark.parametrize(
    "headers",
    [
        {"Return-Path": "<>"},
        {"Precedence": "bulk"},
        {"Precedence": "junk"},
        {"List-Unsubscribe": "<mailto:u@l.org>"},
        {"X-Autoreply": "yes"},
        {"Auto-Submitted": "auto-generated"},
    ],
)
def test_auto_submitted_signals(headers: dict[str, str]) -> None:
    raw, _ = make_mail(extra=headers)
    assert parse_mail(raw).auto_submitted is True


def test_bounce_from_mailer_daemon_without_other_signs() -> None:
    raw, _ = make_mail(sender="Mail Delivery Subsystem <MAILER-DAEMON@googlemail.com>")
    assert parse_mail(raw).auto_reason == "bounce"
    raw, _ = make_mail(sender="postmaster@example.se")
    assert parse_mail(raw).auto_submitted is True


def test_ordinary_mail_and_auto_submitted_no_are_not_auto() -> None:
    raw, _ = make_mail(extra={"Auto-Submitted": "no"})
    assert parse_mail(raw).auto_submitted is False


def test_attachments_listed_not_kept_unless_asked() -> None:
    mail = parse_mail(read_mail("attachments.eml"))
    assert [a.to_dict() for a in mail.attachments] == [
        {"name": "chatt logg åä.pdf", "content_type": "application/pdf", "size": 2064},
        {"name": "skarm.png", "content_type": "image/png", "size": 308},  # no path from the sender's name
    ]
    assert all(a.content is None for a in mail.attachments)
    assert mail.text == "Jag bifogar skärmdumpar av det han skriver."
    kept = parse_mail(read_mail("attachments.eml"), store_attachments=True)
    assert kept.attachments[1].content is not None and kept.attachments[1].content.startswith(b"\x89PNG")


def test_over_max_size_is_a_stub_with_a_defect() -> None:
    raw = read_mail("attachments.eml")
    mail = parse_mail(raw, max_size=1000)
    assert mail.message_id == "<att-1@example.se>"
    assert mail.from_address == "ahmed@example.se"
    assert mail.too_large and "too_large" in mail.defects
    assert mail.text == "" and mail.attachments == ()


def test_truncated_mime_still_gives_text_and_defects() -> None:
    mail = parse("truncated_mime.eml")
    assert mail["subject"] == "Avbrutet"
    assert str(mail["text"]).startswith("Hej, jag beh")
    assert "CloseBoundaryNotFoundDefect" in mail["defects"]  # type: ignore[operator]


def test_missing_message_id_gets_a_stable_synthetic_one() -> None:
    raw = read_mail("no_message_id.eml")
    first, second = parse_mail(raw), parse_mail(raw)
    assert first.message_id == second.message_id
    assert first.message_id.endswith("@synthetic.invalid>")
    assert "missing_message_id" in first.defects
    assert parse_mail(raw + b"x").message_id != first.message_id


def test_binary_junk_and_empty_input() -> None:
    junk = parse("junk.bin")
    assert junk["text"] == "" and junk["from"] is None
    assert "binary_content" in junk["defects"]  # type: ignore[operator]
    empty = parse("empty.eml")
    assert "empty" in empty["defects"]  # type: ignore[operator]


def test_every_sample_has_exactly_the_contract_keys() -> None:
    for path in sorted(MAILS.iterdir()):
        assert set(parse_mail(path.read_bytes()).to_dict()) == KEYS, path.name


def test_header_injection_and_control_characters_are_neutralised() -> None:
    raw = b"From: a@b.se\r\nSubject: =?utf-8?Q?hej=0D=0ABcc=3A_x=40y.se?=\r\nMessage-ID: <m@b.se>\r\n\r\nhej\x00\x07 du\r\n"
    mail = parse_mail(raw)
    assert "\n" not in mail.subject and "\r" not in mail.subject
    assert "\x00" not in mail.full_text


# ------------------------------------------------------------------------------------------------
# thread hints (the adapter's reading of a parsed mail)


def adapter() -> EmailAdapter:
    return EmailAdapter(
        {"imap_host": "h", "imap_user": "u", "imap_password": "p", "smtp_host": "h",
         "from_address": "helpline@stodlinjen.example.se"},
        pseudonym_key=PSEUDONYM_KEY,
    )  # fmt: skip


def test_thread_hint_from_references_subject_tag_and_plus_address() -> None:
    a = adapter()
    assert a.thread_hint(parse_mail(read_mail("gmail_alternative.eml"))) == CONV
    raw, _ = make_mail(subject=f"SV: Re: Oro [#{CONV}]")
    assert a.thread_hint(parse_mail(raw)) == CONV
    raw, _ = make_mail(references=f"<x@gmail.com> <aa.{CONV}@stodlinjen.example.se> <y@gmail.com>")
    assert a.thread_hint(parse_mail(raw)) == CONV
    raw = make_mail()[0].replace(b"To: helpline@", b"To: helpline+" + CONV.encode() + b"@")
    assert a.thread_hint(parse_mail(raw)) == CONV
    raw, _ = make_mail(in_reply_to=f"<aa.{CONV}@evil.example.com>")
    assert a.thread_hint(parse_mail(raw)) is None


def test_envelope_carries_pseudonym_not_address_and_suppresses_auto_reply() -> None:
    a = adapter()
    env, _ = a.envelope_for(parse_mail(read_mail("outlook_html.eml")))
    assert env.meta["language_hint"] == "sv"  # Content-Language: sv-SE
    # Issue 19: any language the person catalogue has is a hint; Croatian reads as Bosnian; a
    # language without a catalogue is none.
    for header, hint in (("ar", "ar"), ("so-SO", "so"), ("hr", "bs"), ("de-DE", None)):
        raw, _ = make_mail()
        env, _ = a.envelope_for(parse_mail(f"Content-Language: {header}\n".encode() + raw))
        assert env.meta.get("language_hint") == hint, header
    assert "suppress_auto_reply" not in env.meta
    env, address = a.envelope_for(parse_mail(read_mail("vacation.eml")))
    assert address == "lisa.berg@example.com"
    assert "lisa.berg" not in env.to_json()
    assert env.meta["suppress_auto_reply"] is True
    assert env.conversation_id == CONV
    env, address = a.envelope_for(parse_mail(read_mail("junk.bin")))
    assert address == "" and env.meta["suppress_auto_reply"] is True


# ------------------------------------------------------------------------------------------------
# anything at all


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4000))
def test_any_bytes_parse_to_the_contract(data: bytes) -> None:
    result = parse_mail(data).to_dict()
    assert set(result) == KEYS
    json.loads(json.dumps(result, ensure_ascii=False))


_header_names = st.sampled_from(
    ["From", "To", "Subject", "Message-ID", "In-Reply-To", "References", "Content-Type",
     "Content-Transfer-Encoding", "Content-Disposition", "Auto-Submitted", "Date", "MIME-Version"]
)  # fmt: skip
_header_values = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        ["multipart/mixed; boundary=b", "text/plain; charset=x-unknown", "text/html; charset=utf-8", "base64",
         "quoted-printable", "=?utf-8?B?w6XDpMO2?=", "=?bogus?Q?=E5?=", "attachment; filename*=utf-8''%FF%FE",
         "<a@b> <c@d>", "\"Name, with comma\" <x@y.se>", "message/rfc822"]
    ),
)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(_header_names, _header_values), max_size=12),
    st.one_of(
        st.binary(max_size=600), st.text(max_size=600).map(lambda s: s.encode("utf-8", "surrogatepass"))
    ),
)
def test_mail_shaped_garbage_parses_to_the_contract(headers: list[tuple[str, str]], body: bytes) -> None:
    head = "".join(f"{k}: {v}\r\n" for k, v in headers).encode("utf-8", "surrogatepass")
    result = parse_mail(head + b"\r\n--b\r\n" + body).to_dict()
    assert set(result) == KEYS
    json.dumps(result, ensure_ascii=False).encode("utf-8")  # no lone surrogates either


def test_message_ids_wrapped_in_encoded_words_are_still_read() -> None:
    from bots.email_parse import parse_mail

    raw = (
        b"From: a@example.org\r\nTo: b@example.org\r\nSubject: Re: hej\r\nMessage-ID: <x1@example.org>\r\n"
        b"In-Reply-To: =?utf-8?q?=3Cabc.def=40helpline=2Eexample=3E?=\r\n"
        b"References: =?utf-8?q?=3Cfirst=40a=2Eexample=3E?= <abc.def@helpline.example>\r\n\r\nsvar\r\n"
    )
    parsed = parse_mail(raw)
    assert parsed.in_reply_to == "<abc.def@helpline.example>"
    assert parsed.references == ("<first@a.example>", "<abc.def@helpline.example>")


# -- issue 15, item 18: NUL bytes, deep nesting, huge headers ------------------------------------


def _crlf(*lines: str) -> bytes:
    return "\r\n".join(lines).encode("utf-8")


def test_a_nul_byte_does_not_discard_the_text() -> None:
    raw = _crlf(
        "From: Anna Svensson <anna.svensson@example.se>",
        "To: stod@example.se",
        "Subject: Oro",
        "Message-ID: <nul-1@example.se>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        "",
        "Hej,\x00 jag är orolig för min son. Han pratar om att åka ner.",
        "",
    )
    parsed = parse_mail(raw)
    assert parsed.text == "Hej, jag är orolig för min son. Han pratar om att åka ner."
    assert "nul_removed" in parsed.defects and "binary_content" not in parsed.defects


def _nested(levels: int) -> bytes:
    head = [
        "From: Anna Svensson <anna.svensson@example.se>",
        "Subject: Djupt",
        f"Message-ID: <deep-{levels}@example.se>",
        "MIME-Version: 1.0",
    ]
    opening = [f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}' for i in range(levels)]
    inner = "Content-Type: text/plain; charset=utf-8\r\n\r\nHej, jag är orolig för min son."
    closing = [f"--b{i}--" for i in reversed(range(levels))]
    return _crlf(*head, *opening, inner, *closing, "")


def test_deep_multipart_nesting_is_a_defect() -> None:
    assert parse_mail(_nested(5)).text == "Hej, jag är orolig för min son."
    spent = {}
    for levels in (40, 400, 3000):
        started = time.thread_time()
        parsed = parse_mail(_nested(levels))
        spent[levels] = time.thread_time() - started
        assert spent[levels] < 10.0, levels
        assert "too_deep" in parsed.defects, levels
        assert parsed.message_id == f"<deep-{levels}@example.se>" or "unparseable" in parsed.defects
    # The depth is cut off: 3,000 levels cost about what 400 do (2 s and 0.9 s on a slow 2-core
    # machine), where a parse that followed every level would cost 7.5 times as much or more.
    assert spent[3000] < 3 * spent[400] + 0.5, spent


def test_a_four_megabyte_subject_of_encoded_words_is_cheap() -> None:
    word = "=?utf-8?b?" + base64.b64encode("Hjälp mig snälla ".encode()).decode() + "?="
    subject = " ".join([word] * (4_000_000 // (len(word) + 1)))
    raw = _crlf(
        "From: Anna Svensson <anna.svensson@example.se>",
        "To: stod@example.se",
        f"Subject: {subject}",
        "Message-ID: <big-subject@example.se>",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "Hej, jag behöver prata med någon.",
        "",
    )
    assert len(raw) > 4_000_000
    started = time.process_time()
    parsed = parse_mail(raw)
    spent = time.process_time() - started
    assert spent < 1.0, f"{spent:.1f} s of CPU for one subject"  # 8.6 s before the caps
    assert parsed.text == "Hej, jag behöver prata med någon."
    assert parsed.subject.startswith("Hjälp mig snälla Hjälp mig snälla")
    assert len(parsed.subject) <= 998
    assert "long_header" in parsed.defects
    assert parsed.message_id == "<big-subject@example.se>"
