"""The directory of recipients: municipalities, Kunskapshus, national and civil-society recipients.

The data ships in ``handoff/data/`` (``municipalities.csv``, ``kunskapshus.yml``,
``recipients.yml``) and may be edited by admins: :func:`load_directory` and
:func:`dump_directory` are symmetrical, so an edited copy can be saved and loaded again.
Every problem in the data is reported as a :class:`DirectoryError` naming the file, the entry and
the key.

Each municipality's social services are generated from ``municipal_template`` in
``recipients.yml`` (id ``socialtjanst-<SCB code>``); an explicit entry with that id replaces the
generated one.

A recipient in ``recipients.yml`` may serve an area of its own (``serves``: whole counties and/or
single municipalities, as a Kunskapshus does): a municipal or regional unit, or a local
civil-society organisation.  Routing proposes it, among the local recipients, only to people in
that area (:meth:`Directory.local_recipients`); a recipient without an area serves the whole
country, except municipal ones, which are only ever the social services of their municipality.

A recipient may be *inactive* (``active: false``): it stays in the directory (earlier referrals,
the portal and the admin page still find it with :meth:`Directory.entry`), but it is neither
proposed nor accepted for new handoffs (:meth:`Directory.recipient` does not return it).

The running gateway layers three sources: the shipped data, the deployment's
``handoff.recipient_methods`` (:func:`parse_recipient_methods`) and the admins' edits kept in the
database (:func:`apply_overrides`; see :mod:`handoff.directory.service`).
"""

from __future__ import annotations

import csv
import functools
import io
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from handoff.directory.catalog import Directory
from handoff.directory.entries import (
    DATA_DIR,
    KUNSKAPSHUS_FILE,
    MUNICIPALITIES_FILE,
    MUNICIPALITY_CSV_HEADER,
    RECIPIENTS_FILE,
    SOCIAL_SERVICES_PREFIX,
    Kunskapshus,
    Municipality,
    Recipient,
    normalize_name,
)
from handoff.directory.parsing import _check_area, _err, _recipient, _str, _str_list


def parse_municipalities(text: str, source: str = MUNICIPALITIES_FILE) -> dict[str, Municipality]:
    reader = csv.reader(io.StringIO(text))
    rows = list(reader)
    if not rows or tuple(h.strip() for h in rows[0]) != MUNICIPALITY_CSV_HEADER:
        raise _err(f"{source} header", f"must be {','.join(MUNICIPALITY_CSV_HEADER)}")
    found: dict[str, Municipality] = {}
    county_names: dict[str, str] = {}
    names: dict[str, str] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        where = f"{source} line {line}"
        if len(row) != 4:
            raise _err(where, f"needs 4 columns, has {len(row)}")
        code, name, county_code, county_name = (cell.strip() for cell in row)
        where = f"{where} ({code} {name})"
        if not re.fullmatch(r"\d{4}", code):
            raise _err(f"{where}.code", f"{code!r} is not a 4-digit SCB municipality code")
        if not re.fullmatch(r"\d{2}", county_code):
            raise _err(f"{where}.county_code", f"{county_code!r} is not a 2-digit SCB county code")
        if code[:2] != county_code:
            raise _err(f"{where}.county_code", f"{county_code!r} does not match the code's first two digits")
        if not name or not county_name:
            raise _err(where, "name and county name must not be empty")
        if code in found:
            raise _err(f"{where}.code", f"{code} appears twice")
        if normalize_name(name) in names:
            raise _err(f"{where}.name", f"{name!r} is also the name of {names[normalize_name(name)]}")
        if county_names.setdefault(county_code, county_name) != county_name:
            raise _err(
                f"{where}.county_name",
                f"{county_name!r} differs from {county_names[county_code]!r} for county {county_code}",
            )
        names[normalize_name(name)] = code
        found[code] = Municipality(code, name, county_code, county_name)
    if not found:
        raise _err(source, "has no municipalities")
    return dict(sorted(found.items()))


def _social_services(template: Mapping[str, Any], m: Municipality) -> Recipient:
    def fill(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace("{code}", m.code).replace("{name}", m.name)
        if isinstance(value, list):
            return [fill(v) for v in value]
        if isinstance(value, Mapping):
            return {k: fill(v) for k, v in value.items()}
        return value

    filled = fill(dict(template))
    recipient = _recipient(filled, f"{RECIPIENTS_FILE}: municipal_template")
    return Recipient(
        **{f: getattr(recipient, f) for f in Recipient.__dataclass_fields__ if f != "municipality_code"},
        municipality_code=m.code,
    )


def build_directory(
    municipalities: dict[str, Municipality], kunskapshus_data: Any, recipients_data: Any
) -> Directory:
    """Validate parsed data and build the directory (used by :func:`load_directory`)."""
    if not isinstance(recipients_data, Mapping):
        raise _err(RECIPIENTS_FILE, "must be a mapping with 'recipients' and 'municipal_template'")
    raw_recipients = recipients_data.get("recipients")
    if not isinstance(raw_recipients, list):
        raise _err(f"{RECIPIENTS_FILE}: recipients", "must be a list")
    template = recipients_data.get("municipal_template")
    if not isinstance(template, Mapping):
        raise _err(f"{RECIPIENTS_FILE}: municipal_template", "is missing or not a mapping")
    if "{code}" not in str(template.get("id", "")):
        raise _err(f"{RECIPIENTS_FILE}: municipal_template.id", "must contain '{code}'")
    if "serves" in template:
        raise _err(
            f"{RECIPIENTS_FILE}: municipal_template.serves",
            "a municipality's social services serve their own municipality",
        )
    unknown = set(recipients_data) - {"recipients", "municipal_template"}
    if unknown:
        raise _err(RECIPIENTS_FILE, f"unknown keys {sorted(unknown)}")

    recipients: dict[str, Recipient] = {}
    for i, raw in enumerate(raw_recipients):
        r = _recipient(raw, f"{RECIPIENTS_FILE}: recipients[{i}]")
        if r.id in recipients:
            raise _err(f"{RECIPIENTS_FILE}: recipients[{i}] ({r.id}).id", "appears twice")
        if r.id.startswith(SOCIAL_SERVICES_PREFIX):
            code = r.id.removeprefix(SOCIAL_SERVICES_PREFIX)
            if code not in municipalities:
                raise _err(f"{RECIPIENTS_FILE}: recipients[{i}] ({r.id}).id", f"no municipality {code!r}")
            r = Recipient(
                **{f: getattr(r, f) for f in Recipient.__dataclass_fields__ if f != "municipality_code"},
                municipality_code=code,
            )
        if r.has_area:
            if r.municipality_code is not None:
                raise _err(
                    f"{RECIPIENTS_FILE}: recipients[{i}] ({r.id}).serves",
                    "a municipality's social services serve their own municipality",
                )
            _check_area(
                r.serves_counties,
                r.serves_municipalities,
                municipalities,
                f"{RECIPIENTS_FILE}: recipients[{i}] ({r.id}).serves",
            )
        recipients[r.id] = r

    social: dict[str, Recipient] = {}
    for m in municipalities.values():
        override = recipients.get(f"{SOCIAL_SERVICES_PREFIX}{m.code}")
        social[m.code] = override if override is not None else _social_services(template, m)

    if not isinstance(kunskapshus_data, Mapping) or not isinstance(kunskapshus_data.get("kunskapshus"), list):
        raise _err(f"{KUNSKAPSHUS_FILE}: kunskapshus", "must be a list")
    counties = {m.county_code for m in municipalities.values()}
    houses: list[Kunskapshus] = []
    served: dict[str, str] = {}
    for i, raw in enumerate(kunskapshus_data["kunskapshus"]):
        where = f"{KUNSKAPSHUS_FILE}: kunskapshus[{i}]"
        if not isinstance(raw, Mapping):
            raise _err(where, "must be a mapping")
        body = {k: v for k, v in raw.items() if k not in ("host", "serves")}
        recipient = _recipient(body, where)
        where = f"{where} ({recipient.id})"
        if recipient.id in recipients or any(k.id == recipient.id for k in houses):
            raise _err(f"{where}.id", "is already the id of another recipient")
        host = _str(raw, "host", where)
        if host not in municipalities:
            raise _err(f"{where}.host", f"no municipality with code {host!r}")
        serves = raw.get("serves")
        if not isinstance(serves, Mapping):
            raise _err(f"{where}.serves", "must have 'counties' and/or 'municipalities'")
        s_counties = _str_list({"counties": serves.get("counties", [])}, "counties", f"{where}.serves")
        s_munis = _str_list(
            {"municipalities": serves.get("municipalities", [])}, "municipalities", f"{where}.serves"
        )
        for c in s_counties:
            if c not in counties:
                raise _err(f"{where}.serves.counties", f"no county with code {c!r}")
        for c in s_munis:
            if c not in municipalities:
                raise _err(f"{where}.serves.municipalities", f"no municipality with code {c!r}")
        house = Kunskapshus(recipient, host, s_counties, s_munis)
        area = [m for m in municipalities.values() if house.serves(m)]
        if not area:
            raise _err(f"{where}.serves", "serves no municipality")
        for m in area:
            if m.code in served:
                raise _err(f"{where}.serves", f"{m.code} {m.name} is already served by {served[m.code]}")
            served[m.code] = recipient.id
        houses.append(house)

    return Directory(
        municipalities=municipalities,
        recipients=recipients,
        kunskapshus=tuple(houses),
        municipal_template=dict(template),
        social_services_by_code=social,
    )


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _err(path.name, f"file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise _err(path.name, f"is not valid YAML: {exc}") from None


def load_directory(path: str | Path | None = None) -> Directory:
    """Load and validate the directory from a folder holding the three data files."""
    folder = Path(path) if path is not None else DATA_DIR
    csv_path = folder / MUNICIPALITIES_FILE
    try:
        csv_text = csv_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _err(MUNICIPALITIES_FILE, f"file not found: {csv_path}") from None
    municipalities = parse_municipalities(csv_text)
    return build_directory(
        municipalities, _read_yaml(folder / KUNSKAPSHUS_FILE), _read_yaml(folder / RECIPIENTS_FILE)
    )


def dump_directory(directory: Directory, path: str | Path) -> None:
    """Write the directory as the three data files into a folder; :func:`load_directory` reads them back."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MUNICIPALITIES_FILE).write_text(directory.municipalities_csv(), encoding="utf-8")
    for name, data in (
        (KUNSKAPSHUS_FILE, directory.kunskapshus_data()),
        (RECIPIENTS_FILE, directory.recipients_data()),
    ):
        text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=110)
        (folder / name).write_text(text, encoding="utf-8")


# --------------------------------------------------------------------------------------------
# layers over the shipped data: the deployment's methods and the admins' edits


@functools.lru_cache(maxsize=1)
def default_directory() -> Directory:
    """The directory shipped with the project (loaded once)."""
    return load_directory()
