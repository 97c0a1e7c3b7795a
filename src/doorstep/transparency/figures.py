"""The figures of one agency's public page: requests, answers, evidence use, official
posts, policy, the cameras in its jurisdiction (a count) and accountability figures.

A read model: it counts other domains' rows directly, read-only, because these are
per-agency totals over whole tables that no service offers: the cameras table (cameras
accepting requests whose coarse cell lies in the jurisdiction, never a position or an
owner), the footage tables (evidence shared with the agency, its views and exports) and
the public audit log (official posts). Nothing but totals leaves this module.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import h3
from shapely.geometry import mapping
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from doorstep import geo
from doorstep.agencies import identity
from doorstep.agencies.models import Agency
from doorstep.audit import AuditAction, AuditRecord
from doorstep.cameras.models import Camera
from doorstep.db import utcnow
from doorstep.errors import DoorstepError
from doorstep.footage import policy as policy_service
from doorstep.footage.models import Evidence, EvidenceAccess, FootageRequest
from doorstep.transparency import public, records, request_log
from doorstep.transparency.request_log import RequestFilter
from doorstep.transparency.schemas import (
    AccountabilityFigure,
    AgencyDatasetFigure,
    AgencyFigures,
    AgencyIdentifierRead,
    MonthCount,
    PublicRequest,
)
from doorstep.transparency.statements import statement_view
from doorstep.views import view_of

_IN_CHUNK = 2000


def jurisdiction_cells(jurisdiction: dict[str, Any]) -> set[int]:
    """The coarse cells (the resolution cameras are shown at) whose centre lies in the
    jurisdiction; a jurisdiction smaller than a cell gets the cell of its centre."""
    area = geo.parse_area(jurisdiction)
    shape = h3.geo_to_h3shape(mapping(area))
    cells = {h3.str_to_int(c) for c in h3.h3shape_to_cells(shape, geo.COARSE_RESOLUTION)}
    if not cells:
        point = area.representative_point()
        cells = {geo.cell_of(point.y, point.x, geo.COARSE_RESOLUTION)}
    return {int(c) for c in cells}


def participating_cameras(*, session: Session, agency: Agency) -> int:
    """How many cameras accepting requests have their coarse cell in the jurisdiction.
    A count only: no cell, position or owner is read."""
    try:
        cells = sorted(jurisdiction_cells(agency.jurisdiction))
    except DoorstepError:
        return 0
    total = 0
    for i in range(0, len(cells), _IN_CHUNK):
        chunk = cells[i : i + _IN_CHUNK]
        total += (
            session.scalar(
                select(func.count())
                .select_from(Camera)
                .where(Camera.accepts_requests.is_(True), Camera.coarse_cell.in_(chunk))
            )
            or 0
        )
    return total


def official_posts(*, session: Session, agency_id: uuid.UUID) -> int:
    """Official posts the agency published, counted from the public audit log (the feed
    records each one there with the agency's id)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(AuditRecord)
            .where(
                AuditRecord.action == AuditAction.FEED_OFFICIAL_POST,
                AuditRecord.details["agency_id"].as_string() == str(agency_id),
            )
        )
        or 0
    )


def evidence_use(*, session: Session, agency_id: uuid.UUID) -> tuple[int, int, int]:
    """(clips shared with the agency, clip views, clip exports)."""
    shared = (
        session.scalar(
            select(func.count())
            .select_from(Evidence)
            .join(FootageRequest, FootageRequest.id == Evidence.request_id)
            .where(FootageRequest.agency_id == agency_id)
        )
        or 0
    )
    accesses = dict(
        session.execute(
            select(EvidenceAccess.action, func.count())
            .where(EvidenceAccess.agency_id == agency_id)
            .group_by(EvidenceAccess.action)
        ).all()
    )
    return shared, int(accesses.get("viewed", 0)), int(accesses.get("exported", 0))


def monthly_counts(
    requests: list[PublicRequest], *, until: datetime | None = None
) -> list[MonthCount]:
    """Requests activated per month, from the first to ``until`` (now), empty months included."""
    if not requests:
        return []
    first = min(r.activated_at for r in requests).date()
    last = (until or utcnow()).date()
    counts = dict.fromkeys(public.months_between(first, last), 0)
    for r in requests:
        key = public.month_key(r.activated_at)
        if key in counts:
            counts[key] += 1
    return [MonthCount(month=m, count=n) for m, n in counts.items()]


# What changes the incidents an agency is matched to: an analysis stored before the
# newest of these says what is no longer so, and is not shown.
_MATCHING_CHANGES = (
    AuditAction.AGENCY_IDENTIFIER_ADDED,
    AuditAction.AGENCY_IDENTIFIER_REMOVED,
    AuditAction.ACCOUNTABILITY_IMPORTED,
    AuditAction.ACCOUNTABILITY_RELEASE_WITHDRAWN,
)


def last_matching_change(*, session: Session) -> datetime | None:
    """When a release or an agency identifier last changed (the public audit log)."""
    return session.scalar(
        select(func.max(AuditRecord.at)).where(AuditRecord.action.in_(_MATCHING_CHANGES))
    )


def accountability_figures(*, session: Session, agency_id: uuid.UUID) -> list[AccountabilityFigure]:
    """The latest analysis of each dataset kind, as it applies to this agency; none that
    a later release, withdrawal or identifier made out of date."""
    latest = records.latest_analyses(session=session)
    changed = last_matching_change(session=session)
    figures = []
    for kind in sorted(latest):
        row = latest[kind]
        if str(agency_id) not in row.per_agency or (changed and row.computed_at < changed):
            continue
        incidents = int(row.per_agency[str(agency_id)])
        figures.append(
            view_of(
                AccountabilityFigure,
                row,
                incidents=incidents,
                share_of_dataset=incidents / row.incidents_total if row.incidents_total else None,
            )
        )
    return figures


def dataset_figures(*, session: Session, agency: Agency) -> list[AgencyDatasetFigure]:
    """The agency's row of every dataset's table, computed from the stored incidents."""
    return [
        AgencyDatasetFigure.model_validate(
            {**asdict(row.figures), "kind": row.kind, "total": row.figures.total}
        )
        for row in records.partner.agency_dataset_rows(session=session, agency=agency)
    ]


def agency_requests(*, session: Session, agency_id: uuid.UUID) -> list[PublicRequest]:
    return list(
        request_log.iter_request_log(session=session, filters=RequestFilter(agency_id=agency_id))
    )


def agency_figures(
    *, session: Session, agency: Agency, requests: list[PublicRequest] | None = None
) -> AgencyFigures:
    """Everything the agency's public page shows, as one public model."""
    if requests is None:
        requests = agency_requests(session=session, agency_id=agency.id)
    now = datetime.now(UTC)
    asked = sum(r.asked for r in requests)
    shared = sum(r.shared for r in requests)
    clips_shared, views, exports = evidence_use(session=session, agency_id=agency.id)
    policy = policy_service.effective_policy(session=session, agency_id=agency.id)
    return AgencyFigures(
        agency=public.public_agency(agency),
        requests_total=len(requests),
        requests_last_30_days=sum(
            1 for r in requests if r.activated_at >= now - timedelta(days=30)
        ),
        asked=asked,
        shared=shared,
        declined=sum(r.declined for r in requests),
        share_rate=shared / asked if asked else None,
        clips_shared=clips_shared,
        evidence_views=views,
        evidence_exports=exports,
        official_posts=official_posts(session=session, agency_id=agency.id),
        monthly_requests=monthly_counts(requests, until=now),
        policy_overrides=policy_service.overrides(session=session, agency_id=agency.id),
        evidence_retention_days=policy.evidence_retention_days,
        participating_cameras=participating_cameras(session=session, agency=agency),
        statement=statement_view(session=session, agency_id=agency.id),
        accountability=accountability_figures(session=session, agency_id=agency.id),
        identifiers=[
            AgencyIdentifierRead(id=i.id, scheme=i.scheme.value, value=i.value)
            for i in identity.identifiers_of(session=session, agency_id=agency.id)
        ],
        datasets=dataset_figures(session=session, agency=agency),
    )
