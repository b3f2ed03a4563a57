"""The directory admin's body schemas (:mod:`handoff.directory.schemas`): a value of the wrong type is
refused before the handler runs, with the field names and codes the checks gave before and the
admin page has words for (``dir_err_<code>``); a form that fits reaches the checks unchanged."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.errors import InvalidInput
from handoff.directory.schemas import ActiveBody, AreaBody, NewRecipientBody, RecipientBody, Revision
from handoff.web import Body
from handoff.web.validation import validate


def refused(model: type[Body], data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(InvalidInput) as caught:
        validate(model, data)
    assert caught.value.args[0] == "invalid_input"
    return dict(caught.value.fields or {})


@pytest.mark.parametrize(
    ("model", "data", "fields"),
    [
        (RecipientBody, {"topics": "crime"}, {"topics": "invalid"}),
        (RecipientBody, {"topics": ["crime", 3]}, {"topics": "invalid"}),
        (RecipientBody, {"name_sv": 5}, {"name_sv": "invalid"}),
        (RecipientBody, {"kind": ["state"]}, {"kind": "unknown_kind"}),
        (RecipientBody, {"languages": 5}, {"languages": "invalid"}),
        (RecipientBody, {"active": "no"}, {"active": "invalid"}),
        (RecipientBody, {"methods": "email"}, {"methods": "invalid"}),
        (RecipientBody, {"methods": {"portal": "yes"}}, {"portal": "invalid"}),
        (RecipientBody, {"methods": {"email": 1, "webhook": []}}, {"email": "invalid", "webhook": "invalid"}),
        (RecipientBody, {"serves": ["01"]}, {"area": "invalid"}),
        (RecipientBody, {"serves": {"counties": "01"}}, {"counties": "invalid"}),
        (RecipientBody, {"revision": -1}, {"revision": "invalid"}),
        (RecipientBody, {"revision": True}, {"revision": "invalid"}),
        (RecipientBody, {"revision": "3"}, {"revision": "invalid"}),
        (NewRecipientBody, {"id": 7}, {"id": "invalid_id"}),
        (ActiveBody, {"revision": 0}, {"active": "invalid"}),
        (ActiveBody, {"active": "false"}, {"active": "invalid"}),
        (AreaBody, {"municipalities": "1480"}, {"municipalities": "invalid"}),
        (Revision, {"revision": 1.5}, {"revision": "invalid"}),
    ],
)
def test_a_value_of_the_wrong_type_gets_the_checks_code(
    model: type[Body], data: dict[str, Any], fields: dict[str, str]
) -> None:
    assert refused(model, data) == fields


def test_a_form_that_fits_reaches_the_checks_as_sent() -> None:
    form = {
        "name_sv": "Ny",
        "name_en": "New",
        "kind": "civil_society",
        "topics": ["exit"],
        "target_groups": ["adults"],
        "languages": "sv, en",
        "opening_hours": "mon-fri 09:00-17:00",
        "phone": "",
        "methods": {"email": "a@example.org"},
        "revision": 2,
        "unknown": "ignored",
    }
    checked = validate(RecipientBody, form)
    assert checked.form() == {k: v for k, v in form.items() if k != "unknown"}
    assert checked.revision == 2
    assert validate(RecipientBody, {}).form() == {}  # left out: as it was (the checks' defaults)
    assert validate(AreaBody, {"counties": ["01"]}).form() == {"counties": ["01"]}
    assert validate(Revision, {}).revision == 0
