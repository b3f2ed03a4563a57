"""The chat page and the widget take their words from the person catalogue: the language menu lists
every shipped language by its own name, the page's JSON block and the widget carry every language."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from bots.webchat.page import ChatPage
from gateway import catalogues

CONFIG = {"quick_exit_url": "https://example.org", "allowed_origins": [], "frame_ancestors": [], "title": ""}


def _page() -> ChatPage:
    return ChatPage(CONFIG, 4000, "https://example.org")


def test_the_page_speaks_the_chosen_language_and_lists_every_language_by_its_own_name() -> None:
    html = _page().render_page("en", embed=False)
    assert '<html lang="en" dir="ltr">' in html
    assert ">Quick exit</button>" in html
    options = re.findall(r'<option value="(\w+)"( selected)? lang="\w+">([^<]+)</option>', html)
    assert options[:1] == [("sv", "", "Svenska")] and ("en", " selected", "English") in options
    names = {code: name for code, _, name in options}
    assert set(names) == set(catalogues.languages("person"))
    assert (names["ar"], names["so"], names["ti"], names["ru"]) == ("العربية", "Soomaali", "ትግርኛ", "Русский")
    assert '<html lang="ar" dir="rtl">' in _page().render_page("ar", embed=False)
    block = re.search(r'<script type="application/json" id="hl-i18n">(.*?)</script>', html, re.S)
    assert block is not None
    data = json.loads(block.group(1))
    assert data["sv"]["status_queued"] == "Du väntar på en samtalsstödjare. Plats i kön: {n}"
    assert set(data) == set(catalogues.languages("person"))


def test_the_widget_carries_its_words_in_every_language() -> None:
    script = _page()._static["widget.js"].decode()
    assert "/*I18N*/" not in script
    found = re.search(r"var CATALOGUE = (\{.*?\});\n", script)
    assert found is not None
    assert json.loads(found.group(1)) == catalogues.browser_catalogue("person", "widget.")


def test_a_language_added_as_a_file_is_in_the_menu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "locale"
    shutil.copytree(catalogues.LOCALE_DIR, copy)
    po = copy / "fi" / "LC_MESSAGES" / "person.po"
    po.parent.mkdir(parents=True)
    po.write_text(
        (copy / "en" / "LC_MESSAGES" / "person.po")
        .read_text("utf-8")
        .replace('msgstr "English"', 'msgstr "Suomi"'),
        "utf-8",
    )
    monkeypatch.setattr(catalogues, "LOCALE_DIR", copy)
    catalogues.clear_cache()
    try:
        html = _page().render_page("fi", embed=False)
        assert '<option value="fi" selected lang="fi">Suomi</option>' in html
    finally:
        monkeypatch.undo()
        catalogues.clear_cache()
