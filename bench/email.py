"""Benchmark of the e-mail channel's CPU path: mails parsed (and triaged) per second.

    python bench/email.py [--mails 2000] [--no-triage]

A corpus of generated, real-world-shaped mails (plain and HTML-only, multipart/alternative with
quoted history, Latin-1 and Windows-1252 without charset, base64 and quoted-printable, attachments,
auto-replies) is parsed with bots.email_parse and turned into envelopes as the adapter does; when
``nlu.triage.build_triager`` is importable every mail's text is also triaged by the embedded
triager (otherwise the figure is parse-only, and the output says so).  Aim: >= 200 mails/s.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is called email.py: run as a script, its directory comes first on sys.path and would
# shadow the standard library's email package.  Drop it, and put the repository root in its place.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import base64  # noqa: E402
import random  # noqa: E402
import time  # noqa: E402
from email.message import EmailMessage  # noqa: E402
from typing import Any  # noqa: E402

from bots.email import EmailAdapter  # noqa: E402
from bots.email_parse import parse_mail  # noqa: E402

SENTENCES = [
    "Jag är orolig för min son som har börjat umgås med nya vänner.",
    "Han pratar om att resa utomlands för att strida.",
    "Min dotter har slutat träffa sina gamla kompisar och ser propaganda hela dagarna.",
    "Jag är lärare och en elev delar våldsbejakande material i klassen.",
    "Hur kan jag få stöd som förälder?",
    "I am worried about my brother, he talks about joining a group abroad.",
    "Han säger att våld är det enda som hjälper.",
    "Kan jag vara anonym när jag skriver till er?",
]


def _body(rng: random.Random) -> str:
    return "\n".join(rng.choice(SENTENCES) for _ in range(rng.randint(2, 8)))


def make_corpus(n: int, seed: int = 7) -> list[bytes]:
    rng = random.Random(seed)
    out: list[bytes] = []
    for i in range(n):
        kind = i % 7
        body = _body(rng)
        msg = EmailMessage()
        msg["Received"] = f"from [10.0.{i % 250}.1] by mx.example.se"
        msg["From"] = f"Person {i} <person{i}@example.se>"
        msg["To"] = "helpline@stodlinjen.example.se"
        msg["Subject"] = f"Oro nummer {i}"
        msg["Message-ID"] = f"<bench-{i}@example.se>"
        msg["Date"] = "Mon, 3 Jun 2024 10:14:51 +0200"
        if kind == 0:
            msg.set_content(body + "\n\n-- \nPerson\n070-000 00 00\n")
        elif kind == 1:
            msg.set_content(body + "\n\nDen 3 juni 2024 kl 09:02 skrev Stödlinjen <h@s.se>:\n> " + _body(rng))
            msg.add_alternative(
                "<div>" + body.replace("\n", "<br>") + "</div><blockquote>gammalt</blockquote>", "html"
            )
        elif kind == 2:
            html = (
                "<html><head><style>p{margin:0}</style><script>x()</script></head><body>"
                + "".join(f"<p>{line}</p>" for line in body.split("\n"))
                + "<hr><div><b>Från:</b> Stödlinjen<br><b>Skickat:</b> igår<br></div><p>gammalt</p></body></html>"
            )
            msg.set_content(html, subtype="html")
        elif kind == 3:
            raw_headers = "".join(f"{k}: {v}\r\n" for k, v in msg.items())
            raw = (
                raw_headers.encode("ascii")
                + b"Content-Type: text/plain\r\n\r\n"
                + body.replace("\n", "\r\n").encode("cp1252", errors="replace")
            )
            out.append(raw)
            continue
        elif kind == 4:
            msg.set_content(body, cte="base64")
            msg.add_attachment(
                base64.b64decode(base64.b64encode(rng.randbytes(4000))),
                maintype="application",
                subtype="pdf",
                filename="logg.pdf",
            )
        elif kind == 5:
            msg.set_content(body, charset="iso-8859-1", cte="quoted-printable")
        else:
            msg["Auto-Submitted"] = "auto-replied"
            msg.set_content("Jag är på semester.\n")
        out.append(msg.as_bytes())
    return out


def load_triager() -> tuple[Any | None, str]:
    try:
        from nlu.triage import build_triager
    except Exception as exc:  # the NLU package may not be there yet
        return None, f"parse only: nlu.triage.build_triager not importable ({type(exc).__name__})"
    try:
        return build_triager(), "parse + envelope + triage (embedded)"
    except Exception as exc:
        return None, f"parse only: build_triager() failed ({type(exc).__name__})"


async def run(corpus: list[bytes], triager: Any | None) -> float:
    adapter = EmailAdapter(
        {
            "imap_host": "127.0.0.1",
            "imap_user": "bench",
            "imap_password": "bench",
            "smtp_host": "127.0.0.1",
            "from_address": "helpline@stodlinjen.example.se",
        },
        pseudonym_key=b"bench-key",
    )
    started = time.perf_counter()
    for raw in corpus:
        parsed = parse_mail(raw)
        envelope, _address = adapter.envelope_for(parsed)
        if triager is not None:
            await triager.parse(envelope.text, envelope.meta.get("language_hint"))
    return time.perf_counter() - started


async def _triage_only(texts: list[str], triager: Any) -> float:
    started = time.perf_counter()
    for text in texts:
        await triager.parse(text, None)
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mails", type=int, default=2000)
    ap.add_argument("--no-triage", action="store_true", help="measure parsing only")
    args = ap.parse_args()

    corpus = make_corpus(args.mails)
    size = sum(len(m) for m in corpus)
    print(f"corpus: {len(corpus)} mails, {size / len(corpus):.0f} bytes on average")
    parse_s = asyncio.run(run(corpus, None))
    print(
        f"parse + envelope: {len(corpus) / parse_s:.0f} mails/s ({parse_s * 1000 / len(corpus):.2f} ms per mail)"
    )
    if args.no_triage:
        return
    started = time.perf_counter()
    triager, what = load_triager()
    if triager is None:
        print(what)
        return
    print(f"triager ready in {time.perf_counter() - started:.1f} s")
    asyncio.run(run(corpus[:50], triager))  # warm-up
    total_s = asyncio.run(run(corpus, triager))
    print(f"{what}: {len(corpus) / total_s:.0f} mails/s ({total_s * 1000 / len(corpus):.2f} ms per mail)")
    texts = [parse_mail(raw).text for raw in corpus]
    triage_s = asyncio.run(_triage_only(texts, triager))
    print(f"  of which triage alone: {triage_s * 1000 / len(texts):.2f} ms per mail")
    print("aim: >= 200 mails/s")


if __name__ == "__main__":
    main()
