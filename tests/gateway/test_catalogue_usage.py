"""Every catalogue id the code, templates and browser scripts use is in the catalogue."""

from __future__ import annotations

from pathlib import Path

from gateway import catalogues
from gateway.catalogue_usage import uses


def test_every_id_used_is_in_the_swedish_catalogue() -> None:
    found = uses()
    assert any(msgid == "telegram.welcome" for _, msgid, _ in found)  # the scan does find uses
    absent = [use for use in found if use[1] not in catalogues.own_strings(use[0], "sv")]
    assert not absent, f"ids used but not in the catalogue: {absent}"


def test_a_use_of_an_unknown_id_is_found(tmp_path: Path) -> None:
    root = tmp_path
    for tree in ("gateway", "bots", "handoff", "nlu"):
        (root / tree).mkdir()
    (root / "bots" / "x.py").write_text(
        'from gateway import catalogues\n\ncatalogues.text("person", "sv", "telegram.nothing")\nY = "xmpp.gone"\n'
    )
    static = root / "bots" / "webchat" / "static"
    static.mkdir(parents=True)
    (static / "chat.html").write_text(
        '<p data-i18n="nowhere">{{t:nowhere}}</p><script src="chat.js"></script>'
    )
    (static / "chat.js").write_text('t("missing_too", {n: 1}); t("who_" + kind);')
    (static / "widget.js").write_text("button.textContent = T.shut;")
    templates = root / "handoff" / "console" / "templates"
    templates.mkdir(parents=True)
    (templates / "page.html").write_text('<h1>{{ _("console_title") }}</h1>')
    found = {(domain, msgid) for domain, msgid, _ in uses(root)}
    assert found == {
        ("person", "telegram.nothing"),
        ("person", "xmpp.gone"),
        ("person", "chat.nowhere"),
        ("person", "chat.missing_too"),
        ("person", "widget.shut"),
        ("console", "console_title"),
    }
