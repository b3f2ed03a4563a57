"""What the reports count: the conversations of a period (:class:`Row`, :func:`load_rows`), the area
of a local situational picture (:class:`Area`, :func:`resolve_area`) and the reports' constants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import catalogues
from gateway.store.models import Conversation
from handoff.directory.catalog import Directory
from handoff.directory.loading import default_directory
from handoff.phone.models import PhoneCall
from handoff.records.models import DocumentationRecord
from handoff.records.reports.strings import REPORT_LANGUAGES, Label, _l

THRESHOLD = 5
TIME_ZONE = "Europe/Stockholm"
STOCKHOLM = ZoneInfo(TIME_ZONE)
PRIMARY = "<5"
SECONDARY = ".."
TEMPLATES = Path(__file__).parent / "report_templates"
FORMATS = ("json", "csv", "html")


# ------------------------------------------------------------------------------------------ data


@dataclass(frozen=True, slots=True)
class Row:
    """One conversation as the reports see it (no text, no pseudonym)."""

    channel: str
    priority: int
    intent: str | None
    created_at: datetime
    queued_at: datetime | None
    first_assigned_at: datetime | None
    closed_at: datetime | None
    assigned_to: int | None
    documented: bool
    contact_type: str | None = None
    environment: str | None = None
    age_group: str | None = None
    gender: str | None = None
    municipality_code: str | None = None
    county_code: str | None = None
    outcome: str | None = None
    referral_made: bool | None = None
    crime_info_passed: bool | None = None
    language: str = "und"
    call_outcome: str | None = None
    """A phone call's outcome (handoff.phone): answered, missed, abandoned, callback; None for
    another channel or a call still going on."""
    call_seconds: int | None = None
    """An answered call's length."""
    call_answer_seconds: float | None = None
    """From ringing to answer (calls the phone system reported)."""

    @property
    def wait_minutes(self) -> float | None:
        if self.queued_at is None or self.first_assigned_at is None:
            return None
        return max(0.0, (self.first_assigned_at - self.queued_at).total_seconds() / 60)


@dataclass(frozen=True, slots=True)
class Area:
    """The area of a local situational picture."""

    id: str
    kind: str  # municipality | kunskapshus | county
    name: Label
    codes: frozenset[str]


def _area_name(name: str) -> dict[str, str]:
    """A municipality's area name in the report's languages ("Lunds kommun" is the catalogue's)."""
    return {
        lang: catalogues.text("console", lang, "report.area.municipality", name=name)
        for lang in REPORT_LANGUAGES
    }


def resolve_area(code: str, directory: Directory | None = None) -> Area | None:
    """A municipality (SCB code), a Kunskapshus (its id, or ``KH`` + its host's code as in
    ``handoff.referrals.service.user_units``) or a county (two digits)."""
    d = directory if directory is not None else default_directory()
    code = code.strip()
    m = d.municipality(code) if len(code) == 4 else None
    if m is not None:
        return Area(m.code, "municipality", _area_name(m.name), frozenset({m.code}))
    for k in d.kunskapshus:
        if code in (k.id, f"KH{k.host}"):
            served = frozenset(x.code for x in d.served_by(k.id))
            return Area(k.id, "kunskapshus", _l(k.recipient.name_sv, k.recipient.name_en), served)
    if len(code) == 2:
        munis = d.municipalities_in_county(code)
        if munis:
            name = munis[0].county_name
            return Area(code, "county", _l(name, name), frozenset(x.code for x in munis))
    return None


async def load_rows(
    session: AsyncSession, start: datetime | None, end: datetime | None, area: Area | None = None
) -> list[Row]:
    stmt = select(
        Conversation.channel,
        Conversation.priority,
        Conversation.intent,
        Conversation.created_at,
        Conversation.queued_at,
        Conversation.first_assigned_at,
        Conversation.closed_at,
        Conversation.assigned_to,
        DocumentationRecord.conversation_id,
        DocumentationRecord.contact_type,
        DocumentationRecord.environment,
        DocumentationRecord.age_group,
        DocumentationRecord.gender,
        DocumentationRecord.municipality_code,
        DocumentationRecord.county_code,
        DocumentationRecord.outcome,
        DocumentationRecord.referral_made,
        DocumentationRecord.crime_info_passed,
        Conversation.language,
        PhoneCall.outcome,
        PhoneCall.duration_seconds,
        PhoneCall.ringing_at,
        PhoneCall.answered_at,
        PhoneCall.manual,
    )
    stmt = stmt.outerjoin(DocumentationRecord, DocumentationRecord.conversation_id == Conversation.id)
    stmt = stmt.outerjoin(PhoneCall, PhoneCall.conversation_id == Conversation.id)
    if start is not None:
        stmt = stmt.where(Conversation.created_at >= start)
    if end is not None:
        stmt = stmt.where(Conversation.created_at < end)
    if area is not None:
        stmt = stmt.where(DocumentationRecord.municipality_code.in_(sorted(area.codes)))
    rows: list[Row] = []
    for r in (await session.execute(stmt)).all():
        documented = r[8] is not None
        rows.append(
            Row(
                channel=r[0],
                priority=int(r[1] or 0),
                intent=r[2],
                created_at=r[3],
                queued_at=r[4],
                first_assigned_at=r[5],
                closed_at=r[6],
                assigned_to=r[7],
                documented=documented,
                contact_type=r[9],
                environment=r[10],
                age_group=r[11],
                gender=r[12],
                municipality_code=r[13],
                county_code=r[14],
                outcome=r[15],
                referral_made=r[16] if documented else None,
                crime_info_passed=r[17] if documented else None,
                language=r[18] or "und",
                call_outcome=r[19],
                call_seconds=r[20],
                call_answer_seconds=(
                    max(0.0, (r[22] - r[21]).total_seconds()) if r[21] and r[22] and not r[23] else None
                ),
            )
        )
    return rows
