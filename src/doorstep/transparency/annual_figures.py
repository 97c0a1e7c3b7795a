"""The figures of one year for the annual transparency report, read once.

The counts are those an oversight body asks for (participation, requests and their
answers, evidence use, refusals, policy changes, the audit chain), all computed from
the same public views the portal shows; :func:`gather_year` collects them into a
:class:`YearFigures` that the report's files are written from.

A read model: besides the portal's own views it counts the footage domain's evidence,
evidence accesses and refused requests of the year in bulk (read-only, totals only),
queries the footage service does not offer.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from doorstep.agencies import service as agency_service
from doorstep.agencies.models import Agency
from doorstep.audit import GENESIS_HASH, AuditAction, AuditRecord, ChainCheck, verify_chain
from doorstep.db import utcnow
from doorstep.footage.models import (
    Evidence,
    EvidenceAccess,
    FootageRequest,
    PolicyVersion,
    RequestStatus,
)
from doorstep.transparency import public, records, request_log
from doorstep.transparency.models import (
    AccountabilityAnalysis,
    AuditDailyHead,
)
from doorstep.transparency.request_log import RequestFilter
from doorstep.transparency.schemas import MonthCount, PublicRequest


def percent(part: int, whole: int) -> str:
    """``part`` of ``whole`` as a percentage with one decimal, "n/a" when whole is 0."""
    return f"{part / whole:.1%}" if whole else "n/a"


@dataclass(frozen=True)
class AgencyYear:
    agency_id: str
    name: str
    state: str
    status: str
    requests: int
    asked: int
    shared: int
    declined: int
    clips_viewed: int
    clips_exported: int

    @property
    def share_rate(self) -> str:
        return percent(self.shared, self.asked)

    def cells(self) -> list[str]:
        """The agency's row of the report (the CSV adds its id in front)."""
        counts = (self.requests, self.asked, self.shared, self.declined)
        return [
            self.name,
            self.state,
            self.status,
            *(str(n) for n in counts),
            self.share_rate,
            str(self.clips_viewed),
            str(self.clips_exported),
        ]


@dataclass(frozen=True)
class PolicyChange:
    changed_at: datetime
    level: str  # "instance" or the agency's name
    changed: dict[str, Any]
    reason: str


@dataclass(frozen=True)
class ChainHeadAt:
    seq: int
    hash: str
    source: str  # where the head comes from: published daily head, computed now, empty log


@dataclass(frozen=True)
class YearFigures:
    """Every figure of one year's report, read once; the files are written from it."""

    year: int
    end: datetime
    now: datetime
    requests: list[PublicRequest]
    agencies: list[AgencyYear]
    agencies_taking_part: int
    agencies_joined: int
    agencies_ended: int
    months: list[MonthCount]
    incident_types: list[tuple[str, int]]
    actions: dict[str, int]
    evidence: dict[str, int]
    refused: int
    policy_changes: list[PolicyChange]
    head: ChainHeadAt
    chain: ChainCheck
    analyses: list[AccountabilityAnalysis]
    # Every dataset's per-partner figures (incidents before, during, after).
    datasets: list[records.DatasetFigures]

    @property
    def asked(self) -> int:
        return sum(r.asked for r in self.requests)

    @property
    def shared(self) -> int:
        return sum(r.shared for r in self.requests)

    @property
    def declined(self) -> int:
        return sum(r.declined for r in self.requests)

    @property
    def share_rate(self) -> str:
        return percent(self.shared, self.asked)

    @property
    def in_progress(self) -> bool:
        return self.end > self.now

    @property
    def suspensions(self) -> int:
        return self.actions.get(AuditAction.AGENCY_SUSPENDED, 0)

    @property
    def evidence_retention_deleted(self) -> int:
        return self.actions.get(AuditAction.EVIDENCE_RETENTION_DELETED, 0)

    def incident_type_rows(self) -> list[list[str]]:
        return [[kind, str(n)] for kind, n in self.incident_types]

    def agency_rows(self) -> list[list[str]]:
        return [a.cells() for a in self.agencies]

    def action_rows(self) -> list[list[str]]:
        return [[action, str(n)] for action, n in self.actions.items()]

    def policy_change_rows(self) -> list[list[str]]:
        return [[f"{c.changed_at:%Y-%m-%d}", c.level, c.reason] for c in self.policy_changes]

    def partner_rows(self, dataset: records.DatasetFigures) -> list[list[str]]:
        """Per partner: its partnership, its incidents before, during and after it, and
        those of the report's year."""
        rows = []
        for p in dataset.partners:
            this_year = sum(p.per_year.get(self.year, {}).values())
            until = p.partner_until.isoformat() if p.partner_until else "now"
            rows.append([f"{p.name} ({p.state})", f"{p.partner_from} to {until}",
                         str(p.before), str(p.during), str(p.after), str(p.total),
                         str(this_year)])  # fmt: skip
        return rows


def _year_bounds(year: int) -> tuple[datetime, datetime]:
    return datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)


def _audit_actions(session: Session, start: datetime, end: datetime) -> dict[str, int]:
    rows = session.execute(
        select(AuditRecord.action, func.count())
        .where(AuditRecord.is_public.is_(True), AuditRecord.at >= start, AuditRecord.at < end)
        .group_by(AuditRecord.action)
        .order_by(AuditRecord.action)
    )
    return {action: int(n) for action, n in rows}


def _year_end_head(session: Session, year: int, end: datetime) -> ChainHeadAt:
    """The chain's head at the end of the year, and where it comes from."""
    published = session.get(AuditDailyHead, date(year, 12, 31))
    if published is not None:
        return ChainHeadAt(published.seq, published.head_hash, "published daily head")
    row = session.execute(
        select(AuditRecord.seq, AuditRecord.hash)
        .where(AuditRecord.at < end)
        .order_by(AuditRecord.seq.desc())
        .limit(1)
    ).first()
    return (
        ChainHeadAt(row[0], row[1], "computed now")
        if row
        else ChainHeadAt(0, GENESIS_HASH, "empty log")
    )


def _evidence_counts(session: Session, start: datetime, end: datetime) -> dict[str, int]:
    shared = session.scalar(
        select(func.count())
        .select_from(Evidence)
        .where(Evidence.shared_at >= start, Evidence.shared_at < end)
    )
    counts = {"clips shared with agencies": int(shared or 0)}
    for action, n in session.execute(
        select(EvidenceAccess.action, func.count())
        .where(EvidenceAccess.at >= start, EvidenceAccess.at < end)
        .group_by(EvidenceAccess.action)
    ):
        counts[f"clips {action}"] = int(n)
    return counts


def _accesses_by_agency(
    session: Session, start: datetime, end: datetime
) -> dict[tuple[str, str], int]:
    rows = session.execute(
        select(EvidenceAccess.agency_id, EvidenceAccess.action, func.count())
        .where(EvidenceAccess.at >= start, EvidenceAccess.at < end)
        .group_by(EvidenceAccess.agency_id, EvidenceAccess.action)
    )
    return {(str(a), action): int(n) for a, action, n in rows}


def _refused_requests(session: Session, start: datetime, end: datetime) -> int:
    refused = session.scalar(
        select(func.count())
        .select_from(FootageRequest)
        .where(
            FootageRequest.status == RequestStatus.rejected,
            FootageRequest.reviewed_at >= start,
            FootageRequest.reviewed_at < end,
        )
    )
    return int(refused or 0)


def _policy_changes(session: Session, start: datetime, end: datetime) -> list[PolicyChange]:
    names = {a.id: a.name for a in agency_service.list_agencies(session=session)}
    versions = session.scalars(
        select(PolicyVersion)
        .where(PolicyVersion.changed_at >= start, PolicyVersion.changed_at < end)
        .order_by(PolicyVersion.changed_at)
    )
    return [
        PolicyChange(
            changed_at=v.changed_at,
            level=names.get(v.agency_id, "instance") if v.agency_id else "instance",
            changed=v.changed,
            reason=v.reason,
        )
        for v in versions
    ]


def _taking_part(
    session: Session, agencies: list[Agency], start: datetime, end: datetime
) -> set[uuid.UUID]:
    """The agencies with a period of taking part that overlaps the year."""
    periods = public.participation_periods(session, agencies)
    return {
        agency_id
        for agency_id, spans in periods.items()
        if any(s < end and (e is None or e >= start) for s, e in spans)
    }


def _agency_years(
    session: Session,
    agencies: list[Agency],
    requests: list[PublicRequest],
    taking_part: set[uuid.UUID],
    bounds: tuple[datetime, datetime],
) -> list[AgencyYear]:
    """Each agency that took part in the year or sent a request in it, with its totals."""
    accesses = _accesses_by_agency(session, *bounds)
    years: list[AgencyYear] = []
    for agency in agencies:
        mine = [r for r in requests if r.agency_id == agency.id]
        if agency.id not in taking_part and not mine:
            continue
        years.append(
            AgencyYear(
                agency_id=str(agency.id),
                name=agency.name,
                state=agency.state,
                status=agency.status.value,
                requests=len(mine),
                asked=sum(r.asked for r in mine),
                shared=sum(r.shared for r in mine),
                declined=sum(r.declined for r in mine),
                clips_viewed=accesses.get((str(agency.id), "viewed"), 0),
                clips_exported=accesses.get((str(agency.id), "exported"), 0),
            )
        )
    return years


def gather_year(*, session: Session, year: int) -> YearFigures:
    """Every figure of ``year``'s report, from the portal's public data; reads only."""
    now = utcnow()
    start, end = _year_bounds(year)
    requests = list(
        request_log.iter_request_log(
            session=session,
            filters=RequestFilter(activated_from=start, activated_before=end),
        )
    )
    agencies = public.participating_agencies(session=session)
    # Months up to the year's end, or up to now for the year in progress.
    last_day = min(end.date() - timedelta(days=1), now.date())
    monthly = public.active_per_month(session=session, agencies=agencies, today=last_day)
    taking_part = _taking_part(session, agencies, start, end)
    analyses = records.latest_analyses(session=session)
    return YearFigures(
        year=year,
        end=end,
        now=now,
        requests=requests,
        agencies=_agency_years(session, agencies, requests, taking_part, (start, end)),
        agencies_taking_part=len(taking_part),
        agencies_joined=sum(1 for a in agencies if a.verified_at and start <= a.verified_at < end),
        agencies_ended=sum(1 for a in agencies if a.ended_at and start <= a.ended_at < end),
        months=[m for m in monthly if m.month.startswith(f"{year:04d}-")],
        incident_types=sorted(Counter(r.incident_type.value for r in requests).items()),
        actions=_audit_actions(session, start, end),
        evidence=_evidence_counts(session, start, end),
        refused=_refused_requests(session, start, end),
        policy_changes=_policy_changes(session, start, end),
        head=_year_end_head(session, year, end),
        chain=verify_chain(session=session),
        analyses=[analyses[kind] for kind in sorted(analyses)],
        datasets=[
            records.dataset_figures(session=session, kind=kind)
            for kind in records.dataset_kinds(session=session)
        ],
    )
