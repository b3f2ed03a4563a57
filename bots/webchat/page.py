"""The web chat's page ``/chat``, its static files and the embeddable ``/widget.js``: content,
headers (a strict Content-Security-Policy, no referrer, no caching of the page) and the origin check
of the websocket."""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from gateway import catalogues

RTL_LANGUAGES = ("ar", "fa")
"""Written right to left: the page gets ``dir="rtl"`` (Kurdish is shipped in Latin script, Kurmanji)."""
STATIC_DIR = Path(__file__).with_name("static")
STATIC_TYPES = {
    "chat.js": "application/javascript",
    "chat.css": "text/css",
}


def _csp_sources(values: list[str]) -> str:
    ok = [v for v in values if isinstance(v, str) and re.fullmatch(r"[A-Za-z0-9.:/*'_-]+", v)]
    return " ".join(ok) if ok else "'none'"


def _json_data(value: object) -> str:
    """JSON safe inside a ``<script>`` element or a script file (no ``<``, ``>``, ``&``)."""
    data = json.dumps(value, ensure_ascii=False)
    return data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class ChatPage:
    """The page and its files as the adapter's configuration makes them (read once, at start)."""

    def __init__(self, config: Mapping[str, Any], max_chars: int, default_exit_url: str) -> None:
        self.config = config
        self.max_chars = max_chars
        exit_url = str(self.config["quick_exit_url"])
        self.quick_exit_url = exit_url if re.match(r"^https?://", exit_url) else default_exit_url
        self.allowed_origins = {str(o).rstrip("/") for o in self.config["allowed_origins"]}
        self._static = {name: (STATIC_DIR / name).read_bytes() for name in (*STATIC_TYPES, "widget.js")}
        self._static["widget.js"] = self._static["widget.js"].replace(
            b"/*I18N*/{}/*I18N*/", _json_data(catalogues.browser_catalogue("person", "widget.")).encode()
        )
        self._template = (STATIC_DIR / "chat.html").read_text(encoding="utf-8")
        self._version = hashlib.sha256(b"".join(self._static.values())).hexdigest()[:12]

    def headers(self, request: web.Request, *, embed: bool) -> dict[str, str]:
        host = request.host if re.fullmatch(r"[A-Za-z0-9.:\[\]-]+", request.host or "") else ""
        connect = f"'self' ws://{host} wss://{host}" if host else "'self'"
        ancestors = _csp_sources(list(self.config["frame_ancestors"])) if embed else "'none'"
        headers = {
            "Content-Security-Policy": (
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
                f"connect-src {connect}; object-src 'none'; base-uri 'none'; form-action 'none'; "
                f"frame-ancestors {ancestors}"
            ),
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
            "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
        }
        if not embed:
            headers["X-Frame-Options"] = "DENY"
            headers["Cross-Origin-Opener-Policy"] = "same-origin"
        return headers

    def render_page(self, lang: str, embed: bool) -> str:
        strings = catalogues.section("person", lang, "chat.")
        title = str(self.config["title"]) or strings["title"]
        i18n = _json_data(catalogues.browser_catalogue("person", "chat."))
        options = "\n".join(
            f'      <option value="{code}"{" selected" if code == lang else ""} lang="{code}">'
            f"{html.escape(catalogues.text('person', code, 'language.name'))}</option>"
            for code in catalogues.languages("person")
        )
        values = {
            "lang": lang,
            "dir": "rtl" if lang in RTL_LANGUAGES else "ltr",
            "rtl_langs": " ".join(RTL_LANGUAGES),
            "title": title,
            "version": self._version,
            "embed_class": "hl-embed" if embed else "",
            "quick_exit_url": self.quick_exit_url,
            "max_chars": str(self.max_chars),
            "custom_title": "1" if self.config["title"] else "",
        }

        def fill(match: re.Match[str]) -> str:
            key = match.group(1)
            if key == "i18n":
                return i18n
            if key == "language_options":
                return options
            if key.startswith("t:"):
                return html.escape(strings[key[2:]])
            if key == "custom_title_attr":
                return "" if self.config["title"] else ' data-i18n="title"'
            return html.escape(values[key])

        return re.sub(r"\{\{([a-z_:0-9]+)\}\}", fill, self._template)

    async def page(self, request: web.Request) -> web.Response:
        lang = catalogues.pick("person", request.query.get("lang") or "sv")
        embed = request.query.get("embed") == "1"
        return web.Response(
            text=self.render_page(lang, embed),
            content_type="text/html",
            charset="utf-8",
            headers=self.headers(request, embed=embed),
        )

    async def static_file(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in STATIC_TYPES:
            raise web.HTTPNotFound()
        return web.Response(
            body=self._static[name],
            content_type=STATIC_TYPES[name],
            charset="utf-8",
            headers={
                "Cache-Control": "public, max-age=3600",
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
            },
        )

    async def widget(self, request: web.Request) -> web.Response:
        return web.Response(
            body=self._static["widget.js"],
            content_type="application/javascript",
            charset="utf-8",
            headers={
                "Cache-Control": "public, max-age=300",
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
                "Cross-Origin-Resource-Policy": "cross-origin",
            },
        )

    def origin_ok(self, request: web.Request) -> bool:
        if not self.allowed_origins:
            return True
        origin = request.headers.get("Origin")
        if origin is None:
            return True  # not a browser: nothing ambient to protect (no cookies)
        origin = origin.rstrip("/")
        if origin in self.allowed_origins:
            return True
        return origin in (f"http://{request.host}", f"https://{request.host}")
