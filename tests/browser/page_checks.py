"""What every console page must pass, whatever it shows (issue 17, items 1, 3 and 4): it never
scrolls sideways at 1280 px and 1440 px, axe-core finds no WCAG 2.1 A/AA violation in it, and it is
photographed at 1280 px and 360 px into ``test-artefacts/screenshots/`` (kept by CI, gitignored).

axe-core comes from the npm registry: ``scripts/test.sh`` installs it under ``.cache/node`` (or
``HELPLINE_AXE`` names an ``axe.min.js``).  A missing axe fails the check, never skips it.  axe is
injected with the page's Content Security Policy bypassed through the DevTools protocol
(``Page.setBypassCSP``), in the test only: the console's CSP forbids inline and foreign scripts.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from playwright.async_api import BrowserContext, Page

from tests.browser.sv_catalogue import foreign_parts

ROOT = Path(__file__).resolve().parents[2]
AXE = Path(os.environ.get("HELPLINE_AXE") or ROOT / ".cache/node/node_modules/axe-core/axe.min.js")
SCREENSHOTS = ROOT / "test-artefacts" / "screenshots"
WIDE = (1280, 1440, 360)
"""Widths at which no page may scroll sideways (360 px: a phone, where the panes stack)."""
SHOTS = (1280, 360)
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

AXE_RUN = """async (tags) => {
  const r = await axe.run(document, { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] });
  return r.violations.map(v => v.id + " (" + v.impact + "): " + v.nodes.slice(0, 5).map(n => n.target.join(" ")).join(" | "));
}"""

WIDTHS = """() => [document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth,
  Array.from(document.querySelectorAll("body *")).filter(e => e.getBoundingClientRect().right > document.scrollingElement.clientWidth + 1)
    .slice(-3).map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className && typeof e.className === "string" ? "." + e.className.split(" ").join(".") : ""))]"""


def axe_source() -> str:
    assert AXE.is_file(), (
        f"axe-core is not installed at {AXE}: run `npm install --prefix .cache/node axe-core@4` "
        "(scripts/test.sh does) or set HELPLINE_AXE"
    )
    return AXE.read_text(encoding="utf-8")


async def bypass_csp(ctx: BrowserContext, page: Page) -> None:
    """Let the test inject axe into this page (its CSP stays in force for everything else)."""
    cdp = await ctx.new_cdp_session(page)
    await cdp.send("Page.setBypassCSP", {"enabled": True})


class Checks:
    """Collects every page's problems so that one run reports them all."""

    def __init__(self, data: Iterable[str] = ()) -> None:
        self.data = list(data)
        self.problems: list[str] = []
        self.seen: list[str] = []
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    async def page(self, page: Page, name: str, *, shots: bool = True) -> None:
        self.seen.append(name)
        errors = list(getattr(page, "js_errors", []))
        self.problems.extend(f"{name}: script error: {e}" for e in errors)
        getattr(page, "js_errors", []).clear()  # each error reported once
        size = page.viewport_size or {"width": 1280, "height": 900}
        for width in WIDE:
            await page.set_viewport_size({"width": width, "height": size["height"]})
            await page.wait_for_timeout(50)
            scroll, client, culprits = await page.evaluate(WIDTHS)
            if scroll > client:
                self.problems.append(
                    f"{name} @ {width} px scrolls sideways ({scroll} > {client}): {culprits}"
                )
        await page.set_viewport_size({"width": 1280, "height": size["height"]})
        if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
            await page.add_script_tag(content=axe_source())
        violations: list[Any] = await page.evaluate(AXE_RUN, WCAG)
        self.problems.extend(f"{name}: {v}" for v in violations)
        if await page.evaluate("() => document.documentElement.lang") == "sv":
            texts: list[str] = await page.evaluate(TEXTS)
            foreign = sorted(set(foreign_parts(texts, self.data)))
            self.problems.extend(f"{name}: not from the Swedish catalogue: {t!r}" for t in foreign)
        if shots:
            for width in SHOTS:
                await page.set_viewport_size({"width": width, "height": size["height"]})
                await page.wait_for_timeout(50)
                file = SCREENSHOTS / f"{re.sub(r'[^a-z0-9-]+', '-', name.lower())}-{width}.png"
                await page.screenshot(path=str(file), full_page=True, timeout=60000)
        await page.set_viewport_size({"width": size["width"], "height": size["height"]})

    def assert_clean(self) -> None:
        assert not self.problems, "\n".join(self.problems)


# ---------------------------------------------------------------------- no English in the Swedish console
TEXTS = """() => {
  const out = [];
  // Text in another language (lang="en") and data marked translate="no" (a person's words, a
  // training example, a browser's name, a stored record) are not the page's words.
  const foreign = (node) => { const l = node.closest("[lang]"); return (l && !l.lang.startsWith("sv")) || !!node.closest('[translate="no"]'); };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const p = n.parentElement;
    if (!p || !n.textContent.trim() || p.closest("script, style, template, textarea, noscript")) continue;
    if (p.closest("select") ? !p.closest("select").checkVisibility() : !p.checkVisibility()) continue;
    if (foreign(p)) continue;
    out.push(n.textContent);
  }
  for (const e of document.querySelectorAll("[aria-label], [placeholder], [title], img[alt], input[type=submit], input[type=button]")) {
    if (!e.checkVisibility() || foreign(e)) continue;
    for (const a of ["aria-label", "placeholder", "title", "alt"]) if (e.getAttribute(a)) out.push(e.getAttribute(a));
    if (e.type === "submit" || e.type === "button") out.push(e.value);
  }
  return out;
}"""
