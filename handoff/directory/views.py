"""What the directory admin's page shows of an entry (plain data from the live directory)."""

from __future__ import annotations

from typing import Any

from handoff.directory.checks import (
    REQUIRED_RECIPIENTS,
)
from handoff.directory.entries import (
    Recipient,
)
from handoff.directory.service import (
    DirectoryService,
    Refused,
)


def summary(service: DirectoryService, r: Recipient) -> dict[str, Any]:
    d = service.directory
    section = service.section(r.id)
    m = d.municipality(r.municipality_code) if r.municipality_code else None
    house = d.kunskapshus_by_id(r.id)
    return {
        "id": r.id,
        "name": {"sv": r.name_sv, "en": r.name_en},
        "kind": r.kind,
        "section": section,
        "active": r.active,
        "topics": list(r.topics),
        "methods": [x.method for x in r.handoff if x.configured],
        "phone": r.phone,
        "municipality": {"code": m.code, "name": m.name, "county": m.county_name} if m else None,
        "area_size": len(d.served_by(house.id)) if house else (len(d.area_of(r)) if r.has_area else None),
        "edited": bool(service.overrides.get(r.id) and service.overrides[r.id].data),
        "added": service.shipped(r.id) is None,
    }


def detail(service: DirectoryService, rid: str) -> dict[str, Any]:
    d = service.directory
    r = d.entry(rid)
    if r is None:
        raise Refused(404, "not_found")
    data = summary(service, r)
    methods = {m.method: m for m in r.handoff}
    house = d.kunskapshus_by_id(rid)
    data.update(
        {
            "name_sv": r.name_sv,
            "name_en": r.name_en,
            "target_groups": list(r.target_groups),
            "languages": list(r.languages),
            "opening_hours": r.opening_hours.spec,
            "emergency_phone": r.emergency_phone,
            "website": r.website,
            "form_methods": {
                "portal": "portal" in methods and service.section(rid) != "recipient",
                "email": methods["email"].address if "email" in methods else "",
                "webhook": methods["webhook"].url if "webhook" in methods else "",
            },
            "portal_available": service.section(rid) != "recipient",
            "methods_from_configuration": rid in service.methods,
            "webhook_secret": bool(service.webhook_secrets.get(rid)),
            "required": rid in REQUIRED_RECIPIENTS,
            "revision": service.revision(rid),
            "serves": (
                {
                    "counties": list(house.serves_counties),
                    "municipalities": list(house.serves_municipalities),
                    "host": house.host,
                    "area": [{"code": m.code, "name": m.name} for m in d.served_by(house.id)],
                }
                if house
                else {
                    **r.area_data(),
                    "host": None,
                    "area": [{"code": m.code, "name": m.name} for m in d.area_of(r)],
                }
                if r.has_area
                else None
            ),
            # Where the area is edited: a Kunskapshus's with its own form (``/area``), another
            # recipient's with the entry (``serves``); a municipality's social services have none.
            "area_editable": ("own" if house else "entry" if service.section(rid) == "recipient" else None),
        }
    )
    return data


def current_entry(service: DirectoryService, rid: str) -> dict[str, Any]:
    current = service.full_data(rid)
    if current is None:
        raise Refused(404, "not_found")
    return current


__all__ = ["detail", "summary"]
