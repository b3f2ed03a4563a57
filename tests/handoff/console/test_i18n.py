"""The console's words come from the ``console`` catalogue: ``t`` and ``_("id")`` in templates,
the JSON block of the page's script, intent and language names."""

from __future__ import annotations

import json

from gateway import catalogues
from handoff.console.i18n import client_strings, gettext, language_name, pick_language, strings
from handoff.console.views import ConsoleState


def test_a_template_gets_the_page_language_through_gettext() -> None:
    template = ConsoleState().templates.from_string(
        '<h1>{{ _("app_title") }}</h1><p>{{ t.login_button }}</p>'
    )
    for lang in ("sv", "en"):
        html = template.render(gettext=gettext(lang), t=strings(lang))
        assert catalogues.text("console", lang, "app_title") in html
        assert catalogues.text("console", lang, "login_button") in html
    assert catalogues.text("console", "sv", "app_title") != catalogues.text("console", "en", "app_title")


def test_the_scripts_catalogue_is_json_with_intents_and_language_names() -> None:
    client = json.loads(json.dumps(client_strings("en")))
    assert client["lang"] == "en"
    assert client["t"]["app_title"] == catalogues.text("console", "en", "app_title")
    assert client["intents"]["urgent_threat"] == "Urgent threat"
    assert client["languages"]["so"] == "Somali"


def test_language_names_and_an_unshipped_console_language_is_swedish() -> None:
    assert language_name("ar", "sv") == "arabiska"
    assert language_name(None, "en") == "unknown language"
    assert language_name("xx", "en") == "xx"
    assert pick_language("de", None) == "sv"
    assert pick_language("fr", "en") == "en"
    assert strings("de")["app_title"] == catalogues.text("console", "sv", "app_title")
