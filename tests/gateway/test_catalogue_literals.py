"""No word a person or a member of staff reads is written into code, templates or browser scripts
instead of a catalogue (gateway/catalogue_literals.py)."""

from __future__ import annotations

from pathlib import Path

from gateway.catalogue_literals import findings


def test_no_word_is_written_into_code_instead_of_a_catalogue() -> None:
    found = findings()
    assert not found, "words written into code, not taken from a catalogue:\n" + "\n".join(
        f"{where}:{line}: {literal!r}" for where, line, literal in found
    )


def test_words_written_into_code_are_found(tmp_path: Path) -> None:
    root = tmp_path
    static = root / "handoff" / "console" / "static"
    static.mkdir(parents=True)
    (static / "page.js").write_text(
        "/* Kommentarer på svenska är tillåtna. */\n"
        "const WORDS = { sv: { save: \"Spara dokumentation\", gone: 'Borttagen' }, en: {} };\n"
        'if (state === "normal") show(t("rec_save"));  // "här" in a comment\n'
        "el.textContent = `Fönstret`;\n",
        encoding="utf-8",
    )
    (static / "sms.js").write_text('const BASIC = "ÅåÄÖ";\n', encoding="utf-8")  # allowed: an alphabet
    templates = root / "handoff" / "x" / "templates"
    templates.mkdir(parents=True)
    (templates / "page.html").write_text(
        '<style>/* här */</style>\n<h1>{{ _("title") }}</h1>\n{# ändra inte #}\n<p title="Stäng">x</p>\n',
        encoding="utf-8",
    )
    (root / "bots").mkdir()
    (root / "gateway").mkdir()
    (root / "bots" / "words.py").write_text(
        'HELP = {"sv": {"help": "Skriv STOPP"}, "en": {"help": "Write STOP"}}\n'
        'DATA = {"sv": row.name_sv, "en": row.name_en}\n'
        'LABEL = _l("Väntetid", "Waiting time")\n'
        "NAME = _l(name, name)\n",
        encoding="utf-8",
    )
    found = {(where, line) for where, line, _ in findings(root)}
    assert found == {
        ("handoff/console/static/page.js", 2),  # "Spara dokumentation" is the catalogue's Swedish
        ("handoff/console/static/page.js", 4),
        ("handoff/x/templates/page.html", 4),
        ("bots/words.py", 1),
        ("bots/words.py", 3),
    }
