"""Plain text out of a mail body: HTML turned into text (scripts and styles dropped), and the quoted
history and signature cut off, so that the counsellor reads first what the person wrote now."""

from __future__ import annotations

import re
from html.parser import HTMLParser

_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

# --------------------------------------------------------------------------------------------------
# HTML to text

_BLOCK_TAGS = frozenset(
    {
        "p", "div", "br", "tr", "table", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
        "pre", "section", "article", "header", "footer", "address", "dl", "dt", "dd", "center", "form",
    }
)  # fmt: skip
_SKIP_TAGS = frozenset(
    {"script", "style", "head", "title", "noscript", "template", "svg", "object", "iframe"}
)
_VOID_TAGS = frozenset({"br", "hr", "img", "meta", "link", "input", "wbr", "area", "base", "col", "source"})


class _HTMLToText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.skip_depth = 0
        self.quote_depth = 0
        self.pre_depth = 0

    def _flush(self) -> None:
        line = "".join(self.current)
        if not self.pre_depth:
            line = re.sub(r"[ \t\r\n\f\u00a0]+", " ", line).strip()
        prefix = "> " * self.quote_depth
        if line or (self.lines and self.lines[-1].strip("> ")):
            self.lines.append((prefix + line).rstrip() if line else prefix.rstrip())
        self.current = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            if tag not in _VOID_TAGS:
                self.skip_depth += 1
            return
        if self.skip_depth:
            return
        attr = dict(attrs)
        is_quote = tag == "blockquote" or (
            tag == "div"
            and any(
                c in (attr.get("class") or "") for c in ("gmail_quote", "moz-cite-prefix", "yahoo_quoted")
            )
        )
        if tag in _BLOCK_TAGS or tag == "blockquote":
            self._flush()
        if tag == "li":
            self.current.append("- ")
        if tag == "pre":
            self.pre_depth += 1
        if tag == "blockquote" or (
            is_quote and tag == "div" and "gmail_quote" not in (attr.get("class") or "")
        ):
            self.quote_depth += 1
        elif tag == "hr":
            self.lines.append("-" * 20)
        elif tag in ("td", "th"):
            self.current.append(" ")
        elif tag == "img" and attr.get("alt"):
            self.current.append(f"[{attr['alt']}]")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID_TAGS:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            if tag not in _VOID_TAGS and self.skip_depth:
                self.skip_depth -= 1
            return
        if self.skip_depth:
            return
        if tag in _BLOCK_TAGS or tag == "blockquote":
            self._flush()
        if tag == "pre" and self.pre_depth:
            self.pre_depth -= 1
        if tag == "blockquote" and self.quote_depth:
            self.quote_depth -= 1

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        if self.pre_depth and "\n" in data:
            pieces = data.split("\n")
            for piece in pieces[:-1]:
                self.current.append(piece)
                self._flush()
            self.current.append(pieces[-1])
        else:
            self.current.append(data)

    def text(self) -> str:
        self._flush()
        return "\n".join(self.lines)


def html_to_text(html: str) -> str:
    """Plain text of an HTML body: scripts, styles and head dropped, blocks on their own lines,
    blockquotes prefixed with "> " (so quoted history is recognised like in plain mail)."""
    parser = _HTMLToText()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # HTMLParser is lenient, but never let it break parsing
        return normalize_text(parser.text())
    return normalize_text(parser.text())


# --------------------------------------------------------------------------------------------------
# quoted history and signatures

_ORIGINAL_RE = re.compile(
    r"^\s*[-_=*]{2,}\s*(original message|ursprungligt meddelande|originalmeddelande|"
    r"forwarded message|vidarebefordrat meddelande|urspr[üu]ngliche nachricht|message d'origine)\s*[-_=*]{2,}\s*$",
    re.IGNORECASE,
)
_HEADER_FROM_RE = re.compile(r"^\s*\**\s*(from|från|fra|von|de)\s*:\**\s*\S", re.IGNORECASE)
_HEADER_NEXT_RE = re.compile(
    r"^\s*\**\s*(sent|skickat|date|datum|gesendet|sendt|envoyé|to|till|subject|ämne|cc|betreff)\s*:",
    re.IGNORECASE,
)
_ATTRIBUTION_START_RE = re.compile(
    r"^\s*(den|on|am|le|el|op|på|sön|mån|tis|ons|tors|fre|lör)\b", re.IGNORECASE
)
_ATTRIBUTION_RE = re.compile(
    r"\b(skrev|wrote|schrieb|a écrit|escribió|schreef|kirjoitti)\b.*:\s*$", re.IGNORECASE
)
_SIG_DEVICE_RE = re.compile(
    r"^\s*(skickat från|sent from|hämta outlook|get outlook|skickat via|sent via|sendt fra|von meinem)\b"
    r"[^\n]{0,60}$",
    re.IGNORECASE,
)
_SEPARATOR_RE = re.compile(r"^\s*[_\-=*]{8,}\s*$")


def _cut_index(lines: list[str]) -> int:
    """Index of the first line of quoted history or signature, or len(lines)."""
    n = len(lines)
    for i, line in enumerate(lines):
        stripped = line.strip()
        if line.rstrip("\r") in ("-- ", "--") and i > 0:
            return i
        if _ORIGINAL_RE.match(line):
            return i
        if _SIG_DEVICE_RE.match(line) and i > 0:
            return i
        if _HEADER_FROM_RE.match(line):
            following = [x for x in lines[i + 1 : i + 6] if x.strip()]
            if any(_HEADER_NEXT_RE.match(x) for x in following[:4]):
                return _back_over_separators(lines, i)
        if stripped and _ATTRIBUTION_START_RE.match(stripped):
            joined = stripped
            for j in range(i, min(i + 3, n)):
                if j > i:
                    joined += " " + lines[j].strip()
                if _ATTRIBUTION_RE.search(joined) and len(joined) < 400:
                    nxt = [x for x in lines[j + 1 : j + 3] if x.strip()]
                    if j + 1 >= n or not nxt or nxt[0].lstrip().startswith(">") or len(joined) < 250:
                        return i
                    break
        elif stripped and _ATTRIBUTION_RE.search(stripped) and len(stripped) < 200:
            nxt = [x for x in lines[i + 1 : i + 3] if x.strip()]
            if nxt and nxt[0].lstrip().startswith(">"):
                return i
    return n


def _back_over_separators(lines: list[str], i: int) -> int:
    while i > 0 and (not lines[i - 1].strip() or _SEPARATOR_RE.match(lines[i - 1])):
        i -= 1
    return i


def strip_quotes_and_signature(full_text: str) -> str:
    """What the counsellor sees first: the new text, without quoted history and signature.

    Falls back to the whole text when nothing would be left (a mail that is all quote)."""
    lines = full_text.split("\n")
    lines = lines[: _cut_index(lines)]
    kept = [line for line in lines if not line.lstrip().startswith(">")]
    text = normalize_text("\n".join(kept))
    return text if text else full_text


def normalize_text(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL_RE.sub("", text)
    lines = [line.rstrip() for line in text.split("\n")]
    out = "\n".join(lines)
    out = re.sub(r"\n{3,}", "\n\n", out)
    return out.strip("\n").strip()
