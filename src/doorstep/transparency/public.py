"""Public participation: every agency that ever took part, its periods of taking part
(from its public status changes), agencies active per month, the map's GeoJSON.

A read model: it selects from the agencies' table directly (read-only, public columns
only) because the portal lists every agency that ever took part, filtered by state and
status and in bulk, which the agencies service does not offer; periods of taking part
come from the agencies' public status changes in the audit log. One agency is looked up
through the agencies service.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from shapely.geometry import shape
from sqlalchemy import select
from sqlalchemy.orm import Session

from doorstep.agencies import service as agency_service
from doorstep.agencies.models import Agency, AgencyStatus
from doorstep.audit import AuditAction, AuditRecord
from doorstep.errors import InvalidInput, NotFound
from doorstep.transparency.schemas import MonthCount, PublicAgency
from doorstep.views import view_of

# Statuses an agency that took part can have; "verified" is shown as "active".
PUBLIC_STATUSES = (AgencyStatus.verified, AgencyStatus.suspended, AgencyStatus.ended)
# Whether each status action starts (True) or stops (False) an agency's active period.
_STATUS_ACTIONS = {
    AuditAction.AGENCY_VERIFIED: True,
    AuditAction.AGENCY_REINSTATED: True,
    AuditAction.AGENCY_SUSPENDED: False,
    AuditAction.AGENCY_ENDED: False,
}


def public_agency(agency: Agency) -> PublicAgency:
    return view_of(PublicAgency, agency, started_at=agency.verified_at)


def participating_agencies(
    *, session: Session, state: str | None = None, status: AgencyStatus | None = None
) -> list[Agency]:
    """Every agency that ever took part (verified at least once), by state and name."""
    stmt = (
        select(Agency)
        .where(Agency.verified_at.is_not(None))
        .order_by(Agency.state, Agency.name, Agency.id)
    )
    if state:
        stmt = stmt.where(Agency.state == state.strip().upper())
    if status is not None:
        stmt = stmt.where(Agency.status == status)
    return list(session.scalars(stmt))


def get_participating_agency(*, session: Session, agency_id: uuid.UUID) -> Agency | None:
    """The agency if it ever took part (was verified at least once), else None."""
    try:
        agency = agency_service.get_agency(session=session, agency_id=agency_id)
    except NotFound:
        return None
    return agency if agency.verified_at is not None else None


def agency_states(*, session: Session) -> list[str]:
    return list(
        session.scalars(
            select(Agency.state)
            .where(Agency.verified_at.is_not(None))
            .distinct()
            .order_by(Agency.state)
        )
    )


def agencies_geojson(agencies: list[Agency]) -> dict[str, Any]:
    """A FeatureCollection: each agency's jurisdiction (public record), with a point to
    mark it at any zoom."""
    features = []
    for agency in agencies:
        point: list[float] | None = None
        try:
            where = shape(agency.jurisdiction).representative_point()
            point = [round(where.x, 6), round(where.y, 6)]
        except Exception:
            point = None
        features.append(
            {
                "type": "Feature",
                "id": str(agency.id),
                "geometry": agency.jurisdiction,
                "properties": {
                    **public_agency(agency).model_dump(mode="json"),
                    "point": point,
                    "url": f"/transparency/agencies/{agency.id}",
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


def month_key(value: datetime | date) -> str:
    return f"{value.year:04d}-{value.month:02d}"


def months_between(first: date, last: date) -> list[str]:
    months, year, month = [], first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def participation_periods(
    session: Session, agencies: list[Agency]
) -> dict[uuid.UUID, list[list[Any]]]:
    """Each agency's periods of taking part, from its public status changes in the audit
    log (so past suspensions count); an agency without such records uses its own dates."""
    by_id = {str(a.id): a for a in agencies}
    spans: dict[uuid.UUID, list[list[Any]]] = {}
    rows = session.execute(
        select(AuditRecord.subject_id, AuditRecord.action, AuditRecord.at)
        .where(AuditRecord.subject_type == "agency", AuditRecord.action.in_(_STATUS_ACTIONS))
        .order_by(AuditRecord.seq)
    )
    for subject_id, action, at in rows:
        if subject_id not in by_id:
            continue
        periods = spans.setdefault(by_id[subject_id].id, [])
        starts = _STATUS_ACTIONS[AuditAction(action)]
        if starts and (not periods or periods[-1][1] is not None):
            periods.append([at, None])
        elif not starts and periods and periods[-1][1] is None:
            periods[-1][1] = at
    for agency in agencies:
        if agency.id not in spans and agency.verified_at is not None:
            end = agency.ended_at or (
                agency.suspended_at if agency.status == AgencyStatus.suspended else None
            )
            spans[agency.id] = [[agency.verified_at, end]]
    return spans


def active_per_month(
    *, session: Session, agencies: list[Agency], today: date | None = None
) -> list[MonthCount]:
    """How many of ``agencies`` took part in each month (at any time of that month), from
    the first start to this month."""
    today = today or datetime.now(UTC).date()
    spans = participation_periods(session, agencies)
    starts = [p[0].date() for periods in spans.values() for p in periods]
    if not starts:
        return []
    months = months_between(min(starts), today)
    counts = dict.fromkeys(months, 0)
    for periods in spans.values():
        active: set[str] = set()
        for start, end in periods:
            last = end.date() if end is not None else today
            active.update(m for m in months_between(start.date(), last) if m in counts)
        for m in active:
            counts[m] += 1
    return [MonthCount(month=m, count=counts[m]) for m in months]


# ---------------------------------------------------------------- CSV rows

AGENCY_COLUMNS = [
    "id",
    "name",
    "agency_type",
    "city",
    "state",
    "status",
    "started_at",
    "suspended_at",
    "ended_at",
    "status_reason",
    "website",
]


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    text = str(value)
    # A spreadsheet would run a cell starting like a formula (names and case numbers are
    # typed by agencies): quote it.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def agency_row(item: PublicAgency) -> list[str]:
    data = item.model_dump(mode="json")
    return [csv_cell(data[c]) for c in AGENCY_COLUMNS]


def parse_status(value: str | None) -> AgencyStatus | None:
    """A status filter from a query string: verified (or "active"), suspended, ended."""
    if not value:
        return None
    value = "verified" if value == "active" else value
    for status in PUBLIC_STATUSES:
        if status.value == value:
            return status
    raise InvalidInput("Status is one of active, suspended or ended.", code="invalid_status")
