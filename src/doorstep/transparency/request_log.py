"""The public request log: every footage request that ever became active, with its
agency, case number, incident type, window, dates, owners' answers as totals and its
area as coarse H3 cells, never finer than the public resolution of the policy.

A read model: it reads the footage tables (requests, recipients) and the agencies' names
directly, read-only, for speed: one query per page, recipients reduced to totals in SQL,
which no service offers; nothing of a camera or an owner is ever selected.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import h3
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from doorstep.agencies.models import Agency
from doorstep.db import Database, utcnow
from doorstep.errors import InvalidInput
from doorstep.footage import policy as policy_service
from doorstep.footage.models import (
    Evidence,
    FootageRequest,
    IncidentType,
    Recipient,
    RecipientStatus,
)
from doorstep.transparency.public import csv_cell, months_between
from doorstep.transparency.schemas import MonthCount, PublicRequest
from doorstep.versions import REQUEST_LOG, current
from doorstep.web.kept import VersionedCache, app_cache

SORTS = {
    "activated": FootageRequest.activated_at,
    "agency": Agency.name,
    "case": FootageRequest.case_number,
    "incident": FootageRequest.incident_type,
    "window": FootageRequest.window_start,
    "asked": FootageRequest.asked_count,
}
SORT_KEYS = (*SORTS, "shared", "declined")


@dataclass(frozen=True)
class RequestFilter:
    agency_id: uuid.UUID | None = None
    incident_type: IncidentType | None = None
    activated_from: datetime | None = None
    activated_before: datetime | None = None


def _answers(status: RecipientStatus) -> Any:
    """How many owners asked by the request gave this answer: a correlated count, which
    PostgreSQL evaluates for the rows of the page only (after the sort and the limit,
    by the index on recipients' request), not for every recipient of the log. The status
    is summed, not filtered: a filter lets the planner combine the status index, which
    reads every recipient with that answer, for each row."""
    return (
        select(func.coalesce(func.sum(case((Recipient.status == status, 1), else_=0)), 0))
        .where(Recipient.request_id == FootageRequest.id)
        .correlate(FootageRequest)
        .scalar_subquery()
    )


def _unredacted() -> Any:
    """The request's clips whose owner chose to send them unredacted and that went out
    (their copy was made: ``redaction`` is recorded, whatever happened to it since)."""
    chosen = Evidence.redaction_request["unredacted"].as_boolean()
    return (
        select(func.count())
        .where(
            Evidence.request_id == FootageRequest.id,
            Evidence.redaction.is_not(None),
            chosen.is_(True),
        )
        .correlate(FootageRequest)
        .scalar_subquery()
    )


def _log_statement(filters: RequestFilter) -> tuple[Any, dict[str, Any]]:
    """The log's rows, and its answer counts by name (sort keys too)."""
    counts = {
        "shared": _answers(RecipientStatus.shared),
        "declined": _answers(RecipientStatus.declined),
    }
    stmt = (
        select(
            FootageRequest.id,
            FootageRequest.agency_id,
            Agency.name,
            FootageRequest.case_number,
            FootageRequest.incident_type,
            FootageRequest.window_start,
            FootageRequest.window_end,
            FootageRequest.submitted_at,
            FootageRequest.activated_at,
            FootageRequest.closed_at,
            FootageRequest.status,
            FootageRequest.close_reason,
            FootageRequest.asked_count,
            counts["shared"],
            counts["declined"],
            _unredacted(),
            FootageRequest.public_cells,
        )
        .join(Agency, Agency.id == FootageRequest.agency_id)
        .where(FootageRequest.activated_at.is_not(None))
    )
    if filters.agency_id is not None:
        stmt = stmt.where(FootageRequest.agency_id == filters.agency_id)
    if filters.incident_type is not None:
        stmt = stmt.where(FootageRequest.incident_type == filters.incident_type)
    if filters.activated_from is not None:
        stmt = stmt.where(FootageRequest.activated_at >= filters.activated_from)
    if filters.activated_before is not None:
        stmt = stmt.where(FootageRequest.activated_at < filters.activated_before)
    return stmt, counts


class PublicResolution:
    """The public H3 resolution per agency: the coarser of the instance's and the agency's
    policy. Every policy is read in one query, not two per agency on the page."""

    def __init__(self, session: Session) -> None:
        instance, agencies = policy_service.effective_policies(session=session)
        self.instance = instance.public_h3_resolution
        self.agencies = {
            agency_id: min(self.instance, policy.public_h3_resolution)
            for agency_id, policy in agencies.items()
        }

    def of(self, agency_id: uuid.UUID) -> int:
        return self.agencies.get(agency_id, self.instance)


def coarse_cells(cells: list[str], resolution: int) -> list[str]:
    """Cells no finer than ``resolution``: finer ones are replaced by their parent."""
    return list(_coarse_cells(tuple(cells), resolution))


# A request's cells and the public resolution change rarely, and the log shows the same
# requests page after page: both conversions are pure, so they are kept, by value.
_KEPT_AREAS = 4096


@functools.lru_cache(maxsize=_KEPT_AREAS)
def _coarse_cells(cells: tuple[str, ...], resolution: int) -> tuple[str, ...]:
    out = set()
    for cell in cells:
        if not h3.is_valid_cell(cell):
            continue
        if h3.get_resolution(cell) > resolution:
            cell = h3.cell_to_parent(cell, resolution)
        out.add(cell)
    return tuple(sorted(out))


@functools.lru_cache(maxsize=_KEPT_AREAS)
def _outline(cells: tuple[str, ...]) -> tuple[str, Any]:
    geometry = h3.cells_to_geo(list(cells))
    return geometry["type"], geometry["coordinates"]


def cells_outline(cells: list[str]) -> dict[str, Any] | None:
    """The union of cells as a GeoJSON (Multi)Polygon, or None without cells."""
    if not cells:
        return None
    kind, coords = _outline(tuple(cells))
    # Lists made anew for each caller: the kept outline is never shared mutable. Copied
    # by the shape of its kind (rings of points), not by testing every number's type.
    if kind == "Polygon":
        fresh: Any = [[list(point) for point in ring] for ring in coords]
    elif kind == "MultiPolygon":
        fresh = [[[list(point) for point in ring] for ring in polygon] for polygon in coords]
    else:
        fresh = _listed(coords)
    return {"type": kind, "coordinates": fresh}


def _listed(value: Any) -> Any:
    return [_listed(v) for v in value] if isinstance(value, tuple | list) else value


def _public_request(row: Any, resolution: PublicResolution) -> PublicRequest:
    (rid, agency_id, agency_name, case_number, incident, w_start, w_end, submitted,
     activated, closed, status, close_reason, asked, shared, declined, unredacted,
     cells) = row  # fmt: skip
    res = resolution.of(agency_id)
    shared, declined = int(shared), int(declined)
    return PublicRequest(
        id=rid,
        agency_id=agency_id,
        agency_name=agency_name,
        case_number=case_number,
        incident_type=incident,
        window_start=w_start,
        window_end=w_end,
        submitted_at=submitted,
        activated_at=activated,
        closed_at=closed,
        status=status,
        close_reason=close_reason,
        asked=asked,
        shared=shared,
        declined=declined,
        no_answer=max(asked - shared - declined, 0),
        unredacted_clips=int(unredacted),
        cells=coarse_cells(list(cells or []), res),
        cell_resolution=res,
    )


def log_page(
    *,
    session: Session,
    filters: RequestFilter | None = None,
    sort: str = "activated",
    descending: bool = True,
    offset: int = 0,
    limit: int = 50,
) -> tuple[int, list[PublicRequest]]:
    """Every request that ever became active, with totals only, sorted; (total, page).

    ``sort`` is one of SORT_KEYS (anything else is refused). Asked is the number of
    owners notified when the request went out; shared and declined are their answers.
    """
    if sort not in SORT_KEYS:
        raise InvalidInput(f"Sort by one of: {', '.join(SORT_KEYS)}.", code="invalid_sort")
    filters = filters or RequestFilter()
    stmt, counts = _log_statement(filters)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    column: Any = counts.get(sort)
    if column is None:
        column = SORTS[sort]
        column = func.coalesce(column, "") if sort == "case" else column
    ordered = column.desc() if descending else column.asc()
    tiebreak = FootageRequest.activated_at.desc() if descending else FootageRequest.activated_at
    stmt = stmt.order_by(ordered, tiebreak, FootageRequest.id).offset(offset).limit(limit)
    resolution = PublicResolution(session)
    return total, [_public_request(row, resolution) for row in session.execute(stmt)]


# The log's pages and API answers kept per process (``web.kept``): each is a few tens of
# kilobytes; at these bounds a process keeps every page a crawler reads in a row.
KEPT_ENTRIES = 512
KEPT_BYTES = 48 * 1024 * 1024


def kept_log(app: Any) -> VersionedCache:
    """The app's kept answers of the log (pages and API), keyed by representation and query."""
    return app_cache(app, REQUEST_LOG, max_entries=KEPT_ENTRIES, max_bytes=KEPT_BYTES)


def log_version(session: Session) -> int:
    """The log's data version: raised by every commit that changes what the log shows
    (``versions``: requests, answers, evidence, agencies, policies)."""
    return current(session, REQUEST_LOG)


def request_log_batch(
    *,
    session: Session,
    filters: RequestFilter | None = None,
    after: tuple[datetime, uuid.UUID] | None = None,
    limit: int = 1000,
) -> list[PublicRequest]:
    """The next ``limit`` requests of the log in activation order, after the (activated_at,
    id) key ``after``: a download reads the log batch by batch, each in a short
    transaction."""
    stmt, _counts = _log_statement(filters or RequestFilter())
    if after is not None:
        at, last_id = after
        stmt = stmt.where(
            or_(
                FootageRequest.activated_at > at,
                and_(FootageRequest.activated_at == at, FootageRequest.id > last_id),
            )
        )
    stmt = stmt.order_by(FootageRequest.activated_at, FootageRequest.id).limit(limit)
    resolution = PublicResolution(session)
    return [_public_request(row, resolution) for row in session.execute(stmt)]


def iter_request_log(
    *, session: Session, filters: RequestFilter | None = None, batch: int = 1000
) -> Iterator[PublicRequest]:
    """The whole log, oldest activation first, in one session (reports, agency pages)."""
    after: tuple[datetime, uuid.UUID] | None = None
    while True:
        rows = request_log_batch(session=session, filters=filters, after=after, limit=batch)
        yield from rows
        if len(rows) < batch:
            return
        after = (rows[-1].activated_at, rows[-1].id)


def stream_request_log(
    db: Database, filters: RequestFilter | None = None, batch: int = 1000
) -> Iterator[PublicRequest]:
    """The whole log for a download: one short transaction per batch, none held while
    the client reads (on SQLite a transaction holds the write lock)."""
    after: tuple[datetime, uuid.UUID] | None = None
    while True:
        with db.transaction() as session:
            rows = request_log_batch(session=session, filters=filters, after=after, limit=batch)
        yield from rows
        if len(rows) < batch:
            return
        after = (rows[-1].activated_at, rows[-1].id)


def requests_per_month(*, session: Session, until: datetime | None = None) -> list[MonthCount]:
    """Requests that went out, per month of activation, empty months included: counted in
    SQL, one row a month, however long the log."""
    if session.get_bind().dialect.name == "postgresql":
        month: Any = func.to_char(FootageRequest.activated_at, "YYYY-MM")
    else:
        month = func.strftime("%Y-%m", FootageRequest.activated_at)
    rows = session.execute(
        select(month, func.count())
        .where(FootageRequest.activated_at.is_not(None))
        .group_by(month)
        .order_by(month)
    ).all()
    if not rows:
        return []
    counts = {str(m): int(n) for m, n in rows}
    first = datetime.strptime(rows[0][0], "%Y-%m").date()
    last = (until or utcnow()).date()
    return [MonthCount(month=m, count=counts.get(m, 0)) for m in months_between(first, last)]


def request_feature(item: PublicRequest) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": str(item.id),
        "geometry": cells_outline(item.cells),
        "properties": item.model_dump(mode="json"),
    }


REQUEST_COLUMNS = [
    "id",
    "agency_id",
    "agency_name",
    "case_number",
    "incident_type",
    "window_start",
    "window_end",
    "submitted_at",
    "activated_at",
    "closed_at",
    "status",
    "close_reason",
    "asked",
    "shared",
    "declined",
    "no_answer",
    "cell_resolution",
    "cells",
]


def request_row(item: PublicRequest) -> list[str]:
    data = item.model_dump(mode="json")
    return [csv_cell(data[c]) for c in REQUEST_COLUMNS]
