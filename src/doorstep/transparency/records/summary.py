"""The one-line analysis the agency pages and the annual report show: of the agencies
that ever took part, how many appear in a dataset's incidents of the last years, and
what share of those incidents (distinct incidents, matched or not) they account for."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from doorstep import audit
from doorstep.db import utcnow
from doorstep.errors import InvalidInput
from doorstep.transparency import public
from doorstep.transparency.models import AccountabilityAnalysis, AccountabilityRecord
from doorstep.transparency.records.analysis import incident_agencies
from doorstep.transparency.records.matching import rematch
from doorstep.transparency.records.names import check_kind
from doorstep.transparency.records.releases import record_public


def latest_analyses(*, session: Session) -> dict[str, AccountabilityAnalysis]:
    """The newest analysis of each dataset kind, by kind."""
    latest: dict[str, AccountabilityAnalysis] = {}
    for row in session.scalars(
        select(AccountabilityAnalysis).order_by(AccountabilityAnalysis.computed_at.desc())
    ):
        latest.setdefault(row.kind, row)
    return latest


def dataset_kinds(*, session: Session) -> list[str]:
    """Every dataset kind imported, sorted."""
    return sorted(set(session.scalars(select(AccountabilityRecord.kind).distinct())))


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def analyze(
    *, session: Session, kind: str, since_years: int, today: date | None = None
) -> AccountabilityAnalysis:
    """For the agencies that ever took part: how many have at least one incident since
    ``since_years`` ago, and what share of all the dataset's incidents in that period
    (matched or not) they account for; an incident naming two of them counts once in
    the participating total. Stored; the agency pages show the latest."""
    kind = check_kind(kind)
    if since_years < 1:
        raise InvalidInput("--since is a number of years, at least 1.", code="invalid_since")
    today = today or utcnow().date()
    start = years_before(today, since_years)
    rematch(session=session, kind=kind)
    participating = {a.id for a in public.participating_agencies(session=session)}
    per_agency = {str(a): 0 for a in participating}
    days, matched, _named, _unmatched = incident_agencies(session=session, kind=kind)
    total = with_partner = 0
    for record_id, day in days.items():
        if day is None or not start <= day <= today:
            continue
        total += 1
        ours = matched.get(record_id, set()) & participating
        with_partner += bool(ours)
        for agency_id in ours:
            per_agency[str(agency_id)] += 1
    analysis = AccountabilityAnalysis(
        id=uuid.uuid4(),
        kind=kind,
        since_years=since_years,
        period_start=start,
        period_end=today,
        participating_agencies=len(participating),
        agencies_with_incidents=sum(1 for n in per_agency.values() if n > 0),
        incidents_total=total,
        incidents_participating=with_partner,
        per_agency=per_agency,
    )
    session.add(analysis)
    record_public(session, audit.AuditAction.ACCOUNTABILITY_ANALYZED, analysis, {
        "kind": kind, "since_years": since_years,
        "participating_agencies": analysis.participating_agencies,
        "agencies_with_incidents": analysis.agencies_with_incidents,
        "incidents_total": total, "incidents_participating": with_partner,
    })  # fmt: skip
    session.flush()
    return analysis
