"""``helpline i18n check | extract | compile``."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from gateway import catalogues
from gateway.cli import main


@pytest.fixture
def locale_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    copy = tmp_path / "locale"
    shutil.copytree(catalogues.LOCALE_DIR, copy)
    monkeypatch.setattr(catalogues, "LOCALE_DIR", copy)
    catalogues.clear_cache()
    yield copy
    monkeypatch.undo()
    catalogues.clear_cache()


def test_check_passes_on_the_shipped_catalogues(
    locale_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["i18n", "check"]) == 0
    assert "person sv/ar/bs/en/fa/ku/ru/so/ti/tr" in capsys.readouterr().out


def test_check_fails_on_a_lacking_id_and_other_placeholders(
    locale_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    en = locale_copy / "en" / "LC_MESSAGES" / "person.po"
    text = en.read_text(encoding="utf-8")
    text = text.replace('msgid "chat.send"', 'msgid "chat.sent_nothing"')
    text = text.replace("{n} characters left", "{count} characters left")
    en.write_text(text, encoding="utf-8")
    catalogues.clear_cache()
    assert main(["i18n", "check"]) == 1
    out = capsys.readouterr().out
    assert "person/en: lacks chat.send" in out
    assert "person/sv: lacks chat.sent_nothing" in out
    assert "chat.chars_left has placeholders ['count']" in out


def test_extract_writes_a_template_with_the_swedish_text_and_the_uses(locale_copy: Path) -> None:
    assert main(["i18n", "extract"]) == 0
    with (locale_copy / "person.pot").open("rb") as f:
        template = read_po(f)
    welcome = template["telegram.welcome"]
    assert welcome.string == ""
    assert any(path.endswith("bots/telegram/adapter.py") for path, _ in welcome.locations)
    assert welcome.auto_comments[0].startswith("sv: Hej och välkommen")


def test_compile_writes_mo_files_gettext_reads(locale_copy: Path) -> None:
    assert main(["i18n", "compile"]) == 0
    with (locale_copy / "en" / "LC_MESSAGES" / "person.mo").open("rb") as f:
        compiled = read_mo(f)
    assert compiled["chat.send"].string == "Send"
